package expiry_test

import (
	"slices"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/expiry"
)

// TestLongExpiredCertificateIsMarked: a certificate that expired more than
// the 90 days its alert markers are kept before the first run that sees it
// (e.g. uploaded expired long ago, or a checker that was off) is alerted
// once and marked expired, and the run succeeds.
func TestLongExpiredCertificateIsMarked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, ago := range []time.Duration{89 * day, 91 * day, 400 * day} {
			app := e.create(certificate("old", e.clock.Now().Add(-ago)), nil)
			s := e.run()
			if s.Errors != 0 || s.Expired != 1 {
				t.Fatalf("expired %v ago: summary = %+v, want 1 expired and no errors", ago, s)
			}
			if g := e.pub.take(); len(g) != 1 {
				t.Errorf("expired %v ago: alerts = %v, want one", ago, levels(g))
			}
			if a := e.get(app); a.APNs.Status.State != credential.Expired || !a.APNs.DueAt.IsZero() {
				t.Errorf("expired %v ago: status = %+v, due %v", ago, a.APNs.Status, a.APNs.DueAt)
			}
			e.clock.Advance(day)
			if s := e.run(); s.Examined != 0 || s.Errors != 0 {
				t.Errorf("expired %v ago: next run = %+v", ago, s)
			}
		}
	})
}

// TestActorNamesSimulatedRun: Config.Actor is the audit actor of the
// checker's status changes (the CLI's --now names the simulated time).
func TestActorNamesSimulatedRun(t *testing.T) {
	meta, secrets := boltBackend(t)
	const actor = "expiry-checker (simulated now 2030-01-02T06:00:00Z)"
	e := newEnv(t, meta, secrets, func(c *expiry.Config) { c.Actor = actor })
	app := e.create(certificate("gone", e.clock.Now().Add(-3*day)), nil)
	e.run()
	page, err := e.creds.Audit(e.ctx, app.Tenant, app.ID, credential.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var actors []string
	for _, ev := range page.Events {
		if ev.Action == credential.ActionStatus {
			actors = append(actors, ev.Actor)
		}
	}
	if !slices.Equal(actors, []string{actor}) {
		t.Errorf("status actors = %v, want [%s]", actors, actor)
	}
}
