//go:build linux

package e2e

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/credential"
	"mobilepush/shared/testcred"
)

// driveSigningRequest is step 5 of TestE2E, certificates without a Mac,
// through the register function: a new app, a signing request, Apple's
// aps.cer for it (signed by the stand-in authority), proven live by the
// fake Apple; the request is consumed and its key's secret scheduled for
// deletion in Secrets Manager.
func driveSigningRequest(t *testing.T, ctx context.Context, register *function, claims map[string]string, apple *apnstest.Server, sm *secretsmanager.Client, prefix string) {
	t.Helper()
	const bundle = "com.example.e2e.nomac"
	var app struct {
		ID string `json:"id"`
	}
	status, body := callAPI(t, ctx, register, http.MethodPost, "/v1/apps", nil, claims, map[string]any{"name": "E2E no-Mac app", "environment": "production"}, &app)
	if status != http.StatusCreated {
		t.Fatalf("register the no-Mac app: %d %s", status, body)
	}
	params := map[string]string{"id": app.ID}
	csrPath := "/v1/apps/" + app.ID + "/apns/csr"
	var req struct {
		CSRPEM    string `json:"csr_pem"`
		ExpiresAt string `json:"expires_at"`
	}
	if status, body = callAPI(t, ctx, register, http.MethodPost, csrPath, params, claims, map[string]any{}, &req); status != http.StatusCreated || !strings.HasPrefix(req.CSRPEM, "-----BEGIN CERTIFICATE REQUEST-----") {
		t.Fatalf("POST %s: %d %s", csrPath, status, body)
	}
	if strings.Contains(body, "PRIVATE KEY") {
		t.Fatalf("the signing request answer holds a private key")
	}
	if status, body = callAPI(t, ctx, register, http.MethodGet, csrPath, params, claims, nil, nil); status != http.StatusOK || !strings.Contains(body, req.ExpiresAt) {
		t.Fatalf("GET %s: %d %s", csrPath, status, body)
	}
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	cer, err := ca.SignRequest([]byte(req.CSRPEM), testcred.PushCert{BundleID: bundle})
	if err != nil {
		t.Fatal(err)
	}
	apple.Reset()
	var rotated struct {
		APNs struct {
			Status string `json:"status"`
			Live   struct {
				Code string `json:"code"`
			} `json:"live"`
		} `json:"apns"`
	}
	up := map[string]any{"apns": map[string]any{"bundle_id": bundle, "cer_base64": base64.StdEncoding.EncodeToString(cer)}}
	status, body = callAPI(t, ctx, register, http.MethodPut, "/v1/apps/"+app.ID+"/apns", map[string]string{"id": app.ID, "platform": "apns"}, claims, up, &rotated)
	if status != http.StatusOK || rotated.APNs.Status != "ok" || rotated.APNs.Live.Code != "live_ok" {
		t.Fatalf("upload of aps.cer: %d %s", status, body)
	}
	if r, ok := apple.Last(); !ok || r.Topic != bundle {
		t.Errorf("the live check did not reach the fake Apple for %s: %+v", bundle, r)
	}
	if status, body = callAPI(t, ctx, register, http.MethodGet, csrPath, params, claims, nil, nil); status != http.StatusNotFound {
		t.Errorf("GET %s after the upload: %d %s, want 404", csrPath, status, body)
	}
	if status, body = callAPI(t, ctx, register, http.MethodGet, "/v1/apps/"+app.ID+"/audit", params, claims, nil, nil); status != http.StatusOK || !strings.Contains(body, credential.FromSigningRequest) {
		t.Errorf("audit: %d %s, want a rotation %q", status, body, credential.FromSigningRequest)
	}

	// The pending key was a secret of its own, now scheduled for deletion.
	out, err := sm.ListSecrets(ctx, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true),
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{prefix}}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range out.SecretList {
		if name := aws.ToString(s.Name); strings.Contains(name, "/"+app.ID+"/apns-pending-") {
			found = true
			if s.DeletedDate == nil {
				t.Errorf("the consumed pending key %s is not scheduled for deletion", name)
			}
		}
	}
	if !found {
		t.Errorf("no pending key secret of app %s under %s", app.ID, prefix)
	}
	t.Logf("signing request flow: app %s got its APNs certificate from a signing request", app.ID)
}
