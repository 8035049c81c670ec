package apnstest

import (
	"crypto/x509"
	"testing"

	"mobilepush/shared/testcred"
)

// Start starts a Server for cfg and closes it when t ends; it fails t
// when the server cannot start.
func Start(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("apnstest.NewServer: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// appleWWDR is testcred's stand-in Apple authority; it fails t when it
// cannot be made.
func appleWWDR(t testing.TB) *testcred.Authority {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TrustAppleWWDR returns a pool holding testcred's stand-in Apple root,
// for a Config's ClientCAs: the gateway then accepts the certificates
// IssuePush makes.
func TrustAppleWWDR(t testing.TB) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(appleWWDR(t).Root())
	return p
}

// AppleIntermediates returns a pool holding testcred's stand-in Apple
// WWDR intermediate, for a Config's Intermediates: the gateway then
// accepts a leaf presented without its chain, as Apple does.
func AppleIntermediates(t testing.TB) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, c := range appleWWDR(t).Chain() {
		p.AddCert(c)
	}
	return p
}

// IssuePush mints a push certificate identity from testcred's stand-in
// Apple authority, with an RSA key from testcred's pool when p.Key is nil.
func IssuePush(t testing.TB, p testcred.PushCert) *testcred.Identity {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	if p.Key == nil {
		keys, err := testcred.RSAKeys(1)
		if err != nil {
			t.Fatal(err)
		}
		p.Key = keys[0]
	}
	id, err := ca.IssuePush(p)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
