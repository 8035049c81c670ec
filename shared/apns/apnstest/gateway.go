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
	"crypto/ecdsa"
	"crypto/x509"
	"strings"
	"sync"
	"time"

	"mobilepush/shared/push"
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
	// Intermediates are issuers the gateway knows itself, as Apple knows
	// its WWDR intermediates: a client may then present only its leaf (as
	// a Keychain export or Apple's aps.cer gives it). Ignored when
	// AcceptAnyIssuer is set.
	Intermediates *x509.CertPool
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
