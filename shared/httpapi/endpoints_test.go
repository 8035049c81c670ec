package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

func TestCreateGetListIsolation(t *testing.T) { eachBackend(t, testCreateGetListIsolation) }

func testCreateGetListIsolation(t *testing.T, backend string) {
	a := newAPIOn(t, backend, accept)
	c := mint(t)
	status, hdr, app := a.do(t, "acme", "POST", "/v1/apps", map[string]any{
		"name": "Acme", "description": "Acme's app", "environment": "production",
		"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password},
		"fcm":  map[string]any{"service_account_json": c.sa},
	})
	if status != http.StatusCreated {
		t.Fatalf("create = %d %v", status, app)
	}
	id := str(app, "id")
	tests := []struct{ name, got, want string }{
		{"location", hdr.Get("Location"), "/v1/apps/" + id},
		{"etag", hdr.Get("ETag"), `"1"`},
		{"apns status", str(app, "apns", "status"), "ok"},
		{"apns bundle", str(app, "apns", "bundle_id"), "com.acme.app"},
		{"apns environment fact", str(app, "apns", "environment"), "both"},
		{"apns kind", str(app, "apns", "kind"), "apns_p12"},
		{"fcm status", str(app, "fcm", "status"), "ok"},
		{"fcm project", str(app, "fcm", "project_id"), "example-project"},
		{"enabled default", str(app, "enabled"), "true"},
		{"version", str(app, "version"), "1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if status, _, got := a.do(t, "acme", "GET", "/v1/apps/"+id, nil); status != 200 || str(got, "name") != "Acme" {
		t.Errorf("get = %d %v", status, got)
	}
	if status, _, list := a.do(t, "acme", "GET", "/v1/apps", nil); status != 200 || len(list["apps"].([]any)) != 1 {
		t.Errorf("list = %d %v", status, list)
	}
	if _, _, list := a.do(t, "globex", "GET", "/v1/apps", nil); len(list["apps"].([]any)) != 0 {
		t.Errorf("another tenant lists acme's app: %v", list)
	}
	// Another tenant's app is 404 on every route, before any body or If-Match check.
	for _, rt := range []struct{ method, path string }{
		{"GET", "/v1/apps/" + id}, {"PATCH", "/v1/apps/" + id}, {"DELETE", "/v1/apps/" + id},
		{"PUT", "/v1/apps/" + id + "/apns"}, {"PUT", "/v1/apps/" + id + "/fcm"}, {"DELETE", "/v1/apps/" + id + "/apns"},
		{"POST", "/v1/apps/" + id + "/apns/rollback"}, {"POST", "/v1/apps/" + id + "/validate"},
		{"POST", "/v1/apps/" + id + "/test-push"}, {"GET", "/v1/apps/" + id + "/audit"},
	} {
		status, _, body := a.do(t, "globex", rt.method, rt.path, []byte(`{not json`), "If-Match", `"99"`)
		if status != http.StatusNotFound || str(body, "error", "code") != "not_found" {
			t.Errorf("globex %s %s = %d %v, want 404 not_found", rt.method, rt.path, status, body)
		}
	}
}

func TestOrderOfHandling(t *testing.T) {
	a := newAPI(t, accept)
	_, _, app := a.do(t, "acme", "POST", "/v1/apps", map[string]any{"name": "A"})
	id := str(app, "id")
	tests := []struct {
		name       string
		tenant     string
		path       string
		ifMatch    string
		body       []byte
		wantStatus int
		wantCode   string
	}{
		{"no token beats everything", "", "/v1/apps/nope", `"7"`, []byte("{"), 401, "unauthorized"},
		{"missing app beats If-Match and body", "acme", "/v1/apps/nope", `"7"`, []byte("{"), 404, "not_found"},
		{"stale If-Match beats body", "acme", "/v1/apps/" + id, `"7"`, []byte("{"), 412, "precondition_failed"},
		{"bad body last", "acme", "/v1/apps/" + id, `"1"`, []byte("{"), 400, "invalid"},
		{"unknown field named", "acme", "/v1/apps/" + id, "", []byte(`{"nmae":"x"}`), 400, "invalid"},
		{"wrong type named", "acme", "/v1/apps/" + id, "", []byte(`{"enabled":"yes"}`), 400, "invalid"},
		{"too large", "acme", "/v1/apps/" + id, "", append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), 600<<10)...), 413, "too_large"},
		{"valid patch", "acme", "/v1/apps/" + id, `"1"`, []byte(`{"name":"B"}`), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := a.do(t, tt.tenant, "PATCH", tt.path, tt.body, "If-Match", tt.ifMatch)
			if status != tt.wantStatus || str(body, "error", "code") != tt.wantCode {
				t.Fatalf("= %d %v, want %d %s", status, body, tt.wantStatus, tt.wantCode)
			}
			if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	_, _, body := a.do(t, "acme", "PATCH", "/v1/apps/"+id, []byte(`{"nmae":"x"}`))
	if got := str(body, "error", "details", "field"); got != "nmae" {
		t.Errorf("unknown field error names %q, want nmae", got)
	}
	_, _, body = a.do(t, "acme", "PATCH", "/v1/apps/"+id, []byte(`{"enabled":"yes"}`))
	if got := str(body, "error", "details", "field"); got != "enabled" {
		t.Errorf("type error names %q, want enabled", got)
	}
}

