package apnstest

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mobilepush/shared/push"
)

// Object identifiers Apple puts in push certificates.
var (
	oidSandbox    = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 1}
	oidProduction = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 2}
	oidTopics     = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 6}
	oidUID        = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// CertificateID identifies a certificate credential for ScriptCredential
// and Request.Credential: "sha256:" and the hex SHA-256 of its DER.
func CertificateID(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TokenID identifies a provider-token credential: "<team id>.<key id>".
func TokenID(teamID, keyID string) string { return teamID + "." + keyID }

type tokenUse struct {
	bearer string
	iat    time.Time
}

// TLSConfig returns the TLS configuration to serve the gateway with:
// serverCert as the server's certificate, HTTP/2 only, and client
// certificates requested (token-auth clients send none; no acceptable
// issuers are advertised, so a client sends whatever it has) and checked
// as Config says. A certificate from an untrusted issuer, outside its
// validity dates, or revoked fails the handshake with a bad_certificate
// alert.
func (g *Gateway) TLSConfig(serverCert tls.Certificate) *tls.Config {
	c := &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		NextProtos:   []string{"h2"},
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert,
	}
	c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return nil
		}
		if !g.cfg.AcceptAnyIssuer && g.cfg.ClientCAs == nil {
			return errors.New("apnstest: no client certificate issuer is trusted")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, der := range raw {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return err
			}
			certs[i] = c
		}
		leaf := certs[0]
		now := time.Now()
		if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			return errors.New("apnstest: client certificate is outside its validity period")
		}
		if !g.cfg.AcceptAnyIssuer {
			inter := x509.NewCertPool()
			if g.cfg.Intermediates != nil {
				inter = g.cfg.Intermediates.Clone()
			}
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			opts := x509.VerifyOptions{Roots: g.cfg.ClientCAs, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}
			if _, err := leaf.Verify(opts); err != nil {
				return fmt.Errorf("apnstest: client certificate: %w", err)
			}
		}
		g.mu.Lock()
		revoked := g.revoked[CertificateID(leaf)]
		g.mu.Unlock()
		if revoked {
			return errors.New("apnstest: client certificate is revoked")
		}
		return nil
	}
	return c
}

// auth is the authenticated credential of a request.
type auth struct {
	id     string
	topics []string // allowed topics; nil with anyTopic
	any    bool     // any topic is allowed
	uid    string   // certificate UID (default topic)
}

func (g *Gateway) authenticate(r *http.Request, now time.Time) (*auth, *Response) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return g.certificateAuth(r.TLS.PeerCertificates[0], now)
	}
	return g.tokenAuth(r, now)
}

func forbidden(reason string) *Response {
	return &Response{Status: http.StatusForbidden, Reason: reason}
}

func (g *Gateway) certificateAuth(cert *x509.Certificate, now time.Time) (*auth, *Response) {
	a := &auth{id: CertificateID(cert)}
	g.mu.Lock()
	revoked := g.revoked[a.id]
	g.mu.Unlock()
	if revoked || now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return a, forbidden("BadCertificate")
	}
	want := oidProduction
	if g.cfg.Environment == push.Sandbox {
		want = oidSandbox
	}
	var hasEnv bool
	for _, e := range cert.Extensions {
		switch {
		case e.Id.Equal(want):
			hasEnv = true
		case e.Id.Equal(oidTopics):
			a.topics = append(a.topics, decodeTopics(e.Value)...)
		}
	}
	if !hasEnv {
		return a, forbidden("BadCertificateEnvironment")
	}
	for _, n := range cert.Subject.Names {
		if n.Type.Equal(oidUID) {
			a.uid, _ = n.Value.(string)
		}
	}
	if a.uid != "" && !slices.Contains(a.topics, a.uid) {
		a.topics = append([]string{a.uid}, a.topics...)
	}
	return a, nil
}

func decodeTopics(v []byte) []string {
	var items []asn1.RawValue
	if _, err := asn1.Unmarshal(v, &items); err != nil {
		return nil
	}
	var out []string
	for _, it := range items {
		if it.Class == asn1.ClassUniversal && it.Tag == asn1.TagUTF8String {
			out = append(out, string(it.Bytes))
		}
	}
	return out
}

func (g *Gateway) tokenAuth(r *http.Request, now time.Time) (*auth, *Response) {
	h := r.Header.Get("authorization")
	if h == "" {
		return nil, forbidden("MissingProviderToken")
	}
	scheme, jwt, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || jwt == "" {
		return nil, forbidden("InvalidProviderToken")
	}
	tok, err := parseJWT(jwt)
	if err != nil {
		return nil, forbidden("InvalidProviderToken")
	}
	a := &auth{id: TokenID(tok.iss, tok.kid)}
	g.mu.Lock()
	defer g.mu.Unlock()
	pub := g.keys[a.id]
	switch {
	case pub != nil:
		if !tok.verify(pub) {
			return a, forbidden("InvalidProviderToken")
		}
	case !g.cfg.AcceptAnyIssuer:
		return a, forbidden("InvalidProviderToken")
	}
	if g.bearers[a.id] == nil {
		g.bearers[a.id] = map[string]struct{}{}
	}
	g.bearers[a.id][jwt] = struct{}{}
	if g.expired[jwt] || now.Sub(tok.iat) > ProviderTokenTTL {
		return a, forbidden("ExpiredProviderToken")
	}
	if tok.iat.After(now.Add(time.Minute)) {
		return a, forbidden("InvalidProviderToken")
	}
	// Apple limits how often a provider replaces its token on a connection.
	connKey := r.RemoteAddr + "|" + a.id
	prev, seen := g.lastTok[connKey]
	if seen && prev.bearer != jwt && !g.expired[prev.bearer] &&
		now.Sub(prev.iat) <= ProviderTokenTTL && tok.iat.Sub(prev.iat) < TokenUpdateMinimum {
		return a, &Response{Status: http.StatusTooManyRequests, Reason: "TooManyProviderTokenUpdates"}
	}
	g.lastTok[connKey] = tokenUse{bearer: jwt, iat: tok.iat}
	if topics, ok := g.topics[tok.iss]; ok {
		a.topics = topics
	} else if g.cfg.AcceptAnyIssuer {
		a.any = true
	}
	return a, nil
}

type jwtToken struct {
	kid, iss string
	iat      time.Time
	signed   []byte // header.claims
	sig      []byte // r || s
}

func parseJWT(s string) (*jwtToken, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	dec := base64.RawURLEncoding
	hb, err1 := dec.DecodeString(parts[0])
	cb, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string          `json:"iss"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cb, &claims); err != nil {
		return nil, err
	}
	iat, err := strconv.ParseInt(string(claims.Iat), 10, 64)
	if hdr.Alg != "ES256" || hdr.Kid == "" || claims.Iss == "" || err != nil || len(sig) != 64 {
		return nil, errors.New("not an APNs provider token")
	}
	return &jwtToken{kid: hdr.Kid, iss: claims.Iss, iat: time.Unix(iat, 0),
		signed: []byte(parts[0] + "." + parts[1]), sig: sig}, nil
}

func (t *jwtToken) verify(pub *ecdsa.PublicKey) bool {
	sum := sha256.Sum256(t.signed)
	r := new(big.Int).SetBytes(t.sig[:32])
	s := new(big.Int).SetBytes(t.sig[32:])
	return ecdsa.Verify(pub, sum[:], r, s)
}
