package credentialtest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// fleetCred is one platform credential of a fleet app: its state and the
// days until its not_after (none: no expiry, e.g. a .p8 or an FCM key).
type fleetCred struct {
	state credential.State
	days  int
	none  bool
}

type fleetApp struct {
	id, name, bundle string
	apns, fcm        *fleetCred
}

func cred(st credential.State, days int) *fleetCred { return &fleetCred{state: st, days: days} }
func noExpiry(st credential.State) *fleetCred       { return &fleetCred{state: st, none: true} }

// fleetApps is a tenant with apps in every state; names differ in case so
// that the name order is seen to ignore it.
var fleetApps = []fleetApp{
	{"a1", "Zulu", "com.acme.zulu", cred(credential.Expired, -3), nil},
	{"a2", "alpha", "com.acme.alpha", cred(credential.OK, 200), cred(credential.Expiring, 10)},
	{"a3", "Bravo", "com.acme.bravo", cred(credential.Expiring, 20), noExpiry(credential.OK)},
	{"a4", "charlie", "com.acme.charlie", cred(credential.Invalid, 100), noExpiry(credential.Suspended)},
	{"a5", "Delta", "", nil, noExpiry(credential.Suspended)},
	{"a6", "echo", "com.acme.echo", cred(credential.OK, 300), nil},
	{"a7", "Foxtrot", "", nil, nil},
	{"a8", "golf", "org.other.golf", cred(credential.Expiring, 5), nil},
	{"a9", "Hotel", "com.acme.hotel", noExpiry(credential.OK), noExpiry(credential.OK)},
}

func (h *harness) createFleet(ten string, apps []fleetApp) {
	h.t.Helper()
	now := h.clock.Now()
	for _, fa := range apps {
		r := credential.CreateRequest{Tenant: ten, ID: fa.id, Name: fa.name, Description: "app " + fa.id, Enabled: true, Environment: push.Production, Actor: "admin"}
		if c := fa.apns; c != nil {
			m := newMaterial(push.APNsP12)
			if c.none {
				m = newMaterial(push.APNsP8)
			} else {
				m.facts.NotAfter = now.Add(time.Duration(c.days)*24*time.Hour + time.Hour).Truncate(time.Second)
			}
			m.facts.BundleID = fa.bundle
			r.APNs = m.upload()
			r.APNs.Status = credential.Status{State: c.state}
		}
		if c := fa.fcm; c != nil {
			m := newMaterial(push.FCMJSON)
			m.facts.ProjectID = "proj-" + fa.id
			if !c.none {
				m.facts.NotAfter = now.Add(time.Duration(c.days)*24*time.Hour + time.Hour).Truncate(time.Second)
			}
			r.FCM = m.upload()
			r.FCM.Status = credential.Status{State: c.state}
		}
		must(h.svc.Create(h.ctx, r)).get(h.t)
		h.clock.Advance(time.Second) // distinct updated_at
	}
}

// findAll pages through q with limit and returns the ids, checking every
// page's Total.
func (h *harness) findAll(t *testing.T, ten string, q credential.Query, limit int) []string {
	t.Helper()
	q.Limit = limit
	var ids []string
	for range 100 {
		p := must(h.svc.Find(h.ctx, ten, q)).get(t)
		for _, a := range p.Apps {
			ids = append(ids, a.ID)
		}
		if p.Total < len(ids) {
			t.Fatalf("total %d, but %d apps listed", p.Total, len(ids))
		}
		if len(p.Apps) > limit {
			t.Fatalf("page of %d apps, limit %d", len(p.Apps), limit)
		}
		if q.Cursor = p.Next; q.Cursor == "" {
			if p.Total != len(ids) {
				t.Fatalf("total %d, listed %d", p.Total, len(ids))
			}
			return ids
		}
	}
	t.Fatal("paging did not end")
	return nil
}

func states(s ...credential.State) []credential.State { return s }

