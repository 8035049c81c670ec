package expiry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/credential"
	"mobilepush/shared/expiry"
	"mobilepush/shared/push"
)

const day = 24 * time.Hour

// TestDaysLeft pins push.DaysLeft, the days left the checker and its
// alerts count in.
func TestDaysLeft(t *testing.T) {
	na := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		now  time.Time
		want int
	}{
		{"exactly 30 days", na.Add(-30 * day), 30},
		{"a second more than 29 days", na.Add(-29*day - time.Second), 29},
		{"just under a day", na.Add(-time.Second), 0},
		{"at not_after", na, 0},
		{"a second after", na.Add(time.Second), -1},
		{"a day and a second after", na.Add(day + time.Second), -2},
	}
	for _, tt := range tests {
		if got := push.DaysLeft(na, tt.now); got != tt.want {
			t.Errorf("%s: DaysLeft = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestDefaultDueAgreesWithThresholds: a certificate stored without a due
// time gets credential.DefaultDue, which is the checker's own schedule
// under its default thresholds: push.FirstDue, the moment days_left first
// equals the highest threshold. A run a second before it alerts nothing;
// a run at it sends the 60-day alert. A key stored without a due time is
// due when the checker would re-check it.
func TestDefaultDueAgreesWithThresholds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		na := now.Add(100*day + 5*time.Hour)
		app := e.create(certificate("default-due", na), serviceAccount("default-due", now))
		got := e.get(app)
		due := got.APNs.DueAt
		if want := push.FirstDue(nil, na, now); !due.Equal(want) {
			t.Fatalf("certificate due at %v, want push.FirstDue %v", due, want)
		}
		if want := credential.DefaultDue(push.APNsP12, got.APNs.Facts, now); !due.Equal(want) {
			t.Errorf("certificate due at %v, DefaultDue says %v", due, want)
		}
		if left := push.DaysLeft(na, due); left != slices.Max(push.DefaultThresholds) {
			t.Errorf("days left at the due time = %d, want %d", left, slices.Max(push.DefaultThresholds))
		}
		if kd, want := got.FCM.DueAt, now.Add(expiry.DefaultRecheckEvery); !kd.Equal(want) {
			t.Errorf("key due at %v, want the checker's re-check at %v", kd, want)
		}
		e.clock.Set(due.Add(-time.Second))
		e.run()
		if evs := e.pub.take(); len(evs) != 0 {
			t.Errorf("a second before the due time: alerts %v, want none", levels(evs))
		}
		e.clock.Set(due)
		e.run()
		if g, want := levels(e.pub.take()), []string{"Push Credential Expiring/60/60"}; !slices.Equal(g, want) {
			t.Errorf("at the due time: alerts %v, want %v", g, want)
		}
	})
}

func TestParseThresholds(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"60,30,14,7,3,1", []int{60, 30, 14, 7, 3, 1}, false},
		{" 1, 90 ,30", []int{90, 30, 1}, false},
		{"", nil, true},
		{"30,30", nil, true},
		{"0", nil, true},
		{"-5", nil, true},
		{"ten", nil, true},
	}
	for _, tt := range tests {
		got, err := expiry.ParseThresholds(tt.in)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("ParseThresholds(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !push.Is(err, push.Invalid) {
			t.Errorf("ParseThresholds(%q) error kind = %v, want invalid", tt.in, push.KindOf(err))
		}
	}
}

// TestEveryThresholdOnce walks the clock day by day (and at odd hours)
// from 100 days before not_after to past it: each threshold alerts exactly
// once, then "Expired" once; the status moves to expiring, then expired,
// and the credential leaves the index.
func TestEveryThresholdOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		na := e.clock.Now().Add(100*day + 5*time.Hour)
		up := certificate("walk", na)
		up.DueAt = push.FirstDue(nil, na, e.clock.Now())
		app := e.create(up, nil)
		var got []alert.Event
		var states []credential.State
		for e.clock.Now().Before(na.Add(3 * day)) {
			e.run()
			got = append(got, e.pub.take()...)
			if st := e.get(app).APNs.Status.State; len(states) == 0 || states[len(states)-1] != st {
				states = append(states, st)
			}
			e.clock.Advance(day - 7*time.Hour) // drift across the hours of the day
		}
		want := []string{
			"Push Credential Expiring/60/60", "Push Credential Expiring/30/30", "Push Credential Expiring/14/14",
			"Push Credential Expiring/7/7", "Push Credential Expiring/3/3", "Push Credential Expiring/1/1",
			"Push Credential Expired/0/-1",
		}
		if g := levels(got); !slices.Equal(g, want) {
			t.Fatalf("alerts =\n%v\nwant\n%v", g, want)
		}
		if want := []credential.State{credential.OK, credential.Expiring, credential.Expired}; !slices.Equal(states, want) {
			t.Errorf("states = %v, want %v", states, want)
		}
		if a := e.get(app); !a.APNs.DueAt.IsZero() {
			t.Errorf("expired certificate still due at %v", a.APNs.DueAt)
		}
		d := got[0].Detail
		if d.Tenant != app.Tenant || d.AppID != app.ID || d.AppName != app.Name || d.Platform != push.APNs ||
			d.BundleID != "com.example.walk" || !d.NotAfter.Equal(na) || d.Reason != "expiring_soon" || d.Action == "" || d.Message == "" {
			t.Errorf("detail = %+v", d)
		}
		// The alert names the route that renews without a Mac.
		if renew := "/#/app/" + app.ID + "?renew=apns, or make a signing request with POST /v1/apps/" + app.ID + "/apns/csr"; !strings.Contains(d.Action, renew) || !strings.Contains(got[len(got)-1].Detail.Action, renew) {
			t.Errorf("action %q does not name %s", d.Action, renew)
		}
	})
}