// TestRejectedUploadsStoreNothing: every offline failure answers 422 with
// the full report and stores nothing.
func TestRejectedUploadsStoreNothing(t *testing.T) { eachBackend(t, testRejectedUploadsStoreNothing) }

func testRejectedUploadsStoreNothing(t *testing.T, backend string) {
	a := newAPIOn(t, backend, accept)
	c := mint(t)
	googleServices := `{"project_info":{"project_id":"p"},"client":[]}`
	tests := []struct {
		name     string
		body     map[string]any
		wantCode string
	}{
		{"wrong password", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": "nope"}}, "wrong_password"},
		{"expired", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.expiredP12), "password": p12Password}}, "expired"},
		{"bundle mismatch", map[string]any{"apns": map[string]any{"bundle_id": "com.other.app", "p12_base64": b64(c.p12), "password": p12Password}}, "bundle_id_mismatch"},
		{"sandbox-only for production", map[string]any{"environment": "production", "apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.sandboxP12), "password": p12Password}}, "environment_mismatch"},
		{".cer instead of .p12", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.cer), "password": ""}}, "not_pkcs12"},
		{"google-services.json", map[string]any{"fcm": map[string]any{"service_account_json": googleServices}}, "wrong_type"},
		{"good FCM, bad APNs", map[string]any{"fcm": map[string]any{"service_account_json": c.sa}, "apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": "x"}}, "wrong_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.body["name"] = "Rejected"
			status, _, body := a.do(t, "acme", "POST", "/v1/apps", tt.body)
			if status != http.StatusUnprocessableEntity || str(body, "error", "code") != tt.wantCode {
				t.Fatalf("= %d %v, want 422 %s", status, body, tt.wantCode)
			}
			if str(body, "error", "details", "report", "code") != tt.wantCode || str(body, "error", "message") == "" {
				t.Errorf("details.report missing or incomplete: %v", body)
			}
		})
	}
	if _, _, list := a.do(t, "acme", "GET", "/v1/apps", nil); len(list["apps"].([]any)) != 0 {
		t.Errorf("a rejected upload stored an app: %v", list)
	}
}

func TestLiveRejectionAndUnreachable(t *testing.T) {
	verdict := push.LiveResult{Code: push.CertificateRejected, ProviderReason: "BadCertificate", Message: "Apple refused the certificate."}
	a := newAPI(t, proverFunc(func(credential.Material, push.Environment, string) push.LiveResult { return verdict }))
	c := mint(t)
	body := map[string]any{"name": "A", "apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password}}
	status, _, resp := a.do(t, "acme", "POST", "/v1/apps", body)
	if status != 422 || str(resp, "error", "code") != "certificate_rejected" || str(resp, "error", "details", "live", "provider_reason") != "BadCertificate" {
		t.Fatalf("live rejection = %d %v", status, resp)
	}
	verdict = push.LiveResult{Code: push.LiveUnreachable, Message: "Apple could not be reached."}
	status, _, resp = a.do(t, "acme", "POST", "/v1/apps", body)
	if status != 201 || str(resp, "apns", "status") != "ok" || !strings.Contains(mustJSON(resp["apns"]), `"unreachable"`) {
		t.Fatalf("unreachable = %d %v, want 201 with an unreachable warning", status, resp)
	}
	id := str(resp, "id")
	// The same rejection on a stored credential marks it invalid.
	verdict = push.LiveResult{Code: push.CertificateRejected, ProviderReason: "BadCertificate", Message: "revoked"}
	status, _, resp = a.do(t, "acme", "POST", "/v1/apps/"+id+"/validate", nil)
	if status != 200 || str(resp, "app", "apns", "status") != "invalid" || str(resp, "app", "apns", "reason") != "certificate_rejected" {
		t.Fatalf("revalidate = %d %v, want apns invalid", status, resp)
	}
	// A rotation rejected live leaves the working credential as it was.
	_, _, before := a.do(t, "acme", "GET", "/v1/apps/"+id, nil)
	status, _, _ = a.do(t, "acme", "PUT", "/v1/apps/"+id+"/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password}})
	if status != 422 {
		t.Fatalf("rotate under live rejection = %d, want 422", status)
	}
	_, _, after := a.do(t, "acme", "GET", "/v1/apps/"+id, nil)
	if mustJSON(before) != mustJSON(after) {
		t.Errorf("a rejected rotation changed the app:\n%v\n%v", before, after)
	}
}
