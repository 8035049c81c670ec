package apnstest_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/testcred"
)

const (
	bundle  = "com.example.app"
	teamID  = "ABCDE12345"
	keyID   = "KEY1234567"
	devTok  = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	payload = `{"aps":{"alert":"hi"}}`
)

func tlsCert(id *testcred.Identity) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{id.Cert.Raw}, PrivateKey: id.Key, Leaf: id.Cert}
	for _, ca := range id.Chain {
		c.Certificate = append(c.Certificate, ca.Raw)
	}
	return c
}

// certClient is the real apns2 certificate client pointed at s.
func certClient(t *testing.T, s *apnstest.Server, id *testcred.Identity) *apns2.Client {
	t.Helper()
	c := apns2.NewClient(tlsCert(id))
	c.Host = s.URL
	tc := c.HTTPClient.Transport.(*http2.Transport).TLSClientConfig
	tc.RootCAs = s.RootCAs
	// With TLS 1.3 a rejected client certificate's alert races the first
	// request; TLS 1.2 makes it the handshake's result.
	tc.MaxVersion = tls.VersionTLS12
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// tokenClient is the real apns2 token client pointed at s.
func tokenClient(t *testing.T, s *apnstest.Server, key *ecdsa.PrivateKey, kid, team string) (*apns2.Client, *token.Token) {
	t.Helper()
	tok := &token.Token{AuthKey: key, KeyID: kid, TeamID: team}
	c := apns2.NewTokenClient(tok)
	c.Host = s.URL
	c.HTTPClient.Transport.(*http2.Transport).TLSClientConfig = &tls.Config{RootCAs: s.RootCAs}
	t.Cleanup(c.CloseIdleConnections)
	return c, tok
}

// rawClient is an HTTP/2 client with an optional client certificate, for
// requests apns2 cannot make (bad headers, other methods).
func rawClient(s *apnstest.Server, certs ...tls.Certificate) *http.Client {
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: s.RootCAs, Certificates: certs}}}
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := testcred.ECKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signJWT makes an ES256 provider token with the given iat.
func signJWT(t *testing.T, key *ecdsa.PrivateKey, kid, iss string, iat time.Time) string {
	t.Helper()
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": kid})
	c, _ := json.Marshal(map[string]any{"iss": iss, "iat": iat.Unix()})
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signed))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signed + "." + enc.EncodeToString(sig)
}

func note() *apns2.Notification {
	return &apns2.Notification{DeviceToken: devTok, Topic: bundle, Payload: []byte(payload)}
}

func mustPush(t *testing.T, c *apns2.Client, n *apns2.Notification) *apns2.Response {
	t.Helper()
	r, err := c.Push(n)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return r
}

func isAlert(err error) bool {
	return err != nil && strings.Contains(err.Error(), "remote error: tls:")
}

func certPool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
