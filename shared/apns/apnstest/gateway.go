// Package apnstest is a faithful fake of Apple's Push Notification service
// (APNs): a real http.Handler, served over HTTP/2 and TLS, that checks what
// Apple checks and answers with Apple's status codes and JSON bodies.
//
// A Gateway is the handler. It authenticates every request the way APNs
// does — a TLS client certificate (chain, validity dates, revocation,
// environment extension, topics) or an ES256 provider token (signature
// against registered keys, kid, iss, iat age, refresh rate) — validates the
// path and headers, and then answers 200, a scripted answer, or Apple's
// error. It counts everything it receives.
//
// NewServer starts a Gateway on 127.0.0.1 with its own certificate; its
// RootCAs is the pool a client must trust. `mobilepush serve
// --fake-gateways` serves a Gateway on its own listener the same way
// (see NewServer and Gateway.TLSConfig).
package apnstest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// Limits APNs enforces.
const (
	MaxPayload         = 4096             // bytes, every push type but voip
	MaxVoIPPayload     = 5120             // bytes, apns-push-type voip
	MaxCollapseID      = 64               // bytes
	ProviderTokenTTL   = time.Hour        // a provider token older than this is ExpiredProviderToken
	TokenUpdateMinimum = 20 * time.Minute // a fresher token sooner than this is TooManyProviderTokenUpdates
)

// Config configures a Gateway. The zero value is a production gateway that
// trusts no client certificate issuer and knows no provider keys.
type Config struct {
	// Environment is the APNs host the gateway plays: production (the
	// default) or sandbox. A certificate must carry the matching extension.
	Environment push.Environment
	// ClientCAs verifies client certificate chains in the TLS handshake
	// (an unknown issuer or an expired certificate is a TLS alert).
	// Ignored when AcceptAnyIssuer is set.
	ClientCAs *x509.CertPool
	// AcceptAnyIssuer accepts a client certificate from any issuer (the
	// offline demo cannot know Apple's keys) and a well-formed ES256
	// provider token for any key it has not registered; topics,
	// environment, validity dates and token age are still checked, and
	// any topic is allowed for an unregistered team.
	AcceptAnyIssuer bool
	// RejectUnknownDevices answers 400 BadDeviceToken for a well-formed
	// device token not registered with RegisterDevice, as Apple does for a
	// token that was never issued. Otherwise every well-formed token is a
	// device.
	RejectUnknownDevices bool
	// Latency is added to every answer (after the request is read).
	Latency time.Duration
	// Inject, when set, is asked about every authenticated, valid request
	// before scripts apply; returning true answers with its Response. It
	// must be safe for concurrent use.
	Inject func(Request) (Response, bool)
	// Now is the gateway's clock (default time.Now). It governs provider
	// token age and certificate dates checked per request.
	Now func() time.Time
}

// Abort makes the gateway reset the request's stream instead of answering.
type Abort int

// Abort modes.
const (
	NoAbort         Abort = iota
	AbortBeforeRead       // reset before the request is read: it does not count as received
	AbortAfterRead        // reset after the request is read and counted: the client cannot know
)

// Response is a scripted or injected answer.
type Response struct {
	Status    int           // HTTP status; 0 means 200
	Reason    string        // Apple's reason, sent as {"reason":...} for a non-200 status
	Timestamp time.Time     // sent with status 410; default now
	Delay     time.Duration // waited before answering
	Abort     Abort         // reset the stream instead of answering
}

// Request is what the gateway received, with the answer it gave.
type Request struct {
	Token      string      // the device token from the path
	Topic      string      // apns-topic as sent (empty if absent)
	PushType   string      // apns-push-type as sent
	Priority   string      // apns-priority as sent
	Expiration string      // apns-expiration as sent
	CollapseID string      // apns-collapse-id as sent
	ID         string      // apns-id answered (the request's or a generated one)
	Header     http.Header // all request headers
	Payload    []byte      // the body
	Credential string      // CertificateID or TokenID of the authenticated credential
	Status     int         // the status answered
	Reason     string      // the reason answered
	RemoteAddr string      // the client's connection
}

