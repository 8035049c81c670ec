package clientpool_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"strings"
	"testing"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/clientpool"
	"mobilepush/shared/credential"
	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
	"mobilepush/shared/testcred"
)

// world is a fake Apple (both environments, strict trust) and a fake
// Google (strict keys) with a Pool pointed at them.
type world struct {
	prod, sandbox *apnstest.Server
	google        *fcmtest.Server
	pool          *clientpool.Pool
	ca            *testcred.Authority
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	trust := apnstest.TrustAppleWWDR(t)
	w := &world{ca: ca}
	for _, env := range []push.Environment{push.Production, push.Sandbox} {
		s, err := apnstest.NewServer(apnstest.ServerConfig{Config: apnstest.Config{Environment: env, ClientCAs: trust}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if env == push.Production {
			w.prod = s
		} else {
			w.sandbox = s
		}
	}
	w.google = fcmtest.NewServer(t, fcmtest.Options{})
	roots := x509.NewCertPool()
	roots.AddCert(w.prod.Certificate)
	roots.AddCert(w.sandbox.Certificate)
	w.pool = clientpool.New(clientpool.Config{
		APNs: apns.Config{ProductionURL: w.prod.URL, SandboxURL: w.sandbox.URL, RootCAs: roots},
		FCM:  fcm.Config{Endpoint: w.google.URL, TokenURL: w.google.TokenURL, RootCAs: w.google.RootCAs},
	})
	t.Cleanup(w.pool.Close)
	return w
}

func certMaterial(t *testing.T, id *testcred.Identity) credential.Material {
	t.Helper()
	chain, key, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	return credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(key)}
}

func p8Material(t *testing.T) (credential.Material, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := testcred.ECKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := testcred.P8(k)
	if err != nil {
		t.Fatal(err)
	}
	return credential.Material{Kind: push.APNsP8, PrivateKeyPEM: push.NewRedacted(p8), KeyID: "ABC123DEFG", TeamID: "TEAM123456"}, k
}

func saMaterial(t *testing.T, project string) (credential.Material, []byte) {
	t.Helper()
	ks, err := testcred.RSAKeys(1)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{ProjectID: project, Key: ks[0]}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted(sa)}, sa
}

