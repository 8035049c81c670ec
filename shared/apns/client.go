// Package apns is mobilepush's client of Apple's Push Notification
// service (the APNs gateway): a Client per (credential version, environment) built from the
// stored, normalized credential material (never from a .p12), that pushes
// pre-marshaled payloads over a small pool of multiplexed HTTP/2
// connections; a live check that proves a credential without a visible
// push (docs/ARCHITECTURE.md, Live check); and Classify, the sender's reading of an answer
// (docs/ARCHITECTURE.md, Outcomes).
//
// Provider tokens are made by github.com/sideshow/apns2/token; the request
// path is this package's own, on mobilepush/shared/h2client (x/net/http2's
// framer and HPACK coder, as apns2's transport is): a payload marshaled
// once is sent to every device as is, the frames of concurrent pushes
// share TLS records, and a stale provider token is refreshed once for all
// pushes in flight.
package apns

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http/httpguts"

	"mobilepush/shared/h2client"
	"mobilepush/shared/push"
)

// Apple's hosts, the defaults of Config.
const (
	ProductionURL = apns2.HostProduction  // https://api.push.apple.com
	SandboxURL    = apns2.HostDevelopment // https://api.sandbox.push.apple.com
)

// Config is where and how a Client talks to APNs. The zero value talks to
// Apple with the system's roots (which honour SSL_CERT_FILE).
type Config struct {
	ProductionURL string         // default ProductionURL
	SandboxURL    string         // default SandboxURL
	RootCAs       *x509.CertPool // trust for the gateway's server certificate; nil = system roots
	// DialTimeout bounds a TCP connect plus TLS handshake; default 10 s.
	DialTimeout time.Duration
	// RequestTimeout bounds one push when the caller's context has no
	// deadline (with its re-send after a provider-token refresh, if any);
	// default 30 s.
	RequestTimeout time.Duration
	// ReadIdleTimeout is how long a quiet connection waits before a
	// health-check PING; default 15 s (apns2's value).
	ReadIdleTimeout time.Duration
	// MaxConns bounds the HTTP/2 connections of one Client; default 8.
	// Another is opened when the open ones have as many streams in
	// flight as Apple allows (1000 each). (HTTP2Client std opens as many
	// as its Transport wants.)
	MaxConns int
	// HTTP2Client is the HTTP/2 stack pushes go over: h2client.Lean (the
	// default) or h2client.Std (golang.org/x/net/http2's Transport).
	HTTP2Client h2client.Stack
}

// URL returns the base URL configured for env.
func (c Config) URL(env push.Environment) string {
	if env == push.Sandbox {
		if c.SandboxURL != "" {
			return c.SandboxURL
		}
		return SandboxURL
	}
	if c.ProductionURL != "" {
		return c.ProductionURL
	}
	return ProductionURL
}

// Auth is a credential a Client authenticates with: a client certificate
// or a provider-token (.p8) key. Build it with CertificateAuth or
// TokenAuth; it holds secrets only as push.Redacted.
type Auth struct {
	chainPEM push.Redacted
	keyPEM   push.Redacted
	keyID    string
	teamID   string
}

// CertificateAuth is certificate authentication from stored material: the
// certificate chain PEM (leaf first) and its PKCS#8 private key PEM.
func CertificateAuth(chainPEM, keyPEM push.Redacted) Auth {
	return Auth{chainPEM: chainPEM, keyPEM: keyPEM}
}

// TokenAuth is provider-token authentication from a .p8 key (PKCS#8 PEM,
// ECDSA P-256) with its key id and team id.
func TokenAuth(keyPEM push.Redacted, keyID, teamID string) Auth {
	return Auth{keyPEM: keyPEM, keyID: keyID, teamID: teamID}
}

// IsToken reports whether a is provider-token authentication.
func (a Auth) IsToken() bool { return a.chainPEM.IsZero() }

// Notification is one push to one device. Payload is the JSON payload,
// marshaled once by the caller and shared read-only by every push.
type Notification struct {
	DeviceToken string    // hex device token
	Topic       string    // apns-topic: the bundle id (or .voip, .complication, ...)
	Payload     []byte    // the JSON payload, sent as is
	PushType    string    // apns-push-type; "" sends "alert"
	Priority    int       // apns-priority (10, 5 or 1); 0 omits it
	Expiration  time.Time // apns-expiration; zero omits it
	CollapseID  string    // apns-collapse-id
	ID          string    // apns-id (a canonical UUID); "" lets Apple choose
}