func testFleetFind(t *testing.T, h *harness) {
	ten := tenant(t)
	h.createFleet(ten, fleetApps)
	// Another tenant's apps match every query too: none may show.
	h.createFleet(ten+"-other", []fleetApp{{"b1", "alpha zulu", "com.acme.zulu", cred(credential.Expired, -1), cred(credential.Expiring, 3)}})
	// An update moves a6 to the top of updated_at.
	must(h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "a6", Patch: credential.Patch{Description: ptr("changed")}})).get(t)

	tests := []struct {
		name string
		q    credential.Query
		want []string
	}{
		// expired, invalid, suspended (by name), expiring (fewest days first), then by name.
		{"attention (default)", credential.Query{}, []string{"a1", "a4", "a5", "a8", "a2", "a3", "a6", "a7", "a9"}},
		{"attention of fcm", credential.Query{Platform: push.FCM, Sort: credential.SortAttention}, []string{"a4", "a5", "a2", "a3", "a6", "a7", "a8", "a9", "a1"}},
		{"name", credential.Query{Sort: credential.SortName}, []string{"a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a1"}},
		{"days_left", credential.Query{Sort: credential.SortDaysLeft}, []string{"a1", "a8", "a2", "a3", "a4", "a6", "a5", "a7", "a9"}},
		{"days_left of apns", credential.Query{Sort: credential.SortDaysLeft, Platform: push.APNs}, []string{"a1", "a8", "a3", "a4", "a2", "a6", "a5", "a7", "a9"}},
		{"updated_at", credential.Query{Sort: credential.SortUpdated}, []string{"a6", "a9", "a8", "a7", "a5", "a4", "a3", "a2", "a1"}},
		{"status expired", credential.Query{States: states(credential.Expired)}, []string{"a1"}},
		{"status expiring,suspended", credential.Query{States: states(credential.Expiring, credential.Suspended), Sort: credential.SortName}, []string{"a2", "a3", "a4", "a5", "a8"}},
		{"status expiring on fcm", credential.Query{States: states(credential.Expiring), Platform: push.FCM}, []string{"a2"}},
		{"status unconfigured", credential.Query{States: states(credential.Unconfigured), Sort: credential.SortName}, []string{"a5", "a6", "a7", "a8", "a1"}},
		{"status unconfigured on apns", credential.Query{States: states(credential.Unconfigured), Platform: push.APNs, Sort: credential.SortName}, []string{"a5", "a7"}},
		{"q in the name, any case", credential.Query{Text: "ALP"}, []string{"a2"}},
		{"q in the bundle id", credential.Query{Text: "com.acme.", Sort: credential.SortName}, []string{"a2", "a3", "a4", "a6", "a9", "a1"}},
		{"q in the project id", credential.Query{Text: "proj-a5"}, []string{"a5"}},
		{"q in the id", credential.Query{Text: "a7"}, []string{"a7"}},
		{"q in the description", credential.Query{Text: "CHANGED"}, []string{"a6"}},
		{"q and status", credential.Query{Text: "com.acme", States: states(credential.OK), Sort: credential.SortDaysLeft}, []string{"a2", "a3", "a6", "a9"}},
		{"nothing matches", credential.Query{Text: "no such app"}, nil},
	}
	for _, tt := range tests {
		for _, limit := range []int{1, 2, 4, credential.MaxPageLimit} {
			if got := h.findAll(t, ten, tt.q, limit); !slices.Equal(got, tt.want) {
				t.Errorf("%s, limit %d: ids %v, want %v", tt.name, limit, got, tt.want)
			}
		}
	}

	// A cursor stays exact when the app it points after changes or goes.
	p := must(h.svc.Find(h.ctx, ten, credential.Query{Sort: credential.SortName, Page: credential.Page{Limit: 3}})).get(t)
	must(h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "a4", Patch: credential.Patch{Name: ptr("zzz")}})).get(t)
	next := must(h.svc.Find(h.ctx, ten, credential.Query{Sort: credential.SortName, Page: credential.Page{Limit: 3, Cursor: p.Next}})).get(t)
	var got []string
	for _, a := range next.Apps {
		got = append(got, a.ID)
	}
	if want := []string{"a5", "a6", "a7"}; !slices.Equal(got, want) {
		t.Errorf("page after a renamed app = %v, want %v", got, want)
	}

	bad := []struct {
		name  string
		q     credential.Query
		field string
	}{
		{"sort", credential.Query{Sort: "random"}, "sort"},
		{"platform", credential.Query{Platform: "web"}, "platform"},
		{"status", credential.Query{States: states("broken")}, "status"},
		{"cursor", credential.Query{Page: credential.Page{Cursor: "!!"}}, "cursor"},
		{"cursor of another sort", credential.Query{Sort: credential.SortUpdated, Page: credential.Page{Cursor: p.Next}}, "cursor"},
	}
	for _, tt := range bad {
		_, err := h.svc.Find(h.ctx, ten, tt.q)
		wantKind(t, err, push.Invalid)
		if msg := push.MessageOf(err); !strings.HasPrefix(msg, tt.field+":") {
			t.Errorf("%s: error %v does not name %q", tt.name, err, tt.field)
		}
	}
}

