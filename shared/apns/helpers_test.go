package apns_test

import (
	"crypto/ecdsa"
	"testing"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

const (
	bundle = "com.example.app"
	teamID = "ABCDE12345"
	keyID  = "KEY1234567"
	devTok = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

var payload = []byte(`{"aps":{"alert":{"title":"Hi","body":"there"}},"link":"app://x"}`)

// certAuth is the stored form of id, as certinfo normalizes it: the chain
// PEM leaf first and a PKCS#8 private key PEM.
func certAuth(t *testing.T, id *testcred.Identity) apns.Auth {
	t.Helper()
	return certAuthB(t, id)
}

func certAuthB(t testing.TB, id *testcred.Identity) apns.Auth {
	t.Helper()
	chain, key, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	return apns.CertificateAuth(push.NewRedacted(chain), push.NewRedacted(key))
}

func tokenAuth(t *testing.T, key *ecdsa.PrivateKey, kid, team string) apns.Auth {
	t.Helper()
	p8, err := testcred.P8(key)
	if err != nil {
		t.Fatal(err)
	}
	return apns.TokenAuth(push.NewRedacted(p8), kid, team)
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := testcred.ECKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// config points a Client at s (and, for the other environment, at s too).
func config(s *apnstest.Server) apns.Config {
	return apns.Config{ProductionURL: s.URL, SandboxURL: s.URL, RootCAs: s.RootCAs, HTTP2Client: stack}
}

func newClient(t *testing.T, cfg apns.Config, auth apns.Auth, env push.Environment) *apns.Client {
	t.Helper()
	c, err := apns.NewClient(cfg, auth, env)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
