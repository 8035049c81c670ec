package main

import (
	"context"
	"fmt"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/credential"
)

// dryRecorder stands in for the publishers of a dry run and watches the
// status changes it makes (on a copy of the store): what the run would
// alert and change.
type dryRecorder struct {
	*credential.Service
	alerts  []string
	changes []string
}

// Publish records each event and reports it delivered.
func (d *dryRecorder) Publish(_ context.Context, events []alert.Event) []error {
	for _, e := range events {
		x := e.Detail
		d.alerts = append(d.alerts, fmt.Sprintf("%s/%s %s %q: %s", x.Tenant, x.AppID, x.Platform, e.Type, x.Message))
	}
	return make([]error, len(events))
}

// SetStatus applies r (to the copy) and records what it changed.
func (d *dryRecorder) SetStatus(ctx context.Context, r credential.StatusRequest) (credential.App, error) {
	before, _ := d.Service.Get(ctx, r.Tenant, r.ID)
	after, err := d.Service.SetStatus(ctx, r)
	if err != nil {
		return after, err
	}
	b, a := before.Meta(r.Platform), after.Meta(r.Platform)
	if b == nil || a == nil {
		return after, nil
	}
	if b.Status.State != a.Status.State || b.Status.Reason != a.Status.Reason {
		d.changes = append(d.changes, fmt.Sprintf("%s/%s %s: status %s -> %s", r.Tenant, r.ID, r.Platform, b.Status.State, a.Status.State))
	}
	if !b.DueAt.Equal(a.DueAt) {
		d.changes = append(d.changes, fmt.Sprintf("%s/%s %s: next check %s -> %s", r.Tenant, r.ID, r.Platform, dueText(b.DueAt), dueText(a.DueAt)))
	}
	return after, nil
}

func dueText(t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format(time.RFC3339)
}
