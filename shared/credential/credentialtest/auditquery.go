package credentialtest

import (
	"slices"
	"testing"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// testAuditQuery: a filtered trail pages exactly, newest first, and a
// re-validation recorded through SetStatus is one event whatever its
// outcome.
func testAuditQuery(t *testing.T, h *harness) {
	ten := tenant(t)
	apns, fcm := newMaterial(push.APNsP12), newMaterial(push.FCMJSON)
	h.create(ten, "aq", &apns, &fcm) // create, create apns, create fcm
	var want []string                // validate events, newest first
	for i := range 5 {
		p := []push.Platform{push.APNs, push.FCM}[i%2]
		st := credential.Status{State: credential.OK}
		if i == 3 {
			st = credential.Status{State: credential.Invalid, Reason: "certificate_rejected"}
		}
		a := must(h.svc.SetStatus(h.ctx, credential.StatusRequest{Tenant: ten, ID: "aq", Platform: p, Status: st, Actor: "ana", Action: credential.ActionValidate})).get(t)
		want = append([]string{string(p) + "/" + string(st.State)}, want...)
		if a.Meta(p).Status.State != st.State {
			t.Fatalf("validate %d: state %s, want %s", i, a.Meta(p).Status.State, st.State)
		}
	}
	all := allEvents(t, h, ten, "aq")
	if n := len(all); n != 3+5 {
		t.Fatalf("trail has %d events, want 3 creates and 5 validations (one each): %s", n, asJSON(t, all))
	}
	for _, limit := range []int{1, 2, 3, 50} {
		q := credential.AuditQuery{Page: credential.Page{Limit: limit}, Actions: []credential.Action{credential.ActionValidate}}
		var got []string
		for range 20 {
			p := must(h.svc.FindAudit(h.ctx, ten, "aq", q)).get(t)
			for _, e := range p.Events {
				got = append(got, string(e.Platform)+"/"+e.Result)
				if e.Actor != "ana" || e.OldFingerprint != "" || e.NewFingerprint != "" {
					t.Errorf("validate event %+v: want actor ana and no fingerprints", e)
				}
			}
			if q.Cursor = p.Next; q.Cursor == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: validate events %v, want %v", limit, got, want)
		}
	}
	fcmOnly := must(h.svc.FindAudit(h.ctx, ten, "aq", credential.AuditQuery{Platform: push.FCM})).get(t)
	if n := len(fcmOnly.Events); n != 1+2 { // create fcm + 2 validations
		t.Errorf("fcm events = %d, want 3: %s", n, asJSON(t, fcmOnly.Events))
	}
	creates := must(h.svc.FindAudit(h.ctx, ten, "aq", credential.AuditQuery{Actions: []credential.Action{credential.ActionCreate, credential.ActionRotate}, Platform: push.APNs})).get(t)
	if len(creates.Events) != 1 || creates.Events[0].Action != credential.ActionCreate || creates.Events[0].NewFingerprint == "" {
		t.Errorf("apns create events = %s", asJSON(t, creates.Events))
	}
	_, err := h.svc.FindAudit(h.ctx, ten, "aq", credential.AuditQuery{Platform: "web"})
	wantKind(t, err, push.Invalid)
}