func testFleetSummary(t *testing.T, h *harness) {
	ten := tenant(t)
	h.createFleet(ten, fleetApps)
	h.createFleet(ten+"-other", []fleetApp{{"b1", "other", "x", cred(credential.Expired, -1), cred(credential.Expiring, 3)}})
	s := must(h.svc.Summarize(h.ctx, ten, 0)).get(t)
	type counts = map[credential.State]int
	tests := []struct {
		name      string
		got, want any
	}{
		{"apps", s.Apps, 9},
		{"attention", s.Attention, 6}, // a1 a2 a3 a4 a5 a8
		{"apns", s.APNs, counts{"ok": 3, "expiring": 2, "expired": 1, "invalid": 1, "suspended": 0, "unconfigured": 2}},
		{"fcm", s.FCM, counts{"ok": 2, "expiring": 1, "expired": 0, "invalid": 0, "suspended": 2, "unconfigured": 4}},
		{"states", s.States, counts{"ok": 4, "expiring": 3, "expired": 1, "invalid": 1, "suspended": 2, "unconfigured": 5}},
	}
	for _, tt := range tests {
		if g, w := asJSON(t, tt.got), asJSON(t, tt.want); g != w {
			t.Errorf("%s = %s, want %s", tt.name, g, w)
		}
	}
	// The next expiries: not yet expired, soonest first.
	var next []string
	for _, e := range s.Next {
		next = append(next, e.AppID+"/"+string(e.Platform))
		if e.Name == "" || e.NotAfter.IsZero() || e.DaysLeft < 0 {
			t.Errorf("expiry %+v lacks a field", e)
		}
	}
	if want := []string{"a8/apns", "a2/fcm", "a3/apns", "a4/apns", "a2/apns", "a6/apns"}; !slices.Equal(next, want) {
		t.Errorf("next expiries %v, want %v", next, want)
	}
	if s.Next[0].DaysLeft != 5 {
		t.Errorf("days left of a8 = %d, want 5", s.Next[0].DaysLeft)
	}
	// Each state's app count is what the status filter lists.
	for st, n := range s.States {
		p := must(h.svc.Find(h.ctx, ten, credential.Query{States: states(st)})).get(t)
		if p.Total != n {
			t.Errorf("status=%s lists %d apps, summary says %d", st, p.Total, n)
		}
	}
	// A horizon lists every expiry within it.
	s = must(h.svc.Summarize(h.ctx, ten, 150*24*time.Hour)).get(t)
	if len(s.Next) != 4 || s.Truncated {
		t.Errorf("expiries within 150 days = %d (truncated %v), want 4", len(s.Next), s.Truncated)
	}
	empty := must(h.svc.Summarize(h.ctx, ten+"-nobody", 0)).get(t)
	if empty.Apps != 0 || empty.Attention != 0 || empty.Next == nil || len(empty.APNs) != 6 {
		t.Errorf("summary of an empty tenant = %+v", empty)
	}
}