// TestFirstRunAt29DaysSendsOne: a certificate first seen with 29 days
// left gets the 30-day alert only (60 is marked done with it), and the
// next alert is the 14-day one.
func TestFirstRunAt29DaysSendsOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		na := e.clock.Now().Add(29*day + 12*time.Hour)
		app := e.create(certificate("first", na), nil)
		s := e.run()
		if g, want := levels(e.pub.take()), []string{"Push Credential Expiring/30/29"}; !slices.Equal(g, want) {
			t.Fatalf("alerts = %v, want %v", g, want)
		}
		if s.Examined != 1 || s.Alerts["30"] != 1 || s.Alerts["60"] != 0 || s.AlertsSent() != 1 {
			t.Errorf("summary = %+v", s)
		}
		a := e.get(app)
		if a.APNs.Status.State != credential.Expiring {
			t.Errorf("state = %s, want expiring", a.APNs.Status.State)
		}
		// Due when 14 days are left: 15 days before not_after, plus a second.
		if want := na.Add(-15 * day).Add(time.Second); !a.APNs.DueAt.Equal(want) {
			t.Errorf("due at %v, want %v", a.APNs.DueAt, want)
		}
		e.clock.Advance(time.Hour)
		if s := e.run(); s.Examined != 0 || len(e.pub.take()) != 0 {
			t.Errorf("second run examined %d and alerted", s.Examined)
		}
		e.clock.Set(a.APNs.DueAt)
		e.run()
		if g, want := levels(e.pub.take()), []string{"Push Credential Expiring/14/14"}; !slices.Equal(g, want) {
			t.Fatalf("alerts at the 14-day mark = %v, want %v", g, want)
		}
	})
}

// TestRenewedCertificateResetsCycle: after a rotation to a renewed
// certificate the thresholds alert again.
func TestRenewedCertificateResetsCycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		now := e.clock.Now()
		app := e.create(certificate("old", now.Add(20*day+time.Hour)), nil)
		e.run()
		if g := levels(e.pub.take()); !slices.Equal(g, []string{"Push Credential Expiring/30/20"}) {
			t.Fatalf("alerts before renewal = %v", g)
		}
		// A renewal that still expires soon (e.g. renewed late): a new cycle.
		if _, err := e.creds.Rotate(e.ctx, credential.RotateRequest{Tenant: app.Tenant, ID: app.ID, Platform: push.APNs,
			Upload: *certificate("renewed", now.Add(25*day))}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		e.run()
		got := e.pub.take()
		if g := levels(got); !slices.Equal(g, []string{"Push Credential Expiring/30/24"}) {
			t.Fatalf("alerts after renewal = %v", g)
		}
		if got[0].Detail.BundleID != "com.example.renewed" {
			t.Errorf("alert names %s, want the renewed certificate", got[0].Detail.BundleID)
		}
		// A rollback to the old certificate does not repeat its alerts.
		if _, err := e.creds.Rollback(e.ctx, credential.RollbackRequest{Tenant: app.Tenant, ID: app.ID, Platform: push.APNs}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		e.run()
		if g := levels(e.pub.take()); len(g) != 0 {
			t.Fatalf("alerts after rollback to the old certificate = %v, want none", g)
		}
	})
}

// TestExpiredMarkedOnce: a certificate past not_after is marked expired
// and alerted once, and is not looked at again.
func TestExpiredMarkedOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		app := e.create(certificate("gone", e.clock.Now().Add(-2*day+time.Hour)), nil)
		s := e.run()
		if g := levels(e.pub.take()); !slices.Equal(g, []string{"Push Credential Expired/0/-2"}) {
			t.Fatalf("alerts = %v", g)
		}
		if s.Expired != 1 || s.Alerts["expired"] != 1 {
			t.Errorf("summary = %+v", s)
		}
		a := e.get(app)
		if a.APNs.Status.State != credential.Expired || a.APNs.Status.Reason != "expired" || !a.APNs.DueAt.IsZero() {
			t.Errorf("status = %+v, due %v", a.APNs.Status, a.APNs.DueAt)
		}
		for range 3 {
			e.clock.Advance(day)
			if s := e.run(); s.Examined != 0 {
				t.Errorf("later run examined %d", s.Examined)
			}
		}
		if g := e.pub.take(); len(g) != 0 {
			t.Errorf("later alerts = %v", levels(g))
		}
	})
}

