package httpapi_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/credential"
	"mobilepush/shared/testcred"
)

// TestSigningRequestFlow: certificates without a Mac, end to end through
// the API on both stores with the live check against the fake Apple:
// make a signing request, download it, have the stand-in Apple sign it,
// upload aps.cer (JSON and multipart, DER and PEM), roll back; the
// refusals (no_pending_request, key_mismatch) and the key never shown.
func TestSigningRequestFlow(t *testing.T) { eachBackend(t, testSigningRequestFlow) }

func testSigningRequestFlow(t *testing.T, backend string) {
	pv := newProviders(t)
	a := newAPIOn(t, backend, pv.pool)
	c := mint(t)
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	st, _, app := a.do(t, "acme", "POST", "/v1/apps", map[string]any{"id": "csr", "name": "Acme Shop",
		"apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password}})
	if st != 201 {
		t.Fatalf("create: %d %v", st, app)
	}
	firstFP := str(app, "apns", "fingerprint_sha256")

	// Nothing pending: GET and DELETE are 404, and any .cer is refused,
	// even the current credential's own certificate.
	for _, m := range []string{"GET", "DELETE"} {
		if st, _, b := a.do(t, "acme", m, "/v1/apps/csr/apns/csr", nil); st != 404 {
			t.Errorf("%s with nothing pending: %d %v", m, st, b)
		}
	}
	st, _, b := a.do(t, "acme", "PUT", "/v1/apps/csr/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "cer_base64": b64(c.cer)}})
	if st != 422 || str(b, "error", "code") != "no_pending_request" || !strings.Contains(str(b, "error", "message"), "POST /v1/apps/csr/apns/csr") {
		t.Fatalf("a .cer with nothing pending: %d %v", st, b)
	}

	// Make the request; the body is optional.
	st, hdr, req := a.do(t, "acme", "POST", "/v1/apps/csr/apns/csr", nil)
	if st != 201 || hdr.Get("Location") != "/v1/apps/csr/apns/csr" {
		t.Fatalf("create signing request: %d %v", st, req)
	}
	csrPEM := str(req, "csr_pem")
	created, err1 := time.Parse(time.RFC3339Nano, str(req, "created_at"))
	expires, err2 := time.Parse(time.RFC3339Nano, str(req, "expires_at"))
	if err1 != nil || err2 != nil || expires.Sub(created) != 30*24*time.Hour || len(str(req, "key_fingerprint_sha256")) != 64 || str(req, "common_name") != "Acme Shop" {
		t.Fatalf("signing request = %v", req)
	}
	blk, _ := pem.Decode([]byte(csrPEM))
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("csr_pem is not a PEM request: %q", csrPEM)
	}
	parsed, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || parsed.CheckSignature() != nil || parsed.SignatureAlgorithm != x509.SHA256WithRSA || parsed.Subject.CommonName != "Acme Shop" {
		t.Fatalf("request: %v, signature %v, algorithm %v", err, parsed.CheckSignature(), parsed.SignatureAlgorithm)
	}
	if n := parsed.PublicKey.(interface{ Size() int }).Size(); n != 256 {
		t.Errorf("key size %d bytes, want RSA 2048", n)
	}
	if st, _, got := a.do(t, "acme", "GET", "/v1/apps/csr/apns/csr", nil); st != 200 || mustJSON(got) != mustJSON(req) {
		t.Errorf("GET = %d %v, want %v", st, got, req)
	}
	if st, _, got := a.do(t, "acme", "GET", "/v1/apps/csr", nil); st != 200 || str(got, "apns_signing_request", "key_fingerprint_sha256") != str(req, "key_fingerprint_sha256") ||
		str(got, "apns_signing_request", "csr_pem") != "" {
		t.Errorf("the app does not show its pending request in short: %d %v", st, got["apns_signing_request"])
	}
	// Another tenant sees none of it.
	if st, _, _ := a.do(t, "globex", "GET", "/v1/apps/csr/apns/csr", nil); st != 404 {
		t.Errorf("another tenant's GET: %d", st)
	}
	if st, _, _ := a.do(t, "globex", "POST", "/v1/apps/csr/apns/csr", nil); st != 404 {
		t.Errorf("another tenant's POST: %d", st)
	}

	// The download, by query and by Accept.
	for _, dl := range []struct{ query, accept string }{{"?format=file", ""}, {"", "application/pkcs10"}} {
		hreq, _ := http.NewRequest("GET", a.srv.URL+"/v1/apps/csr/apns/csr"+dl.query, nil)
		hreq.Header.Set("Authorization", "Bearer "+a.tokens["acme"])
		if dl.accept != "" {
			hreq.Header.Set("Accept", dl.accept)
		}
		resp, err := http.DefaultClient.Do(hreq)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkcs10" ||
			resp.Header.Get("Content-Disposition") != `attachment; filename=csr.certSigningRequest` || string(body) != csrPEM {
			t.Errorf("download %+v: %d %v %q", dl, resp.StatusCode, resp.Header, body)
		}
	}
	if st, _, _ := a.do(t, "acme", "GET", "/v1/apps/csr/apns/csr?format=zip", nil); st != 400 {
		t.Errorf("unknown format: %d", st)
	}

	// A certificate of another request: key_mismatch naming the request's date.
	otherKey, err := testcred.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	otherCSR, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	otherCer, err := ca.SignRequest(otherCSR, testcred.PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	st, _, b = a.do(t, "acme", "PUT", "/v1/apps/csr/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "cer_base64": b64(otherCer)}})
	if st != 422 || str(b, "error", "code") != "key_mismatch" || !strings.Contains(str(b, "error", "message"), created.UTC().Format("2006-01-02")) {
		t.Fatalf("a certificate of another request: %d %v", st, b)
	}

	// Apple signs our request; a certificate for another bundle is refused
	// with the .p12 code, and the request stays pending.
	wrongBundle, err := ca.SignRequest([]byte(csrPEM), testcred.PushCert{BundleID: "com.acme.other"})
	if err != nil {
		t.Fatal(err)
	}
	st, _, b = a.do(t, "acme", "PUT", "/v1/apps/csr/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "cer_base64": b64(wrongBundle)}})
	if st != 422 || str(b, "error", "code") != "bundle_id_mismatch" {
		t.Fatalf("a certificate for another bundle: %d %v", st, b)
	}
	cer, err := ca.SignRequest([]byte(csrPEM), testcred.PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(cer)
	key := pendingKeyText(t, a, "acme", "csr")
	before := pv.apple.Total()
	st, _, got := a.do(t, "acme", "PUT", "/v1/apps/csr/apns", form(t, map[string]string{"apns.bundle_id": "com.acme.app"}, map[string][]byte{"apns.cer": testcred.CertificatePEM(cer)}))
	if st != 200 || str(got, "apns", "status") != "ok" || str(got, "apns", "live", "code") != "live_ok" || str(got, "apns", "rollback_available") != "true" {
		t.Fatalf("upload of aps.cer: %d %v", st, got)
	}
	if r, ok := pv.apple.Last(); !ok || pv.apple.Total() != before+1 || r.Credential != apnstest.CertificateID(leaf) {
		t.Errorf("the live check did not reach Apple with the new certificate (%d -> %d, %+v)", before, pv.apple.Total(), r)
	}
	if st, _, _ := a.do(t, "acme", "GET", "/v1/apps/csr/apns/csr", nil); st != 404 || got["apns_signing_request"] != nil {
		t.Errorf("the request is still pending after its certificate was uploaded: %d %v", st, got["apns_signing_request"])
	}
	st, _, audit := a.do(t, "acme", "GET", "/v1/apps/csr/audit", nil)
	if st != 200 || !strings.Contains(mustJSON(audit), credential.FromSigningRequest) || !strings.Contains(mustJSON(audit), string(credential.ActionSigningRequest)) {
		t.Errorf("audit: %d %v", st, audit)
	}
	// The consumed request cannot be used twice.
	st, _, b = a.do(t, "acme", "PUT", "/v1/apps/csr/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "cer_base64": b64(cer)}})
	if st != 422 || str(b, "error", "code") != "no_pending_request" {
		t.Errorf("the same .cer again: %d %v", st, b)
	}
	// Rollback returns the .p12 credential.
	if st, _, rb := a.do(t, "acme", "POST", "/v1/apps/csr/apns/rollback", nil); st != 200 || str(rb, "apns", "fingerprint_sha256") != firstFP {
		t.Errorf("rollback: %d %v", st, rb)
	}

	// A second request: JSON with a subject, DER upload, then discard of a third.
	st, _, req2 := a.do(t, "acme", "POST", "/v1/apps/csr/apns/csr", map[string]any{"common_name": "Acme Push", "email": "ops@acme.example"})
	if st != 201 || str(req2, "email") != "ops@acme.example" {
		t.Fatalf("second request: %d %v", st, req2)
	}
	if st, _, b := a.do(t, "acme", "POST", "/v1/apps/csr/apns/csr", map[string]any{"email": "not an address"}); st != 400 {
		t.Errorf("a bad email: %d %v", st, b)
	}
	cer2, err := ca.SignRequest([]byte(str(req2, "csr_pem")), testcred.PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _, got := a.do(t, "acme", "PUT", "/v1/apps/csr/apns", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "cer_base64": b64(cer2)}}); st != 200 || str(got, "apns", "status") != "ok" {
		t.Fatalf("DER upload: %d %v", st, got)
	}
	if st, _, _ := a.do(t, "acme", "POST", "/v1/apps/csr/apns/csr", nil); st != 201 {
		t.Fatalf("third request: %d", st)
	}
	if st, _, _ := a.do(t, "acme", "DELETE", "/v1/apps/csr/apns/csr", nil); st != 204 {
		t.Errorf("discard: %d", st)
	}
	if st, _, _ := a.do(t, "acme", "DELETE", "/v1/apps/csr/apns/csr", nil); st != 404 {
		t.Errorf("discard again: %d", st)
	}

	// The pending key never appeared in a response or a log line.
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, body := range a.bodies {
		if strings.Contains(body, key) {
			t.Fatalf("a response holds the pending key: %s", body)
		}
	}
	if strings.Contains(a.logs.String(), key) || strings.Contains(a.logs.String(), "PRIVATE KEY") {
		t.Fatal("the logs hold the pending key")
	}
}

// pendingKeyText reads a line of the app's pending private key from the
// secret store behind the API, for the leak scan.
func pendingKeyText(t *testing.T, a *api, tenant, id string) string {
	t.Helper()
	app, err := a.meta.App(context.Background(), tenant, id)
	if err != nil || app.PendingAPNs == nil {
		t.Fatalf("no pending key stored: %v", err)
	}
	v, err := a.secrets.ReadVersion(context.Background(), app.PendingAPNs.Secret.ID, app.PendingAPNs.Secret.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	s := string(v.Reveal())
	i := strings.Index(s, "KEY-----")
	if i < 0 || len(s) < i+60 {
		t.Fatalf("the pending key secret does not hold a PEM key")
	}
	return s[i+12 : i+60] // base64 of the key, after the BEGIN line's "\n" (escaped in JSON)
}

// TestPEMBundleUploads: a certificate and its key as PEM text, in JSON
// and multipart, encrypted with a password, with the .p12 codes.
func TestPEMBundleUploads(t *testing.T) { eachBackend(t, testPEMBundleUploads) }

func testPEMBundleUploads(t *testing.T, backend string) {
	a := newAPIOn(t, backend, accept)
	id := apnstest.IssuePush(t, testcred.PushCert{BundleID: "com.acme.app"})
	bundle := func(b testcred.PEMBundle) string {
		out, err := id.Bundle(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if st, _, b := a.do(t, "acme", "POST", "/v1/apps", map[string]any{"id": "pem", "name": "PEM",
		"apns": map[string]any{"bundle_id": "com.acme.app", "pem": bundle(testcred.PEMBundle{BagAttributes: true})}}); st != 201 || str(b, "apns", "kind") != "apns_p12" {
		t.Fatalf("create with pem: %d %v", st, b)
	}
	enc := bundle(testcred.PEMBundle{Password: "pem-pass"})
	for _, tt := range []struct {
		name string
		body any
		want int
		code string
	}{
		{"encrypted, JSON", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "pem": enc, "password": "pem-pass"}}, 200, ""},
		{"encrypted, multipart", form(t, map[string]string{"apns.bundle_id": "com.acme.app", "apns.password": "pem-pass"}, map[string][]byte{"apns.pem": []byte(enc)}), 200, ""},
		{"wrong password", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "pem": enc, "password": "nope"}}, 422, "wrong_password"},
		{"no key", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "pem": string(testcred.CertificatePEM(id.Cert.Raw))}}, 422, "no_private_key"},
		{"another bundle", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.other", "pem": enc, "password": "pem-pass"}}, 422, "bundle_id_mismatch"},
		{"pem and p12 at once", map[string]any{"apns": map[string]any{"bundle_id": "com.acme.app", "pem": enc, "p12_base64": b64(pkcs12p(t, id)), "password": "x"}}, 400, ""},
	} {
		st, _, b := a.do(t, "acme", "PUT", "/v1/apps/pem/apns", tt.body)
		if st != tt.want || (tt.code != "" && str(b, "error", "code") != tt.code) {
			t.Errorf("%s: %d %v, want %d %s", tt.name, st, b, tt.want, tt.code)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, body := range a.bodies {
		if strings.Contains(body, "pem-pass") || strings.Contains(body, "PRIVATE KEY") {
			t.Fatalf("a response holds secret material: %s", body)
		}
	}
}

func pkcs12p(t *testing.T, id *testcred.Identity) []byte {
	t.Helper()
	b, err := id.P12(pkcs12.Modern2023, "x", false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
