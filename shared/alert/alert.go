// Package alert is the vocabulary of the operational events mobilepush
// emits for operators (docs/ARCHITECTURE.md, Events): their source and detail-types, the
// detail every event carries, and the Publisher port that delivers them
// (EventBridge in AWS, the log and a webhook locally).
//
// It imports only the standard library and mobilepush/shared/push, so the
// domain packages that raise alerts (expiry, registry, dispatch) can use
// it without depending on any transport.
package alert

import (
	"context"
	"log/slog"
	"time"

	"mobilepush/shared/push"
)

// Source is the EventBridge source of every mobilepush event.
const Source = "mobilepush"

// Type is an event's detail-type.
type Type string

// The detail-types of the events. The alert rule of template.yaml routes the
// credential events (CredentialTypes) to the SNS alert topic.
const (
	CredentialExpiring Type = "Push Credential Expiring"
	CredentialExpired  Type = "Push Credential Expired"
	CredentialInvalid  Type = "Push Credential Invalid"
	CredentialRotated  Type = "Push Credential Rotated"
	TokensInvalid      Type = "Device Tokens Invalid"
)

// CredentialTypes lists the detail-types about a credential, the ones
// operators are alerted to.
func CredentialTypes() []Type {
	return []Type{CredentialExpiring, CredentialExpired, CredentialInvalid, CredentialRotated}
}

// Detail is the detail of an event: which credential of which app, its
// expiry, why the event was raised and what the operator should do.
// Fields that do not apply are omitted; DaysLeft is a pointer because 0
// days left is a fact.
type Detail struct {
	Tenant         string        `json:"tenant"`
	AppID          string        `json:"app_id"`
	AppName        string        `json:"app_name"`
	Platform       push.Platform `json:"platform"`
	BundleID       string        `json:"bundle_id,omitempty"`  // APNs
	ProjectID      string        `json:"project_id,omitempty"` // FCM
	NotAfter       time.Time     `json:"not_after,omitzero"`
	DaysLeft       *int          `json:"days_left,omitempty"`
	ThresholdDays  int           `json:"threshold_days,omitempty"`
	Reason         string        `json:"reason"`
	ProviderReason string        `json:"provider_reason,omitempty"`
	Message        string        `json:"message"`
	Action         string        `json:"action"`                  // what to do
	Tokens         int           `json:"tokens,omitempty"`        // Device Tokens Invalid: how many
	DeviceTokens   []string      `json:"device_tokens,omitempty"` // Device Tokens Invalid: which, for the app servers to delete
	CheckedAt      time.Time     `json:"checked_at,omitzero"`     // when the fact was established
}

// Event is one event to publish.
type Event struct {
	Type   Type
	Detail Detail
	// Time is when the event happened; zero means when it is published.
	Time time.Time
}

// Publisher delivers events. Implementations: awsevents (EventBridge),
// webhook (JSON POSTs), Log, and Tee to combine them.
type Publisher interface {
	// Publish delivers events and returns one error per event, at the
	// same index: nil when that event was delivered. A failure of the
	// whole call sets every entry. The errors carry a push Kind
	// (Transient when retrying may help).
	Publish(ctx context.Context, events []Event) []error
}

// Log is a Publisher that writes each event as one structured log line
// ("alert"); it never fails.
type Log struct{ Logger *slog.Logger }

var _ Publisher = Log{}

// Publish implements Publisher.
func (l Log) Publish(ctx context.Context, events []Event) []error {
	for _, e := range events {
		d := e.Detail
		attrs := []slog.Attr{
			slog.String("detail_type", string(e.Type)), slog.String("tenant", d.Tenant),
			slog.String("app_id", d.AppID), slog.String("app_name", d.AppName),
			slog.String("platform", string(d.Platform)), slog.String("reason", d.Reason),
			slog.String("message", d.Message), slog.String("action", d.Action),
		}
		if d.BundleID != "" {
			attrs = append(attrs, slog.String("bundle_id", d.BundleID))
		}
		if d.ProjectID != "" {
			attrs = append(attrs, slog.String("project_id", d.ProjectID))
		}
		if !d.NotAfter.IsZero() {
			attrs = append(attrs, slog.Time("not_after", d.NotAfter))
		}
		if d.DaysLeft != nil {
			attrs = append(attrs, slog.Int("days_left", *d.DaysLeft))
		}
		l.Logger.LogAttrs(ctx, slog.LevelWarn, "alert", attrs...)
	}
	return make([]error, len(events))
}

// Tee is a Publisher that delivers every event through each of its
// publishers; an event fails when any of them fails it.
type Tee []Publisher

var _ Publisher = Tee(nil)

// Publish implements Publisher.
func (t Tee) Publish(ctx context.Context, events []Event) []error {
	out := make([]error, len(events))
	for _, p := range t {
		for i, err := range p.Publish(ctx, events) {
			if err != nil && out[i] == nil {
				out[i] = err
			}
		}
	}
	return out
}