// TestFailedPublishIsRetried: an alert that fails to publish is neither
// lost nor marked sent: the next run sends it, once.
func TestFailedPublishIsRetried(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		na := e.clock.Now().Add(6*day + time.Hour)
		app := e.create(certificate("flaky", na), nil)
		e.pub.setFail(push.E("test.Publish", push.Transient, errors.New("entry failed: InternalFailure")))
		s := e.run()
		if s.PublishFailures != 1 || s.Errors != 1 || s.AlertsSent() != 0 {
			t.Fatalf("failing run summary = %+v", s)
		}
		if a := e.get(app); a.APNs.DueAt.After(e.clock.Now()) {
			t.Fatalf("due moved to %v after a failed publish", a.APNs.DueAt)
		}
		e.pub.setFail(nil)
		e.clock.Advance(time.Minute) // the next run, well inside the failed run's lease time
		s = e.run()
		if g := levels(e.pub.take()); !slices.Equal(g, []string{"Push Credential Expiring/7/6"}) {
			t.Fatalf("retried alerts = %v (summary %+v)", g, s)
		}
		e.clock.Advance(time.Minute)
		e.run()
		if g := e.pub.take(); len(g) != 0 {
			t.Fatalf("alert sent again: %v", levels(g))
		}
	})
}

// TestKeysRecheckedLive: keys are re-proved when their check is a week
// old, oldest first and at most MaxRechecks per run; a rejection marks the
// platform invalid and alerts once; a recent check is not repeated.
func TestKeysRecheckedLive(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			meta, secrets := b.open(t)
			e := newEnv(t, meta, secrets, func(c *expiry.Config) { c.MaxRechecks = 2 })
			now := e.clock.Now()
			revoked := e.create(p8Key("REVOKED001", now.Add(-10*day)), nil)
			deleted := e.create(nil, serviceAccount("deleted", now.Add(-9*day)))
			fine := e.create(p8Key("FINE000001", now.Add(-8*day)), nil)
			// Validated through the API two days ago but still in the index: not proved again.
			rec := serviceAccount("recent", now.Add(-2*day))
			rec.DueAt = now.Add(-time.Hour)
			recent := e.create(nil, rec)
			e.prov.set("REVOKED001", push.ProviderTokenRejected)
			e.prov.set("deleted", push.OAuthInvalidGrant)

			s := e.run()
			if calls := e.prov.takeCalls(); !slices.Equal(calls, []string{"REVOKED001", "deleted"}) {
				t.Fatalf("first run proved %v, want the two oldest", calls)
			}
			if s.Rechecked != 2 || s.Deferred != 1 || s.Invalid != 2 || s.Alerts["invalid"] != 2 {
				t.Errorf("first run summary = %+v", s)
			}
			evs := e.pub.take()
			if len(evs) != 2 || evs[0].Type != alert.CredentialInvalid || evs[0].Detail.Reason != string(push.ProviderTokenRejected) ||
				evs[1].Detail.Platform != push.FCM || evs[1].Detail.ProjectID != "project-deleted" || evs[1].Detail.Action == "" {
				t.Fatalf("invalid alerts = %+v", evs)
			}
			if m := e.get(recent).FCM; m.Status.State != credential.OK || !m.DueAt.Equal(now.Add(5*day)) {
				t.Errorf("recently checked key: status %+v due %v, want due %v", m.Status, m.DueAt, now.Add(5*day))
			}
			for _, a := range []credential.App{revoked, deleted} {
				a = e.get(a)
				m := a.APNs
				if m == nil {
					m = a.FCM
				}
				if m.Status.State != credential.Invalid || !m.DueAt.Equal(now.Add(7*day)) {
					t.Errorf("%s: status %+v due %v", a.ID, m.Status, m.DueAt)
				}
			}

			e.clock.Advance(time.Minute)
			s = e.run()
			if calls := e.prov.takeCalls(); !slices.Equal(calls, []string{"FINE000001"}) {
				t.Fatalf("second run proved %v, want the deferred key", calls)
			}
			if m := e.get(fine).APNs; m.Status.State != credential.OK || !m.Status.CheckedAt.Equal(e.clock.Now()) {
				t.Errorf("accepted key status = %+v", m.Status)
			}
			if g := e.pub.take(); len(g) != 0 {
				t.Errorf("alerts for an accepted key: %v", levels(g))
			}

			// A week later the revoked key is proved again: still invalid, no second alert.
			// (Two runs: three keys are due again and MaxRechecks is 2.)
			e.clock.Set(now.Add(7*day + time.Hour))
			e.run()
			e.clock.Advance(time.Minute)
			e.run()
			if calls := e.prov.takeCalls(); !slices.Contains(calls, "REVOKED001") {
				t.Errorf("week-later run proved %v", calls)
			}
			if g := e.pub.take(); len(g) != 0 {
				t.Errorf("second invalid alert: %v", levels(g))
			}
		})
	}
}
