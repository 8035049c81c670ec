package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/clientpool"
	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// providers are the fake Apple (strict: it trusts only the test Apple
// root) and the fake Google (strict: only registered keys), and the real
// client pool pointed at them.
type providers struct {
	apple  *apnstest.Server
	google *fcmtest.Server
	pool   *clientpool.Pool
}

func newProviders(t *testing.T) *providers {
	t.Helper()
	apple := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{Environment: push.Production,
		ClientCAs: apnstest.TrustAppleWWDR(t), Intermediates: apnstest.AppleIntermediates(t)}})
	google := fcmtest.NewServer(t, fcmtest.Options{})
	pool := clientpool.New(clientpool.Config{
		APNs: apns.Config{ProductionURL: apple.URL, SandboxURL: "https://127.0.0.1:1", RootCAs: apple.RootCAs},
		FCM:  fcm.Config{Endpoint: google.URL, TokenURL: google.TokenURL, RootCAs: google.RootCAs},
	})
	t.Cleanup(pool.Close)
	return &providers{apple: apple, google: google, pool: pool}
}

// TestLiveChecksAgainstFakeProviders: live rejections by the fake Apple
// and Google at create answer 422 with the live code and the provider's
// reason and store nothing; the same rejection on re-validation marks the
// stored credential invalid; an unreachable provider saves with a warning.
func TestLiveChecksAgainstFakeProviders(t *testing.T) {
	eachBackend(t, testLiveChecksAgainstFakeProviders)
}

func testLiveChecksAgainstFakeProviders(t *testing.T, backend string) {
	pv := newProviders(t)
	a := newAPIOn(t, backend, pv.pool)
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(testcred.PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := id.P12(pkcs12.LegacyRC2, p12Password, true)
	if err != nil {
		t.Fatal(err)
	}
	revokedID, err := ca.IssuePush(testcred.PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	pv.apple.Revoke(revokedID.Cert)
	revokedP12, err := revokedID.P12(pkcs12.LegacyRC2, p12Password, true)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{ProjectID: "acme-push"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	unknownSA, err := testcred.ServiceAccount{ProjectID: "acme-push"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := pv.google.AddServiceAccount(sa); err != nil {
		t.Fatal(err)
	}
	apnsBody := func(p12 []byte) map[string]any {
		return map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(p12), "password": p12Password}
	}

	rejected := []struct {
		name       string
		body       map[string]any
		wantCode   string
		wantReason string
	}{
		{"revoked certificate", map[string]any{"name": "A", "apns": apnsBody(revokedP12)}, "certificate_rejected", ""},
		{"key Google does not know", map[string]any{"name": "A", "fcm": map[string]any{"service_account_json": string(unknownSA)}}, "oauth_invalid_grant", "invalid_grant"},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := a.do(t, "acme", "POST", "/v1/apps", tt.body)
			if status != 422 || str(body, "error", "code") != tt.wantCode || str(body, "error", "details", "live", "code") != tt.wantCode {
				t.Fatalf("= %d %v, want 422 %s", status, body, tt.wantCode)
			}
			if !strings.Contains(str(body, "error", "details", "live", "provider_reason"), tt.wantReason) {
				t.Errorf("provider_reason = %q, want it to hold %q", str(body, "error", "details", "live", "provider_reason"), tt.wantReason)
			}
		})
	}
	if _, _, list := a.do(t, "acme", "GET", "/v1/apps", nil); len(list["apps"].([]any)) != 0 {
		t.Fatalf("a live-rejected upload was stored: %v", list)
	}

	status, _, app := a.do(t, "acme", "POST", "/v1/apps", map[string]any{"name": "A", "apns": apnsBody(p12), "fcm": map[string]any{"service_account_json": string(sa)}})
	if status != 201 || str(app, "apns", "live", "code") != "live_ok" || str(app, "fcm", "live", "code") != "live_ok" {
		t.Fatalf("create = %d %v", status, app)
	}
	appID := str(app, "id")
	if got := pv.apple.Counts().Total; got == 0 {
		t.Error("the fake Apple saw no request")
	}

	// Apple revokes the stored certificate; Google deletes the key.
	pv.apple.Revoke(id.Cert)
	pv.google.DeleteAccount(str(app, "fcm", "client_email"))
	status, _, val := a.do(t, "acme", "POST", "/v1/apps/"+appID+"/validate", nil)
	if status != 200 || str(val, "app", "apns", "status") != "invalid" || str(val, "app", "fcm", "status") != "invalid" {
		t.Fatalf("re-validate = %d %v, want both invalid", status, val)
	}
	if str(val, "app", "fcm", "reason") != "oauth_invalid_grant" || str(val, "app", "apns", "reason") != "certificate_rejected" {
		t.Errorf("reasons = %s / %s", str(val, "app", "apns", "reason"), str(val, "app", "fcm", "reason"))
	}

	// An unreachable provider (the sandbox URL points nowhere) saves with a warning.
	sandboxID, err := ca.IssuePush(testcred.PushCert{BundleID: "com.acme.app", Environment: testcred.SandboxOnly})
	if err != nil {
		t.Fatal(err)
	}
	sandboxP12, err := sandboxID.P12(pkcs12.LegacyRC2, p12Password, true)
	if err != nil {
		t.Fatal(err)
	}
	status, _, app = a.do(t, "acme", "POST", "/v1/apps", map[string]any{"name": "S", "environment": "sandbox", "apns": apnsBody(sandboxP12)})
	warnings, _ := json.Marshal(app["apns"].(map[string]any)["warnings"])
	if status != 201 || !strings.Contains(string(warnings), `"unreachable"`) || str(app, "apns", "reason") != "unreachable" {
		t.Fatalf("unreachable create = %d %v", status, app)
	}
}
