package apnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ServerConfig configures NewServer.
type ServerConfig struct {
	Config
	// Addr is the address to listen on; default "127.0.0.1:0". Only
	// loopback addresses are sensible: the server certificate names
	// 127.0.0.1, ::1 and localhost.
	Addr string
	// MaxConcurrentStreams is the HTTP/2 stream limit per connection the
	// server advertises; default 1000, as APNs does.
	MaxConcurrentStreams int
}

// Server is a Gateway served over HTTP/2 and TLS on a loopback listener.
type Server struct {
	*Gateway
	// URL is the base URL to give clients, e.g. "https://127.0.0.1:43123".
	URL string
	// RootCAs trusts the server's certificate: give it to clients.
	RootCAs *x509.CertPool
	// Certificate is the server's certificate.
	Certificate *x509.Certificate

	srv   *http.Server
	ln    net.Listener
	opens atomic.Int64
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  chan struct{}
}

// NewServer starts a Gateway on cfg.Addr with a fresh self-signed
// certificate. Close it when done.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.MaxConcurrentStreams == 0 {
		cfg.MaxConcurrentStreams = 1000
	}
	cert, leaf, err := ServerCertificate()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("apnstest: listen: %w", err)
	}
	g := NewGateway(cfg.Config)
	s := &Server{
		Gateway:     g,
		URL:         "https://" + ln.Addr().String(),
		RootCAs:     x509.NewCertPool(),
		Certificate: leaf,
		ln:          ln,
		conns:       map[net.Conn]struct{}{},
		done:        make(chan struct{}),
	}
	s.RootCAs.AddCert(leaf)
	protocols := new(http.Protocols)
	protocols.SetHTTP2(true)
	s.srv = &http.Server{
		Handler:           g,
		TLSConfig:         g.TLSConfig(cert),
		Protocols:         protocols,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: cfg.MaxConcurrentStreams},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          quietLog(),
		ConnState: func(c net.Conn, st http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch st {
			case http.StateNew:
				s.opens.Add(1)
				s.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(s.conns, c)
			}
		},
	}
	go func() {
		defer close(s.done)
		_ = s.srv.ServeTLS(ln, "", "")
	}()
	return s, nil
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int { return int(s.opens.Load()) }

// OpenConnections returns how many connections are open now.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// CloseClientConnections resets every open connection, as a network
// failure would.
func (s *Server) CloseClientConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.Close()
	}
}

// Close stops the server and closes every connection.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ServerCertificate makes a fresh self-signed ECDSA P-256 certificate for
// 127.0.0.1, ::1 and localhost, valid for a day, for serving a Gateway.
func ServerCertificate() (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("apnstest: server key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("apnstest: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "apnstest fake APNs"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("apnstest: server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("apnstest: server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}

// quietLog discards the server's own log lines (TLS handshake failures
// are expected: the gateway rejects certificates on purpose).
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
