package credential

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"mobilepush/shared/push"
)

// AppendAudit records an event the caller produced (e.g. a validation or a
// test push). ID is assigned; a zero At means now.
// Errors: Invalid, Transient, Internal.
func (s *Service) AppendAudit(ctx context.Context, e Event) (Event, error) {
	const op = "credential.AppendAudit"
	if err := checkRef(op, e.Tenant, e.AppID); err != nil {
		return Event{}, err
	}
	if e.Action == "" {
		return Event{}, push.E(op, push.Invalid, errors.New("event needs an action"))
	}
	t := s.stamp()
	if e.At.IsZero() {
		e.At = t
	}
	e.ID = eventID(t)
	if err := s.meta.AppendEvent(ctx, e); err != nil {
		return Event{}, wrap(op, err, "append audit event")
	}
	return e, nil
}

// AuditQuery selects events of an app's trail: one page of those whose
// action is one of Actions (all when empty) and whose platform is
// Platform (all when ""; an app-level event has none and is then left
// out).
type AuditQuery struct {
	Page
	Actions  []Action
	Platform push.Platform
}

func (q *AuditQuery) matches(e *Event) bool {
	return (len(q.Actions) == 0 || slices.Contains(q.Actions, e.Action)) && (q.Platform == "" || e.Platform == q.Platform)
}

// Audit returns one page of the audit trail of (tenant, appID), newest
// first. The trail outlives the app.
// Errors: Invalid, Transient, Internal.
func (s *Service) Audit(ctx context.Context, tenant, appID string, p Page) (EventPage, error) {
	return s.FindAudit(ctx, tenant, appID, AuditQuery{Page: p})
}

// FindAudit returns one page of the events of (tenant, appID) that match
// q, newest first. The cursor is the last event returned, so paging stays
// exact under a filter.
// Errors: Invalid (a bad cursor or platform), Transient, Internal.
func (s *Service) FindAudit(ctx context.Context, tenant, appID string, q AuditQuery) (EventPage, error) {
	const op = "credential.Audit"
	if err := checkRef(op, tenant, appID); err != nil {
		return EventPage{}, err
	}
	if q.Platform != "" && !q.Platform.Valid() {
		return EventPage{}, push.Errorf(op, push.Invalid, "platform: want apns or fcm")
	}
	before, err := decodeCursor(op, q.Cursor)
	if err != nil {
		return EventPage{}, err
	}
	limit := pageLimit(q.Limit)
	chunk := limit + 1
	if len(q.Actions) > 0 || q.Platform != "" {
		chunk = MaxPageLimit // a filter may skip many: read more at a time
	}
	// One more than asked tells whether another page follows.
	var evs []Event
	for len(evs) <= limit {
		got, err := s.meta.Events(ctx, tenant, appID, before, chunk)
		if err != nil {
			return EventPage{}, wrap(op, err, "list audit events")
		}
		for i := range got {
			if q.matches(&got[i]) && len(evs) <= limit {
				evs = append(evs, got[i])
			}
		}
		if len(got) < chunk {
			break
		}
		before = got[len(got)-1].ID
	}
	page := EventPage{Events: evs}
	if len(evs) > limit {
		page.Events = evs[:limit]
		page.Next = encodeCursor(evs[limit-1].ID)
	}
	return page, nil
}

// eventID makes a sortable event id from t: fixed-width nanoseconds and a
// random suffix.
func eventID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%020d-%s", t.UnixNano(), hex.EncodeToString(b[:]))
}

// event makes the audit event of a change of a (already at its new
// version); old and new are the platform metadata before and after.
func (s *Service) event(a *App, action Action, p push.Platform, actor string, old, new *Meta) Event {
	t := s.stamp()
	e := Event{
		ID: eventID(t), Tenant: a.Tenant, AppID: a.ID, At: t, Actor: actor,
		Action: action, Platform: p, Version: a.Version, Result: "ok",
	}
	if old != nil {
		e.OldFingerprint, e.OldNotAfter = old.Facts.FingerprintSHA256, old.Facts.NotAfter
	}
	if new != nil {
		e.NewFingerprint, e.NewNotAfter = new.Facts.FingerprintSHA256, new.Facts.NotAfter
	}
	return e
}