// Response is the provider's answer to a push.
type Response struct {
	Status    int       // HTTP status; 200 = accepted
	Reason    string    // Apple's reason for a non-200 status
	ID        string    // apns-id of the notification
	UniqueID  string    // apns-unique-id (sandbox only)
	Timestamp time.Time // with 410: when the token stopped being valid
	// TokenRefreshed reports that the first answer was 403
	// ExpiredProviderToken and the push was re-sent once with a fresh
	// provider token; this is the answer to the re-send.
	TokenRefreshed bool
}

// Client pushes notifications to one APNs environment with one
// credential. It is safe for concurrent use and multiplexes pushes over
// HTTP/2 connections, opening another connection when the streams of the
// open ones are exhausted. Make one per (credential version, environment)
// and keep it: Apple treats rapid reconnects as an attack.
type Client struct {
	env     push.Environment
	h2      sender
	timeout time.Duration

	tok    *token.Token // nil for certificate auth
	bearer atomic.Pointer[bearer]
	mu     sync.Mutex // serializes token generation
}

// sender is the HTTP/2 stack a Client pushes over: *h2client.Client or
// *h2client.StdClient (Config.HTTP2Client).
type sender interface {
	Start(ctx context.Context, req *h2client.Request, done func(*h2client.Response, error))
	Close()
}

var (
	_ sender = (*h2client.Client)(nil)
	_ sender = (*h2client.StdClient)(nil)
)

type bearer struct {
	header string // "bearer <jwt>"
	jwt    string
	issued time.Time
}

// tokenMaxAge is how long a provider token is used before a new one is
// made: under Apple's hour, over its 20-minute refresh floor.
const tokenMaxAge = 50 * time.Minute

// NewClient builds a Client for env with auth. It fails with Invalid when
// the material does not load (the error never quotes it).
func NewClient(cfg Config, auth Auth, env push.Environment) (*Client, error) {
	const op = "apns.NewClient"
	if !env.Valid() {
		return nil, push.E(op, push.Invalid, fmt.Errorf("environment %q", env))
	}
	base, err := url.Parse(cfg.URL(env))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, push.E(op, push.Invalid, fmt.Errorf("APNs %s URL %q is not an https URL", env, cfg.URL(env)))
	}
	tlsCfg := &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	c := &Client{env: env, timeout: cfg.RequestTimeout}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if auth.IsToken() {
		key, err := token.AuthKeyFromBytes(auth.keyPEM.Reveal())
		if err != nil {
			return nil, push.Errorf(op, push.Invalid, "the .p8 key is not a PKCS#8 ECDSA private key")
		}
		if auth.keyID == "" || auth.teamID == "" {
			return nil, push.Errorf(op, push.Invalid, "token authentication needs a key id and a team id")
		}
		c.tok = &token.Token{AuthKey: key, KeyID: auth.keyID, TeamID: auth.teamID}
		if _, err := c.refresh(""); err != nil {
			return nil, push.E(op, push.Invalid, err).WithMsg("the .p8 key cannot sign a provider token")
		}
	} else {
		cert, err := tls.X509KeyPair(auth.chainPEM.Reveal(), auth.keyPEM.Reveal())
		if err != nil {
			// X509KeyPair's messages name PEM block types, never key bytes.
			return nil, push.E(op, push.Invalid, err).WithMsg("the certificate and its private key do not load together")
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
		// In TLS 1.2 the gateway judges the client certificate inside the
		// handshake, so a rejection arrives as the handshake's own alert.
		// In TLS 1.3 the handshake completes first and the alert races the
		// first request (seen as a broken pipe or a lost connection), and a
		// rejected certificate would look like a network failure.
		tlsCfg.MaxVersion = tls.VersionTLS12
	}
	idle := cfg.ReadIdleTimeout
	if idle <= 0 {
		idle = apns2.ReadIdleTimeout
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = 8
	}
	addr := base.Host
	if base.Port() == "" {
		addr = net.JoinHostPort(base.Hostname(), "443")
	}
	h2cfg := h2client.Config{
		Addr:            addr,
		TLS:             tlsCfg,
		DialTimeout:     cfg.DialTimeout,
		KeepAlive:       apns2.TCPKeepAlive,
		ReadIdleTimeout: idle,
		PingTimeout:     15 * time.Second,
		MaxConns:        maxConns,
		MaxResponseBody: 64 << 10,
	}
	switch cfg.HTTP2Client {
	case "", h2client.Lean:
		c.h2, err = h2client.New(h2cfg)
	case h2client.Std:
		c.h2, err = h2client.NewStd(h2cfg)
	default:
		err = fmt.Errorf("HTTP/2 client %q", cfg.HTTP2Client)
	}
	if err != nil {
		return nil, push.E(op, push.Invalid, err)
	}
	return c, nil
}

