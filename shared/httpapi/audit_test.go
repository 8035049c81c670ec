package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuditTrailReadable: a re-validation is one row per platform with
// its result (no old -> new fingerprint), every row names its actor, and
// the trail filters by action and platform.
func TestAuditTrailReadable(t *testing.T) { eachBackend(t, testAuditTrailReadable) }

func testAuditTrailReadable(t *testing.T, backend string) {
	a := newAPIOn(t, backend, accept)
	c := mint(t)
	status, _, app := a.do(t, "acme", "POST", "/v1/apps", map[string]any{
		"name": "Audited", "apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password},
		"fcm": map[string]any{"service_account_json": c.sa},
	})
	if status != http.StatusCreated {
		t.Fatalf("create = %d %v", status, app)
	}
	id := str(app, "id")
	for range 2 {
		if status, _, b := a.do(t, "acme", "POST", "/v1/apps/"+id+"/validate", nil); status != http.StatusOK {
			t.Fatalf("validate = %d %v", status, b)
		}
	}
	events := func(query string) []map[string]any {
		t.Helper()
		status, _, b := a.do(t, "acme", "GET", "/v1/apps/"+id+"/audit"+query, nil)
		if status != http.StatusOK {
			t.Fatalf("audit%s = %d %v", query, status, b)
		}
		var out []map[string]any
		for _, e := range b["events"].([]any) {
			out = append(out, e.(map[string]any))
		}
		return out
	}
	all := events("")
	var actions []string
	for _, e := range all {
		actions = append(actions, str(e, "action")+":"+str(e, "platform"))
		if !strings.HasPrefix(str(e, "actor"), "token:") {
			t.Errorf("event %v: actor %q does not name the token", e, str(e, "actor"))
		}
	}
	// Newest first: two validations of both platforms, then the create (app, apns, fcm).
	want := "validate:fcm validate:apns validate:fcm validate:apns create:fcm create:apns create:"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("trail = %s\nwant    %s", got, want)
	}
	for _, e := range events("?action=validate") {
		if str(e, "result") != "ok" || e["old_fingerprint"] != nil || e["new_fingerprint"] != nil {
			t.Errorf("validate row %v: want result ok and no fingerprints", e)
		}
	}
	if got := events("?action=validate&platform=apns&limit=1"); len(got) != 1 || str(got[0], "platform") != "apns" {
		t.Errorf("filtered page = %v", got)
	}
	if got := events("?action=create,rotate&platform=fcm"); len(got) != 1 || str(got[0], "new_fingerprint") == "" {
		t.Errorf("fcm creates = %v, want one with its fingerprint", got)
	}
	if status, _, b := a.do(t, "acme", "POST", "/v1/apps/"+id+"/apns/csr", nil); status != http.StatusCreated {
		t.Fatalf("signing request = %d %v", status, b)
	}
	if got := events("?action=signing_request,discard_signing_request"); len(got) != 1 || str(got[0], "action") != "signing_request" {
		t.Errorf("signing-request rows = %v, want the one request", got)
	}
	if status, _, b := a.do(t, "acme", "GET", "/v1/apps/"+id+"/audit?action=nope", nil); status != 400 || str(b, "error", "details", "field") != "action" {
		t.Errorf("unknown action = %d %v, want 400 naming action", status, b)
	}
}