func TestProve(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	issue := func(spec testcred.PushCert) *testcred.Identity {
		id, err := w.ca.IssuePush(spec)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	universal := issue(testcred.PushCert{BundleID: "com.acme.app"})
	sandboxOnly := issue(testcred.PushCert{BundleID: "com.acme.app", Environment: testcred.SandboxOnly})
	revoked := issue(testcred.PushCert{BundleID: "com.acme.app"})
	w.prod.Revoke(revoked.Cert)
	foreignCA, err := testcred.NewRoot(x509Name("Not Apple"))
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := foreignCA.IssuePush(testcred.PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	registeredP8, key := p8Material(t)
	w.prod.RegisterKey("TEAM123456", "ABC123DEFG", &key.PublicKey)
	w.prod.AllowTopics("TEAM123456", "com.acme.app")
	unknownP8, _ := p8Material(t)
	unknownP8.KeyID = "ZZZ123DEFG"
	goodSA, goodJSON := saMaterial(t, "acme-push")
	if err := w.google.AddServiceAccount(goodJSON); err != nil {
		t.Fatal(err)
	}
	unknownSA, _ := saMaterial(t, "unknown-project")
	deniedSA, deniedJSON := saMaterial(t, "denied-project")
	if err := w.google.AddServiceAccount(deniedJSON); err != nil {
		t.Fatal(err)
	}
	w.google.ScriptProject("denied-project", fcmtest.PermissionDenied("denied-project"))
	mismatchSA, mismatchJSON := saMaterial(t, "mismatch-project")
	if err := w.google.AddServiceAccount(mismatchJSON); err != nil {
		t.Fatal(err)
	}
	w.google.ScriptProject("mismatch-project", fcmtest.SenderIDMismatch())

	tests := []struct {
		name  string
		m     credential.Material
		env   push.Environment
		topic string
		want  push.LiveCode
	}{
		{"certificate on production", certMaterial(t, universal), push.Production, "com.acme.app", push.LiveOK},
		{"certificate on sandbox", certMaterial(t, universal), push.Sandbox, "com.acme.app", push.LiveOK},
		{"voip topic", certMaterial(t, universal), push.Production, "com.acme.app.voip", push.LiveOK},
		{"topic the certificate lacks", certMaterial(t, universal), push.Production, "com.other.app", push.TopicNotAllowed},
		{"sandbox-only on production", certMaterial(t, sandboxOnly), push.Production, "com.acme.app", push.EnvironmentRejected},
		{"revoked certificate", certMaterial(t, revoked), push.Production, "com.acme.app", push.CertificateRejected},
		{"issuer Apple does not trust", certMaterial(t, foreign), push.Production, "com.acme.app", push.CertificateRejected},
		{"registered .p8", registeredP8, push.Production, "com.acme.app", push.LiveOK},
		{"unknown .p8", unknownP8, push.Production, "com.acme.app", push.ProviderTokenRejected},
		{"service account", goodSA, "", "", push.LiveOK},
		{"unknown service account", unknownSA, "", "", push.OAuthInvalidGrant},
		{"project denies", deniedSA, "", "", push.PermissionDenied},
		{"sender id mismatch", mismatchSA, "", "", push.SenderIDMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := w.pool.Prove(ctx, tt.m, tt.env, tt.topic)
			if got.Code != tt.want {
				t.Fatalf("Prove = %+v, want %s", got, tt.want)
			}
			if got.Message == "" {
				t.Error("no message for the administrator")
			}
			if strings.Contains(got.Message+got.ProviderReason, "PRIVATE KEY") {
				t.Error("live result carries key material")
			}
		})
	}
}

func TestProveUnreachable(t *testing.T) {
	w := newWorld(t)
	m, _ := saMaterial(t, "acme-push")
	pool := clientpool.New(clientpool.Config{
		APNs: apns.Config{ProductionURL: "https://127.0.0.1:1", SandboxURL: "https://127.0.0.1:1"},
		FCM:  fcm.Config{Endpoint: "https://127.0.0.1:1", TokenURL: "https://127.0.0.1:1/token"},
	})
	defer pool.Close()
	id, err := w.ca.IssuePush(testcred.PushCert{})
	if err != nil {
		t.Fatal(err)
	}
	for name, mat := range map[string]credential.Material{"apns": certMaterial(t, id), "fcm": m} {
		if got := pool.Prove(context.Background(), mat, push.Production, "com.example.app"); got.Code != push.LiveUnreachable {
			t.Errorf("%s: Prove = %+v, want unreachable", name, got)
		}
	}
}

func TestClientsAreCachedPerCredentialAndEnvironment(t *testing.T) {
	w := newWorld(t)
	id, err := w.ca.IssuePush(testcred.PushCert{})
	if err != nil {
		t.Fatal(err)
	}
	m := certMaterial(t, id)
	a1, err := w.pool.APNsClient(m, push.Production)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := w.pool.APNsClient(certMaterial(t, id), push.Production)
	a3, _ := w.pool.APNsClient(m, push.Sandbox)
	other, _ := w.pool.APNsClient(certMaterial(t, mustIssue(t, w.ca)), push.Production)
	if a1 != a2 {
		t.Error("the same credential and environment built a second client")
	}
	if a1 == a3 || a1 == other {
		t.Error("a different environment or credential reused a client")
	}
	sa, _ := saMaterial(t, "p")
	f1, err := w.pool.FCMClient(context.Background(), sa)
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := w.pool.FCMClient(context.Background(), sa)
	if f1 != f2 {
		t.Error("the same service account built a second FCM client")
	}
}

func TestTestPush(t *testing.T) {
	w := newWorld(t)
	id := mustIssue(t, w.ca)
	ans, err := w.pool.TestPush(context.Background(), certMaterial(t, id), push.Production, "com.example.app", registry.TestMessage{Token: strings.Repeat("ab", 32), Title: "Hi", Body: "there"})
	if err != nil || !ans.Delivered || ans.Status != 200 || ans.MessageID == "" {
		t.Fatalf("apns test push = %+v, %v", ans, err)
	}
	w.prod.Script(strings.Repeat("cd", 32), apnstest.Response{Status: 410, Reason: "Unregistered"})
	ans, err = w.pool.TestPush(context.Background(), certMaterial(t, id), push.Production, "com.example.app", registry.TestMessage{Token: strings.Repeat("cd", 32), Title: "Hi"})
	if err != nil || ans.Delivered || ans.Status != 410 || ans.Reason != "Unregistered" {
		t.Fatalf("apns test push to a dead token = %+v, %v", ans, err)
	}
	sa, saJSON := saMaterial(t, "acme-push")
	if err := w.google.AddServiceAccount(saJSON); err != nil {
		t.Fatal(err)
	}
	ans, err = w.pool.TestPush(context.Background(), sa, "", "", registry.TestMessage{Token: "fcm-device-1", Title: "Hi", Body: "there"})
	if err != nil || !ans.Delivered || ans.MessageID == "" {
		t.Fatalf("fcm test push = %+v, %v", ans, err)
	}
	w.google.ScriptToken("fcm-dead", fcmtest.Unregistered())
	ans, err = w.pool.TestPush(context.Background(), sa, "", "", registry.TestMessage{Token: "fcm-dead", Title: "Hi"})
	if err != nil || ans.Delivered || ans.Reason != "UNREGISTERED" {
		t.Fatalf("fcm test push to a dead token = %+v, %v", ans, err)
	}
}

func mustIssue(t *testing.T, ca *testcred.Authority) *testcred.Identity {
	t.Helper()
	id, err := ca.IssuePush(testcred.PushCert{})
	if err != nil {
		t.Fatal(err)
	}
	return id
}
