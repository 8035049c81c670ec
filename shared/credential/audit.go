package credential

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// Audit returns one page of the audit trail of (tenant, appID), newest
// first. The trail outlives the app.
// Errors: Invalid, Transient, Internal.
func (s *Service) Audit(ctx context.Context, tenant, appID string, p Page) (EventPage, error) {
	const op = "credential.Audit"
	if err := checkRef(op, tenant, appID); err != nil {
		return EventPage{}, err
	}
	before, err := decodeCursor(op, p.Cursor)
	if err != nil {
		return EventPage{}, err
	}
	limit := pageLimit(p.Limit)
	evs, err := s.meta.Events(ctx, tenant, appID, before, limit+1)
	if err != nil {
		return EventPage{}, wrap(op, err, "list audit events")
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