// Environment returns the environment c pushes to.
func (c *Client) Environment() push.Environment { return c.env }

// Close closes c's connections once their pushes in flight finish. A
// closed Client still works (it reconnects), so Close is for dropping a
// client.
func (c *Client) Close() { c.h2.Close() }

// refresh makes a new provider token unless the current one is no longer
// stale (another goroutine refreshed it): stale is the JWT that was
// rejected, "" to refresh only when the current one is too old.
func (c *Client) refresh(stale string) (*bearer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.bearer.Load()
	if cur != nil && cur.jwt != stale && time.Since(cur.issued) < tokenMaxAge {
		return cur, nil
	}
	c.tok.Lock()
	_, err := c.tok.Generate()
	jwt := c.tok.Bearer
	c.tok.Unlock()
	if err != nil {
		return cur, fmt.Errorf("sign provider token: %w", err)
	}
	b := &bearer{header: "bearer " + jwt, jwt: jwt, issued: time.Now()}
	c.bearer.Store(b)
	return b, nil
}

func (c *Client) currentBearer() (*bearer, error) {
	if b := c.bearer.Load(); b != nil && time.Since(b.issued) < tokenMaxAge {
		return b, nil
	}
	return c.refresh("")
}

// Push sends n and returns Apple's answer. An error means no answer:
// Invalid when n cannot be written into a request (a malformed device
// token or header value: nothing is sent and the connection is not
// touched), Transient when the connection failed or the context ended (whether
// Apple read the request is then unknown), Unprocessable when the gateway
// refused the client certificate in the TLS handshake; ClassifyError
// reads it for the sender. Apple's rejections are Responses, not errors.
// A 403 ExpiredProviderToken is answered by refreshing the provider
// token (once for all pushes that saw the same token) and re-sending
// once with the same apns-id.
func (c *Client) Push(ctx context.Context, n Notification) (Response, error) {
	type result struct {
		resp Response
		err  error
	}
	ch := make(chan result, 1)
	c.PushAsync(ctx, n, func(resp Response, err error) { ch <- result{resp, err} })
	r := <-ch
	return r.resp, r.err
}

// PushAsync sends n as Push does and calls done once with Push's
// results, without a goroutine per push: done runs on a goroutine of the
// Client's (or PushAsync's caller's, when n fails before it is sent) and
// must not block, since it delays the answers of other pushes. PushAsync
// blocks only while every connection has as many pushes in flight as
// Apple allows and no other may be opened, or while one is dialed.
func (c *Client) PushAsync(ctx context.Context, n Notification, done func(Response, error)) {
	const op = "apns.Client.Push"
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		inner := done
		done = func(r Response, err error) { cancel(); inner(r, err) }
	}
	if err := n.check(); err != nil {
		// Refused here, for this push alone: a malformed path or header
		// would make Apple reset the connection every other push shares.
		done(Response{}, push.E(op, push.Invalid, err))
		return
	}
	var used *bearer
	if c.tok != nil {
		b, err := c.currentBearer()
		if err != nil {
			done(Response{}, push.E(op, push.Internal, err))
			return
		}
		used = b
	}
	c.send(ctx, n, used, func(resp Response, err error) {
		if err != nil || c.tok == nil || resp.Status != http.StatusForbidden || resp.Reason != apns2.ReasonExpiredProviderToken {
			done(resp, err)
			return
		}
		// Signing a provider token is no work for the connection's reader.
		go func() {
			b, err := c.refresh(used.jwt)
			if err != nil {
				done(resp, nil)
				return
			}
			if n.ID == "" {
				n.ID = resp.ID
			}
			c.send(ctx, n, b, func(resp Response, err error) {
				resp.TokenRefreshed = true
				done(resp, err)
			})
		}()
	})
}

