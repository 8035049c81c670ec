package fcmtest

import (
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// Server is a Fake served over HTTP/2 TLS on 127.0.0.1 by httptest.
type Server struct {
	*Fake
	// URL is the base URL, for fcm.Config.Endpoint.
	URL string
	// TokenURL is the OAuth token endpoint, for fcm.Config.TokenURL.
	TokenURL string
	// RootCAs holds the server's certificate: the pool clients must
	// trust (fcm.Config.RootCAs).
	RootCAs *x509.CertPool

	srv   *httptest.Server
	conns atomic.Int64
}

// NewServer starts a Fake with opts on an HTTP/2 TLS httptest server and
// closes it when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	f := New(opts)
	srv := httptest.NewUnstartedServer(f)
	s := &Server{Fake: f, srv: srv}
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.RootCAs = x509.NewCertPool()
	s.RootCAs.AddCert(srv.Certificate())
	s.URL, s.TokenURL = srv.URL, srv.URL+TokenPath
	return s
}

// Connections returns how many client connections the server accepted.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// CloseClientConnections drops every open connection to the server.
func (s *Server) CloseClientConnections() { s.srv.CloseClientConnections() }