// CertificateID identifies a certificate credential for ScriptCredential
// and Request.Credential: "sha256:" and the hex SHA-256 of its DER.
func CertificateID(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TokenID identifies a provider-token credential: "<team id>.<key id>".
func TokenID(teamID, keyID string) string { return teamID + "." + keyID }

// Counts is a snapshot of what a Gateway received.
type Counts struct {
	Total        int            // requests answered (aborted ones excluded)
	Aborted      int            // requests reset by AbortBeforeRead or AbortAfterRead
	ByStatus     map[int]int    // answers per HTTP status
	ByReason     map[string]int // answers per reason (200 = "")
	ByToken      map[string]int // requests per device token (received, aborted after read included)
	ByID         map[string]int // requests per apns-id (received, aborted after read included)
	ByCredential map[string]int // requests per credential id
}

// Gateway is the fake APNs: an http.Handler safe for concurrent use.
// Serve it over TLS with TLSConfig so it sees client certificates.
type Gateway struct {
	cfg Config

	mu       sync.Mutex
	keys     map[string]*ecdsa.PublicKey // TokenID -> public key
	topics   map[string][]string         // team id -> allowed topics
	devices  map[string]bool
	revoked  map[string]bool                // CertificateID
	expired  map[string]bool                // bearer tokens declared expired
	lastTok  map[string]tokenUse            // remote addr + TokenID -> last accepted token
	scripts  map[string][]Response          // device token -> queue
	credScr  map[string][]Response          // credential id -> queue
	bearers  map[string]map[string]struct{} // TokenID -> distinct bearers seen
	counts   Counts
	last     *Request
	lastBy   map[string]*Request // device token -> last request
	recorded []*Request          // every received request, oldest first
}

type tokenUse struct {
	bearer string
	iat    time.Time
}

// NewGateway returns a Gateway configured by cfg.
func NewGateway(cfg Config) *Gateway {
	if cfg.Environment == "" {
		cfg.Environment = push.Production
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gateway{
		cfg:     cfg,
		keys:    map[string]*ecdsa.PublicKey{},
		topics:  map[string][]string{},
		devices: map[string]bool{},
		revoked: map[string]bool{},
		expired: map[string]bool{},
		lastTok: map[string]tokenUse{},
		scripts: map[string][]Response{},
		credScr: map[string][]Response{},
		bearers: map[string]map[string]struct{}{},
		lastBy:  map[string]*Request{},
	}
	g.resetCountsLocked()
	return g
}

// Environment returns the environment the gateway plays.
func (g *Gateway) Environment() push.Environment { return g.cfg.Environment }

// RegisterKey registers the public half of a .p8 auth key: provider
// tokens with iss teamID and kid keyID must verify with pub.
func (g *Gateway) RegisterKey(teamID, keyID string, pub *ecdsa.PublicKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys[TokenID(teamID, keyID)] = pub
}

// AllowTopics registers topics (bundle ids) of teamID. Token-auth pushes
// of a team must name one of its topics; a team without registered
// topics may push to any topic only when AcceptAnyIssuer is set.
func (g *Gateway) AllowTopics(teamID string, topics ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.topics[teamID] = append(g.topics[teamID], topics...)
}

// RegisterDevice registers device tokens (see Config.RejectUnknownDevices).
func (g *Gateway) RegisterDevice(tokens ...string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range tokens {
		g.devices[strings.ToLower(t)] = true
	}
}

// Revoke revokes a client certificate: new TLS handshakes with it fail
// with an alert, and requests on connections already open answer 403
// BadCertificate.
func (g *Gateway) Revoke(cert *x509.Certificate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked[CertificateID(cert)] = true
}

// ExpireTokens declares every provider token seen so far for (teamID,
// keyID) expired: they answer 403 ExpiredProviderToken from now on, as if
// an hour had passed, and a fresh token replacing one of them is never
// TooManyProviderTokenUpdates.
func (g *Gateway) ExpireTokens(teamID, keyID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for b := range g.bearers[TokenID(teamID, keyID)] {
		g.expired[b] = true
	}
}

// ProviderTokens returns how many distinct provider tokens (JWTs) the
// gateway has seen for (teamID, keyID).
func (g *Gateway) ProviderTokens(teamID, keyID string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.bearers[TokenID(teamID, keyID)])
}

// Script queues answers for a device token: each request to it that
// passes authentication and validation takes the next one; when the queue
// is empty the gateway answers normally. Script(tok, r429, r429) answers
// 429 twice, then 200.
func (g *Gateway) Script(token string, rs ...Response) {
	g.mu.Lock()
	defer g.mu.Unlock()
	token = strings.ToLower(token)
	g.scripts[token] = append(g.scripts[token], rs...)
}

// ScriptCredential queues answers for every request authenticated by
// the credential id (CertificateID or TokenID), taken before per-token
// scripts.
func (g *Gateway) ScriptCredential(id string, rs ...Response) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.credScr[id] = append(g.credScr[id], rs...)
}

