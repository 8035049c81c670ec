package httpapi_test

import (
	"strings"
	"testing"
)

// TestTestPushChecksTheToken: a test push's device token is checked as
// the queue checks it, before anything is sent, and a disabled app is
// refused as a queued send to it is.
func TestTestPushChecksTheToken(t *testing.T) {
	a := newAPI(t, accept)
	c := mint(t)
	status, _, app := a.do(t, "acme", "POST", "/v1/apps", map[string]any{"name": "A",
		"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password},
		"fcm":  map[string]any{"service_account_json": c.sa}})
	if status != 201 {
		t.Fatalf("create = %d %v", status, app)
	}
	id := str(app, "id")
	path := "/v1/apps/" + id + "/test-push"
	hex64 := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, platform, token string
		status                int
	}{
		{"apns token", "apns", hex64, 200},
		{"fcm token", "fcm", "dK3x_Yz:APA91bH-abc123", 200},
		{"apns NUL byte", "apns", hex64[:62] + "\x00a", 400},
		{"apns path steering", "apns", hex64[:60] + "/../", 400},
		{"apns short", "apns", hex64[:40], 400},
		{"fcm NUL byte", "fcm", "abc\x00def", 400},
		{"fcm slash", "fcm", "projects/other", 400},
		{"fcm too long", "fcm", strings.Repeat("a", 4097), 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := a.do(t, "acme", "POST", path, map[string]any{"platform": tc.platform, "token": tc.token})
			if status != tc.status {
				t.Fatalf("= %d %v, want %d", status, body, tc.status)
			}
			if status == 400 && (str(body, "error", "code") != "invalid" || str(body, "error", "details", "field") != "token") {
				t.Errorf("= %v, want invalid naming the field token", body)
			}
		})
	}
	if status, _, body := a.do(t, "acme", "PATCH", "/v1/apps/"+id, map[string]any{"enabled": false}); status != 200 {
		t.Fatalf("disable = %d %v", status, body)
	}
	for _, p := range []string{"apns", "fcm"} {
		tok := map[string]string{"apns": hex64, "fcm": "fcm-device-1"}[p]
		status, _, body := a.do(t, "acme", "POST", path, map[string]any{"platform": p, "token": tok})
		if status != 422 || !strings.Contains(str(body, "error", "message"), "disabled") {
			t.Errorf("%s test push to a disabled app = %d %v, want 422 saying it is disabled", p, status, body)
		}
	}
}