// check refuses what cannot be written into a request as it is: a
// device token that is not one (push.CheckToken; it is the request path)
// and a header value with a control character.
func (n *Notification) check() error {
	if err := push.CheckToken(push.APNs, n.DeviceToken); err != nil {
		return fmt.Errorf("device token %s: %w", Redact(n.DeviceToken), err)
	}
	for _, f := range [...]struct{ name, value string }{
		{"apns-topic", n.Topic}, {"apns-id", n.ID}, {"apns-collapse-id", n.CollapseID}, {"apns-push-type", n.PushType},
	} {
		if !httpguts.ValidHeaderFieldValue(f.value) {
			return fmt.Errorf("%s: not a valid header value", f.name)
		}
	}
	return nil
}

// Header fields of a push. Those that every push of a template repeats
// are indexed in the connection's HPACK table after the first push; the
// device token's path and the apns-id are sent as literals (Field.Once).
var (
	contentType = h2client.Field{Name: "content-type", Value: "application/json"}
	alertType   = h2client.Field{Name: "apns-push-type", Value: "alert"}
)

// send pushes n once with bearer b (nil for certificate auth) and calls
// done with the answer.
func (c *Client) send(ctx context.Context, n Notification, b *bearer, done func(Response, error)) {
	h := make([]h2client.Field, 0, 8)
	h = append(h, contentType)
	if b != nil {
		h = append(h, h2client.Field{Name: "authorization", Value: b.header})
	}
	if n.Topic != "" {
		h = append(h, h2client.Field{Name: "apns-topic", Value: n.Topic})
	}
	if n.ID != "" {
		h = append(h, h2client.Field{Name: "apns-id", Value: n.ID, Once: true})
	}
	if n.CollapseID != "" {
		h = append(h, h2client.Field{Name: "apns-collapse-id", Value: n.CollapseID})
	}
	if n.Priority > 0 {
		h = append(h, h2client.Field{Name: "apns-priority", Value: strconv.Itoa(n.Priority)})
	}
	if !n.Expiration.IsZero() {
		h = append(h, h2client.Field{Name: "apns-expiration", Value: strconv.FormatInt(max(n.Expiration.Unix(), 0), 10)})
	}
	if n.PushType != "" {
		h = append(h, h2client.Field{Name: "apns-push-type", Value: n.PushType})
	} else {
		h = append(h, alertType)
	}
	req := &h2client.Request{
		Method:   http.MethodPost,
		Path:     "/3/device/" + n.DeviceToken,
		PathOnce: true,
		Header:   h,
		Body:     n.Payload,
	}
	c.h2.Start(ctx, req, func(res *h2client.Response, err error) {
		done(answer(n.DeviceToken, res, err))
	})
}

// answer reads the gateway's response to a push.
func answer(deviceToken string, res *h2client.Response, err error) (Response, error) {
	const op = "apns.Client.Push"
	if err != nil {
		kind := push.Transient
		if _, ok := TLSAlert(err); ok {
			kind = push.Unprocessable // the gateway refused the certificate
		}
		return Response{}, push.E(op, kind, fmt.Errorf("push to device %s: %w", Redact(deviceToken), err))
	}
	out := Response{
		Status:   res.Status,
		ID:       res.Get("apns-id"),
		UniqueID: res.Get("apns-unique-id"),
	}
	if res.Status == http.StatusOK {
		return out, nil
	}
	var e struct {
		Reason    string `json:"reason"`
		Timestamp int64  `json:"timestamp"`
	}
	if len(bytes.TrimSpace(res.Body)) > 0 {
		if err := json.Unmarshal(res.Body, &e); err != nil {
			e.Reason = http.StatusText(res.Status)
		}
	}
	out.Reason = e.Reason
	if e.Timestamp > 0 {
		out.Timestamp = time.UnixMilli(e.Timestamp)
	}
	return out, nil
}

// Redact shortens a device token for logs and errors: its first and last
// four characters. Device tokens are never logged in full.
func Redact(deviceToken string) string {
	if len(deviceToken) <= 8 {
		return "…"
	}
	return deviceToken[:4] + "…" + deviceToken[len(deviceToken)-4:]
}
