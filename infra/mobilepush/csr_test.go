package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// signWithApple has the stand-in Apple portal sign a request file.
func signWithApple(t *testing.T, csr []byte, bundle string) []byte {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	cer, err := ca.SignRequest(csr, testcred.PushCert{BundleID: bundle})
	if err != nil {
		t.Fatalf("the request does not sign: %v", err)
	}
	return cer
}

// TestCSRBesideServe: with serve holding the data directory, `mobilepush
// csr` goes through its HTTP API; Apple's certificate for the request is
// then accepted by the server.
func TestCSRBesideServe(t *testing.T) {
	base, token, data := startServer(t)
	appID := registerAPNsApp(t, base, token)
	bearerFile := writeFile(t, t.TempDir(), "token", []byte(token+"\n"))
	out := filepath.Join(t.TempDir(), "shop.certSigningRequest")

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"csr", "--app", appID, "--data", data, "--url", base, "--token-file", bearerFile, "--out", out, "--email", "ops@example.com"}, nil, &stdout, &stderr)
	if code != exitOK || !strings.Contains(stdout.String(), "through the server at "+base) {
		t.Fatalf("csr exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	csr, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(csr, []byte("-----BEGIN CERTIFICATE REQUEST-----")) {
		t.Fatalf("request file: %v %q", err, csr)
	}
	cer := signWithApple(t, csr, "com.example.app")
	var app struct {
		APNs struct{ Status, Fingerprint string }
	}
	if st := apiCall(t, "PUT", base+"/v1/apps/"+appID+"/apns", token, map[string]any{"apns": map[string]any{"bundle_id": "com.example.app", "cer_base64": base64.StdEncoding.EncodeToString(cer)}}, &app); st != 200 || app.APNs.Status != "ok" {
		t.Fatalf("upload of aps.cer = %d %+v", st, app)
	}
	if st := apiCall(t, "GET", base+"/v1/apps/"+appID+"/apns/csr", token, nil, &map[string]any{}); st != 404 {
		t.Errorf("the request is still pending after the upload: %d", st)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"--tenant with a server", []string{"--app", appID, "--tenant", "other", "--token-file", bearerFile}, exitUsage, "drop --tenant"},
		{"no token", []string{"--app", appID}, exitUsage, "no API token"},
		{"unknown app", []string{"--app", "nope", "--token-file", bearerFile}, exitFail, "404"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var so, se bytes.Buffer
			t.Setenv("MOBILEPUSH_TOKEN", "")
			args := append([]string{"csr", "--data", data, "--url", base, "--out", filepath.Join(t.TempDir(), "x")}, tt.args...)
			if code := run(context.Background(), args, nil, &so, &se); code != tt.code || !strings.Contains(se.String(), tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, tt.code, se.String(), tt.want)
			}
		})
	}
}

// TestCSROnDataDirectory: without a server the request is made on the
// data directory; a server started later pairs Apple's certificate with
// the key kept there.
func TestCSROnDataDirectory(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(data, "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := credential.NewService(credential.Config{Meta: st, Secrets: st})
	app, err := svc.Create(context.Background(), credential.CreateRequest{Tenant: "default", Name: "Shop", Enabled: true, Environment: push.Production})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"csr", "--app", app.ID, "--data", data, "--out", "-"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("csr exit %d: %s", code, stderr.String())
	}
	blk, _ := pem.Decode(stdout.Bytes())
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" || !strings.Contains(stderr.String(), "for tenant default") {
		t.Fatalf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	req, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || req.Subject.CommonName != "Shop" {
		t.Fatalf("request: %v %v", err, req.Subject)
	}
	var se bytes.Buffer
	if code := run(context.Background(), []string{"csr", "--app", app.ID, "--data", data, "--tenant", "other", "--out", "-"}, nil, &bytes.Buffer{}, &se); code != exitFail || !strings.Contains(se.String(), "does not exist") {
		t.Errorf("another tenant's app: exit %d, %s", code, se.String())
	}

	token := mintToken(t, data)
	p := startServeProc(t, data)
	cer := signWithApple(t, stdout.Bytes(), "com.example.shop")
	var got struct {
		APNs struct {
			Status   string `json:"status"`
			BundleID string `json:"bundle_id"`
		} `json:"apns"`
	}
	if st := apiCall(t, "PUT", p.base+"/v1/apps/"+app.ID+"/apns", token, map[string]any{"apns": map[string]any{"bundle_id": "com.example.shop", "cer_base64": base64.StdEncoding.EncodeToString(cer)}}, &got); st != 200 || got.APNs.Status != "ok" || got.APNs.BundleID != "com.example.shop" {
		t.Fatalf("upload of aps.cer to the server = %d %+v", st, got)
	}
}

// TestInspectCer: `inspect --apns-cer FILE --key FILE` pairs a
// certificate with a key made outside mobilepush.
func TestInspectCer(t *testing.T) {
	dir := t.TempDir()
	key, other := mustKey(t), mustKey(t)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "scripted"}, SignatureAlgorithm: x509.SHA256WithRSA}, key)
	if err != nil {
		t.Fatal(err)
	}
	cer := writeFile(t, dir, "aps.cer", signWithApple(t, der, "com.acme.app"))
	keyFile := writeFile(t, dir, "key.pem", pkcs8PEM(t, key))
	otherFile := writeFile(t, dir, "other.pem", pkcs8PEM(t, other))
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"paired", []string{"--apns-cer", cer, "--key", keyFile, "--bundle-id", "com.acme.app", "--environment", "production"}, exitOK, `"code": "ok"`},
		{"another key", []string{"--apns-cer", cer, "--key", otherFile, "--bundle-id", "com.acme.app"}, exitFail, `"code": "key_mismatch"`},
		{"no key", []string{"--apns-cer", cer, "--bundle-id", "com.acme.app"}, exitUsage, ""},
		{"key without cer", []string{"--apns-p12", cer, "--key", keyFile, "--password", "", "--bundle-id", "com.acme.app"}, exitUsage, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var so, se bytes.Buffer
			code := run(context.Background(), append([]string{"inspect"}, tt.args...), nil, &so, &se)
			if code != tt.code || !strings.Contains(so.String(), tt.want) {
				t.Errorf("exit %d (want %d): %s %s", code, tt.code, so.String(), se.String())
			}
			if strings.Contains(so.String(), "PRIVATE KEY") {
				t.Error("the report shows the key")
			}
		})
	}
}

func mustKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := testcred.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8PEM(t *testing.T, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
