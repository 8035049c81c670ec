package apnstest_test

import (
	"net"
	"net/http"
	"testing"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/testcred"
)

// TestStandaloneGateway serves a Gateway the way `mobilepush serve
// --fake-gateways` does: its own listener and http.Server, TLS from
// Gateway.TLSConfig, any issuer accepted.
func TestStandaloneGateway(t *testing.T) {
	t.Parallel()
	g := apnstest.NewGateway(apnstest.Config{AcceptAnyIssuer: true})
	cert, leaf, err := apnstest.ServerCertificate()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g, TLSConfig: g.TLSConfig(cert)}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })

	s := &apnstest.Server{Gateway: g, URL: "https://" + ln.Addr().String(), Certificate: leaf}
	s.RootCAs = certPool(leaf)
	r := mustPush(t, certClient(t, s, apnstest.IssuePush(t, testcred.PushCert{})), note())
	if r.StatusCode != 200 {
		t.Errorf("got %d %q", r.StatusCode, r.Reason)
	}
	if last, ok := g.Last(); !ok || last.Credential == "" {
		t.Errorf("gateway did not see the client certificate: %+v", last)
	}
}
