package httpapi_test

import (
	"net/http"
	"testing"
)

// TestSaveChecksEveryPlatform: a create with both platforms checks both
// before answering, and a 422 reports each next to the other
// (details.reports) beside the first failure (details.platform, .report).
func TestSaveChecksEveryPlatform(t *testing.T) { eachBackend(t, testSaveChecksEveryPlatform) }

func testSaveChecksEveryPlatform(t *testing.T, backend string) {
	a := newAPIOn(t, backend, accept)
	c := mint(t)
	badAPNs := map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": "nope"}
	goodAPNs := map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password}
	badFCM := map[string]any{"service_account_json": `{"project_info":{"project_id":"p"},"client":[]}`}
	goodFCM := map[string]any{"service_account_json": c.sa}
	tests := []struct {
		name              string
		apns, fcm         map[string]any
		platform, code    string
		apnsCode, fcmCode string
		apnsOK, fcmOK     string
	}{
		{"both fail", badAPNs, badFCM, "apns", "wrong_password", "wrong_password", "wrong_type", "false", "false"},
		{"APNs fails, FCM passes", badAPNs, goodFCM, "apns", "wrong_password", "wrong_password", "ok", "false", "true"},
		{"APNs passes, FCM fails", goodAPNs, badFCM, "fcm", "wrong_type", "ok", "wrong_type", "true", "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := a.do(t, "acme", "POST", "/v1/apps", map[string]any{"name": "Both", "apns": tt.apns, "fcm": tt.fcm})
			if status != http.StatusUnprocessableEntity {
				t.Fatalf("= %d %v, want 422", status, body)
			}
			checks := []struct{ name, got, want string }{
				{"code", str(body, "error", "code"), tt.code},
				{"details.platform", str(body, "error", "details", "platform"), tt.platform},
				{"details.report.code", str(body, "error", "details", "report", "code"), tt.code},
				{"details.reports.apns.report.code", str(body, "error", "details", "reports", "apns", "report", "code"), tt.apnsCode},
				{"details.reports.apns.report.ok", str(body, "error", "details", "reports", "apns", "report", "ok"), tt.apnsOK},
				{"details.reports.fcm.report.code", str(body, "error", "details", "reports", "fcm", "report", "code"), tt.fcmCode},
				{"details.reports.fcm.report.ok", str(body, "error", "details", "reports", "fcm", "report", "ok"), tt.fcmOK},
			}
			for _, ck := range checks {
				if ck.got != ck.want {
					t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
				}
			}
			if tt.apnsOK == "true" && str(body, "error", "details", "reports", "apns", "live", "code") != "live_ok" {
				t.Errorf("the passing APNs upload was not proven live: %v", body)
			}
		})
	}
	// A single-platform rejection has the same shape.
	status, _, body := a.do(t, "acme", "POST", "/v1/apps", map[string]any{"name": "One", "fcm": badFCM})
	if status != http.StatusUnprocessableEntity || str(body, "error", "details", "reports", "fcm", "report", "code") != "wrong_type" {
		t.Errorf("single-platform 422 = %d %v, want details.reports.fcm", status, body)
	}
	if _, _, list := a.do(t, "acme", "GET", "/v1/apps", nil); len(list["apps"].([]any)) != 0 {
		t.Errorf("a rejected upload stored an app: %v", list)
	}
}