// Counts returns a snapshot of the counters.
func (g *Gateway) Counts() Counts {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.counts
	c.ByStatus = maps.Clone(c.ByStatus)
	c.ByReason = maps.Clone(c.ByReason)
	c.ByToken = maps.Clone(c.ByToken)
	c.ByID = maps.Clone(c.ByID)
	c.ByCredential = maps.Clone(c.ByCredential)
	return c
}

// Total returns how many requests the gateway answered.
func (g *Gateway) Total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts.Total
}

// Last returns the last request received, and whether there was one.
func (g *Gateway) Last() (Request, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		return Request{}, false
	}
	return *g.last, true
}

// LastFor returns the last request received for a device token.
func (g *Gateway) LastFor(token string) (Request, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.lastBy[strings.ToLower(token)]
	if r == nil {
		return Request{}, false
	}
	return *r, true
}

// Requests returns every request received, oldest first. The gateway
// keeps them until Reset; call Reset between rounds of a long benchmark.
func (g *Gateway) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Request, len(g.recorded))
	for i, r := range g.recorded {
		out[i] = *r
	}
	return out
}

// Reset clears the counters and the recorded requests (not keys, topics,
// devices, revocations or scripts).
func (g *Gateway) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.resetCountsLocked()
}

func (g *Gateway) resetCountsLocked() {
	g.counts = Counts{
		ByStatus: map[int]int{}, ByReason: map[string]int{}, ByToken: map[string]int{},
		ByID: map[string]int{}, ByCredential: map[string]int{},
	}
	g.last = nil
	g.lastBy = map[string]*Request{}
	g.recorded = nil
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

// ServeHTTP answers one APNs request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := g.cfg.Now()
	id := r.Header.Get("apns-id")
	if r.Method != http.MethodPost {
		g.answer(w, r, nil, Response{Status: http.StatusMethodNotAllowed, Reason: "MethodNotAllowed"}, id)
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok {
		g.answer(w, r, nil, Response{Status: http.StatusNotFound, Reason: "BadPath"}, id)
		return
	}
	if token == "" {
		g.answer(w, r, nil, Response{Status: http.StatusBadRequest, Reason: "MissingDeviceToken"}, id)
		return
	}
	rec := &Request{
		Token:      token,
		Topic:      r.Header.Get("apns-topic"),
		PushType:   r.Header.Get("apns-push-type"),
		Priority:   r.Header.Get("apns-priority"),
		Expiration: r.Header.Get("apns-expiration"),
		CollapseID: r.Header.Get("apns-collapse-id"),
		Header:     r.Header.Clone(),
		RemoteAddr: r.RemoteAddr,
	}
	a, fail := g.authenticate(r, now)
	if a != nil {
		rec.Credential = a.id
	}
	if fail != nil {
		g.answer(w, r, rec, *fail, id)
		return
	}
	if fail := g.checkHeaders(r, rec, a); fail != nil {
		g.answer(w, r, rec, *fail, id)
		return
	}
	scripted, has := g.next(*rec, a.id, token)
	if has && scripted.Abort == AbortBeforeRead {
		g.abort(rec, false)
	}
	limit := MaxPayload
	if rec.PushType == "voip" {
		limit = MaxVoIPPayload
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	rec.Payload = body
	switch {
	case len(body) > limit:
		g.answer(w, r, rec, Response{Status: http.StatusRequestEntityTooLarge, Reason: "PayloadTooLarge"}, id)
		return
	case len(bytes.TrimSpace(body)) == 0:
		g.answer(w, r, rec, Response{Status: http.StatusBadRequest, Reason: "PayloadEmpty"}, id)
		return
	}
	if !validToken(token) {
		g.answer(w, r, rec, Response{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}, id)
		return
	}
	if has {
		if scripted.Abort == AbortAfterRead {
			g.abort(rec, true)
		}
		g.answer(w, r, rec, scripted, id)
		return
	}
	if g.cfg.RejectUnknownDevices {
		g.mu.Lock()
		known := g.devices[strings.ToLower(token)]
		g.mu.Unlock()
		if !known {
			g.answer(w, r, rec, Response{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}, id)
			return
		}
	}
	g.answer(w, r, rec, Response{Status: http.StatusOK}, id)
}

// next returns the injected or scripted answer for a valid request.
func (g *Gateway) next(rec Request, cred, token string) (Response, bool) {
	if g.cfg.Inject != nil {
		if resp, ok := g.cfg.Inject(rec); ok {
			return resp, true
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if q := g.credScr[cred]; len(q) > 0 {
		g.credScr[cred] = q[1:]
		return q[0], true
	}
	token = strings.ToLower(token)
	if q := g.scripts[token]; len(q) > 0 {
		g.scripts[token] = q[1:]
		return q[0], true
	}
	return Response{}, false
}

// abort resets the stream; received says whether the request counts as read.
func (g *Gateway) abort(rec *Request, received bool) {
	g.mu.Lock()
	g.counts.Aborted++
	if received {
		g.counts.ByToken[strings.ToLower(rec.Token)]++
		if id := rec.Header.Get("apns-id"); id != "" {
			g.counts.ByID[strings.ToLower(id)]++
		}
	}
	g.mu.Unlock()
	panic(http.ErrAbortHandler)
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

var pushTypes = []string{"alert", "background", "location", "voip", "complication",
	"fileprovider", "mdm", "liveactivity", "pushtotalk", "widgets", "controls"}

func (g *Gateway) checkHeaders(r *http.Request, rec *Request, a *auth) *Response {
	bad := func(reason string) *Response { return &Response{Status: http.StatusBadRequest, Reason: reason} }
	for _, k := range []string{"Apns-Topic", "Apns-Id", "Apns-Push-Type", "Apns-Priority", "Apns-Expiration", "Apns-Collapse-Id", "Authorization"} {
		if len(r.Header[k]) > 1 {
			return bad("DuplicateHeaders")
		}
	}
	switch {
	case rec.Topic == "" && a.uid != "" && len(a.topics) <= 1:
		rec.Topic = a.uid // a single-topic certificate's default topic
	case rec.Topic == "":
		return bad("MissingTopic")
	case strings.ContainsAny(rec.Topic, " /\t"):
		return bad("BadTopic")
	case !a.any && !slices.Contains(a.topics, rec.Topic):
		return bad("TopicDisallowed")
	}
	if rec.PushType != "" && !slices.Contains(pushTypes, rec.PushType) {
		return bad("InvalidPushType")
	}
	switch rec.Priority {
	case "", "1", "5", "10":
	default:
		return bad("BadPriority")
	}
	if rec.Expiration != "" {
		if n, err := strconv.ParseInt(rec.Expiration, 10, 64); err != nil || n < 0 {
			return bad("BadExpirationDate")
		}
	}
	if len(rec.CollapseID) > MaxCollapseID {
		return bad("BadCollapseId")
	}
	if id := r.Header.Get("apns-id"); id != "" && !validUUID(id) {
		return bad("BadMessageId")
	}
	return nil
}

func validToken(t string) bool {
	if len(t) < 64 || len(t) > 200 || len(t)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// answer records rec (nil before a device token is known) and writes resp.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request, rec *Request, resp Response, id string) {
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	if id == "" || !validUUID(id) {
		id = newUUID()
	}
	if rec != nil {
		rec.ID = id
		rec.Status = resp.Status
		rec.Reason = resp.Reason
	}
	g.mu.Lock()
	g.counts.Total++
	g.counts.ByStatus[resp.Status]++
	g.counts.ByReason[resp.Reason]++
	if rec != nil {
		tok := strings.ToLower(rec.Token)
		g.counts.ByToken[tok]++
		if h := r.Header.Get("apns-id"); h != "" {
			g.counts.ByID[strings.ToLower(h)]++
		}
		if rec.Credential != "" {
			g.counts.ByCredential[rec.Credential]++
		}
		g.last = rec
		g.lastBy[tok] = rec
		g.recorded = append(g.recorded, rec)
	}
	g.mu.Unlock()

	if d := g.cfg.Latency + resp.Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h := w.Header()
	h["apns-id"] = []string{id}
	if g.cfg.Environment == push.Sandbox {
		h["apns-unique-id"] = []string{newUUID()}
	}
	if resp.Status == http.StatusOK {
		w.WriteHeader(http.StatusOK)
		return
	}
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(resp.Status)
	if resp.Status == http.StatusGone {
		ts := resp.Timestamp
		if ts.IsZero() {
			ts = g.cfg.Now()
		}
		fmt.Fprintf(w, `{"reason":%q,"timestamp":%d}`, resp.Reason, ts.UnixMilli())
		return
	}
	fmt.Fprintf(w, `{"reason":%q}`, resp.Reason)
}
