package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"mobilepush/shared/alert"
)

// TestFullSessionLeaksNoSecret drives every route with real uploads
// (JSON and multipart), then scans every response and every log line for
// the .p12 password, key material and the service-account private key.
func TestFullSessionLeaksNoSecret(t *testing.T) { eachBackend(t, testFullSessionLeaksNoSecret) }

func testFullSessionLeaksNoSecret(t *testing.T, backend string) {
	a := newAPIOn(t, backend, accept)
	c := mint(t)

	// A browser form: files as file parts, fields as text.
	status, hdr, app := a.do(t, "acme", "POST", "/v1/apps", form(t,
		map[string]string{"name": "Form app", "enabled": "on", "environment": "production", "apns.bundle_id": "com.acme.app", "apns.password": p12Password},
		map[string][]byte{"apns.p12": c.p12, "fcm.service_account_json": []byte(c.sa)}))
	if status != http.StatusCreated {
		t.Fatalf("multipart create = %d %v", status, app)
	}
	id := str(app, "id")
	if str(app, "apns", "status") != "ok" || str(app, "fcm", "status") != "ok" || hdr.Get("ETag") != `"1"` {
		t.Fatalf("multipart create = %v", app)
	}
	fp1 := str(app, "apns", "fingerprint_sha256")

	steps := []struct {
		name       string
		method     string
		path       string
		body       any
		hdr        []string
		wantStatus int
		check      func(t *testing.T, body map[string]any)
	}{
		{"patch with stale ETag", "PATCH", "/v1/apps/" + id, map[string]any{"name": "x"}, []string{"If-Match", `"9"`}, 412, nil},
		{"patch with ETag", "PATCH", "/v1/apps/" + id, map[string]any{"description": "d", "enabled": false}, []string{"If-Match", `"1"`}, 200, func(t *testing.T, b map[string]any) {
			if str(b, "enabled") != "false" || str(b, "version") != "2" {
				t.Errorf("patched = %v", b)
			}
		}},
		{"switch to sandbox keeps the universal cert", "PATCH", "/v1/apps/" + id, map[string]any{"environment": "sandbox"}, nil, 200, nil},
		{"rotate to a .p8", "PUT", "/v1/apps/" + id + "/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "p8": c.p8, "key_id": "ABC123DEFG", "team_id": "TEAM123456"}}, nil, 200, func(t *testing.T, b map[string]any) {
			if str(b, "apns", "kind") != "apns_p8" || str(b, "apns", "key_id") != "ABC123DEFG" || str(b, "apns", "rollback_available") != "true" {
				t.Errorf("rotated = %v", b)
			}
		}},
		{"rotation failing validation", "PUT", "/v1/apps/" + id + "/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": "wrong"}}, nil, 422, nil},
		{"still the .p8 after the failed rotation", "GET", "/v1/apps/" + id, nil, nil, 200, func(t *testing.T, b map[string]any) {
			if str(b, "apns", "kind") != "apns_p8" || str(b, "version") != "4" {
				t.Errorf("after a rejected rotation = %v", b)
			}
		}},
		{"rollback to the .p12", "POST", "/v1/apps/" + id + "/apns/rollback", nil, nil, 200, func(t *testing.T, b map[string]any) {
			if str(b, "apns", "kind") != "apns_p12" || str(b, "apns", "fingerprint_sha256") != fp1 {
				t.Errorf("rolled back = %v", b)
			}
		}},
		{"revalidate", "POST", "/v1/apps/" + id + "/validate", nil, nil, 200, func(t *testing.T, b map[string]any) {
			if len(b["validations"].([]any)) != 2 {
				t.Errorf("validations = %v", b)
			}
		}},
		{"inspect without storing", "POST", "/v1/validate", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": "nope"}, "fcm": map[string]any{"service_account_json": c.sa}}, nil, 200, func(t *testing.T, b map[string]any) {
			if str(b, "ok") != "false" || str(b, "apns", "report", "code") != "wrong_password" || str(b, "fcm", "report", "code") != "ok" {
				t.Errorf("inspect = %v", b)
			}
		}},
		{"remove fcm", "DELETE", "/v1/apps/" + id + "/fcm", nil, nil, 200, func(t *testing.T, b map[string]any) {
			if str(b, "fcm", "status") != "unconfigured" {
				t.Errorf("after remove = %v", b)
			}
		}},
		{"unknown platform", "PUT", "/v1/apps/" + id + "/webpush", map[string]any{}, nil, 404, nil},
		{"audit", "GET", "/v1/apps/" + id + "/audit", nil, nil, 200, func(t *testing.T, b map[string]any) {
			evs := b["events"].([]any)
			var actions []string
			for _, e := range evs {
				actions = append(actions, str(e.(map[string]any), "action"))
			}
			got := strings.Join(actions, ",")
			for _, want := range []string{"create", "update", "rotate", "rollback", "validate", "remove_platform"} {
				if !strings.Contains(got, want) {
					t.Errorf("audit lacks %q: %s", want, got)
				}
			}
			if str(evs[0].(map[string]any), "actor") == "" {
				t.Error("audit event without actor")
			}
		}},
		{"delete", "DELETE", "/v1/apps/" + id, nil, []string{"If-Match", `"9"`}, 412, nil},
		{"delete for real", "DELETE", "/v1/apps/" + id, nil, nil, 204, nil},
		{"gone", "GET", "/v1/apps/" + id, nil, nil, 404, nil},
	}
	for _, s := range steps {
		status, _, body := a.do(t, "acme", s.method, s.path, s.body, s.hdr...)
		if status != s.wantStatus {
			t.Fatalf("%s: status %d, want %d: %v", s.name, status, s.wantStatus, body)
		}
		if s.check != nil {
			t.Run(s.name, func(t *testing.T) { s.check(t, body) })
		}
	}

	a.mu.Lock()
	everything := strings.Join(a.bodies, "\n") + "\n" + a.logs.String()
	var rotated []string
	for _, e := range a.events {
		if e.Type == alert.CredentialRotated {
			rotated = append(rotated, e.Detail.Reason)
		}
	}
	a.mu.Unlock()
	if got := strings.Join(rotated, ","); got != "rotated,rolled_back" {
		t.Errorf("Push Credential Rotated events = %q, want rotated,rolled_back", got)
	}
	if !strings.Contains(a.logs.String(), `"request_id"`) {
		t.Error("log lines carry no request id")
	}
	keyBody := strings.Split(c.saKeyPEM, "\n")[1] // a line of the service account's key
	p8Body := strings.Split(c.p8, "\n")[1]
	for name, secret := range map[string]string{
		"p12 password": p12Password, "p12 bytes": b64(c.p12)[:40], "service-account key": keyBody, "p8 key": p8Body,
		"PEM private key": "PRIVATE KEY-----", "bearer token": a.tokens["acme"],
	} {
		if strings.Contains(everything, secret) {
			t.Errorf("%s appears in a response or log line", name)
		}
	}
}
