// Package fcm is mobilepush's client of Firebase Cloud Messaging: a Client
// built from a stored service-account key that proves the key against Google
// (Check; docs/ARCHITECTURE.md, Live check), sends batches of messages through the
// firebase-admin-go messaging client (Send), and classifies every send
// error into the outcomes (docs/ARCHITECTURE.md, Outcomes) with Classify.
//
// Destinations come only from Config. The key's token_uri and
// universe_domain are never read: the package mints OAuth tokens itself
// (JWT-bearer grant) against Config.TokenURL and gives firebase an
// *http.Client that adds the bearer token, because option.WithHTTPClient
// turns the Google libraries' own authentication off.
package fcm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"mobilepush/shared/h2client"
	"mobilepush/shared/push"
)

// Production endpoints.
const (
	DefaultEndpoint = "https://fcm.googleapis.com"
	DefaultTokenURL = "https://oauth2.googleapis.com/token"
)

// CheckToken is the well-formed but nonexistent registration token the
// live check and the connection warm-up send to with validate_only.
const CheckToken = "mobilepush-live-check:APA91bFakeRegistrationTokenForCredentialCheckOnly0000000000000000000000000000000000000000000000000000000000000000000000000000000000"

// Config says where the client connects and how. Zero fields get the
// production defaults.
type Config struct {
	// Endpoint is the FCM base URL without "/v1"; default DefaultEndpoint.
	Endpoint string
	// TokenURL is Google's OAuth token endpoint; default DefaultTokenURL.
	// Signed assertions go here and nowhere else.
	TokenURL string
	// RootCAs verifies both servers; nil means the system roots (which
	// honour SSL_CERT_FILE).
	RootCAs *x509.CertPool
	// RequestTimeout bounds one HTTP request (token or send); default 30 s.
	RequestTimeout time.Duration
	// DialTimeout bounds one TCP+TLS connection setup; default 10 s.
	DialTimeout time.Duration
	// Concurrency is how many SendEach calls (each with 50 requests in
	// flight) Send runs at once; default 8.
	Concurrency int
	// HTTP2Client is the HTTP/2 stack sends go over: h2client.Lean (the
	// default) or h2client.Std (golang.org/x/net/http2's Transport).
	HTTP2Client h2client.Stack
}

func (c Config) withDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	c.Endpoint = strings.TrimSuffix(strings.TrimSuffix(c.Endpoint, "/"), "/v1")
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	return c
}

// Client sends through FCM with one service-account key. It is safe for
// concurrent use; build one per credential version and reuse it (it
// caches the OAuth token and keeps the HTTP/2 connection open).
type Client struct {
	cfg       Config
	projectID string
	tokens    *tokenSource
	msg       *messaging.Client
	transport *http.Transport // to the token endpoint
	h2        endpoint        // to the FCM endpoint

	warmMu sync.Mutex
	warmed bool
}

// New builds a Client from the service-account JSON (as stored:
// certinfo's normalized fcm_json material). It makes no network call.
// Errors: Unprocessable when the JSON is not a usable service-account
// key (the error never quotes it), Internal otherwise.
func New(ctx context.Context, serviceAccountJSON push.Redacted, cfg Config) (*Client, error) {
	const op = "fcm.New"
	sa, err := parseServiceAccount(serviceAccountJSON.Reveal())
	if err != nil {
		return nil, push.E(op, push.Other, err)
	}
	cfg = cfg.withDefaults()

	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   cfg.DialTimeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.RequestTimeout,
	}
	ts := &tokenSource{
		sa:       sa,
		tokenURL: cfg.TokenURL,
		hc:       &http.Client{Transport: tr, Timeout: cfg.RequestTimeout},
		now:      time.Now,
	}
	// Sends go over the lean HTTP/2 client (requests multiplexed on as
	// few connections as the server's stream limit allows, frames of
	// concurrent requests sharing TLS records); it sends nowhere but the
	// configured endpoint.
	h2, err := endpointClient(cfg)
	if err != nil {
		return nil, push.E(op, push.Invalid, err)
	}
	hc := &http.Client{Transport: &bearerTransport{ts: ts, base: h2, timeout: cfg.RequestTimeout}}

	// The SDK writes the project id into the request path as it is: it
	// goes in escaped, so whatever the key file says stays one segment
	// (certinfo refuses a malformed project_id at inspection; this holds
	// for what was stored before).
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: url.PathEscape(sa.ProjectID)},
		option.WithHTTPClient(hc),
		option.WithEndpoint(cfg.Endpoint+"/v1"),
	)
	if err != nil {
		return nil, push.E(op, push.Internal, fmt.Errorf("firebase app: %w", err))
	}
	mc, err := app.Messaging(ctx)
	if err != nil {
		return nil, push.E(op, push.Internal, fmt.Errorf("firebase messaging: %w", err))
	}
	return &Client{cfg: cfg, projectID: sa.ProjectID, tokens: ts, msg: mc, transport: tr, h2: h2}, nil
}

// endpoint is the HTTP/2 stack of the FCM endpoint: *h2client.Client or
// *h2client.StdClient (Config.HTTP2Client). Its RoundTrip returns
// responses with their bodies read.
type endpoint interface {
	http.RoundTripper
	Close()
}

var (
	_ endpoint = (*h2client.Client)(nil)
	_ endpoint = (*h2client.StdClient)(nil)
)

// endpointClient is the HTTP/2 client for cfg.Endpoint.
func endpointClient(cfg Config) (endpoint, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("FCM endpoint %q is not an https URL", cfg.Endpoint)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	h2cfg := h2client.Config{
		Addr:        addr,
		TLS:         &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		DialTimeout: cfg.DialTimeout,
	}
	switch cfg.HTTP2Client {
	case "", h2client.Lean:
		return h2client.New(h2cfg)
	case h2client.Std:
		return h2client.NewStd(h2cfg)
	}
	return nil, fmt.Errorf("HTTP/2 client %q", cfg.HTTP2Client)
}

// ProjectID returns the Firebase project the key belongs to.
func (c *Client) ProjectID() string { return c.projectID }

// Close releases the connections (once their requests finish). The
// Client must not be used after.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
	c.h2.Close()
}

// Token returns a valid OAuth access token, minting one if needed.
// Errors: Unprocessable with code oauth_invalid_grant when Google refuses
// the key (the chain holds a *TokenError), Transient when it cannot be
// reached.
func (c *Client) Token(ctx context.Context) (string, error) {
	tok, err := c.tokens.Token(ctx)
	if err != nil {
		return "", tokenErr("fcm.Token", err)
	}
	return tok, nil
}

// RefreshToken drops the cached access token and mints a new one (the
// "refresh once" of an UNAUTHENTICATED answer). Errors as Token.
func (c *Client) RefreshToken(ctx context.Context) error {
	c.tokens.Invalidate()
	_, err := c.Token(ctx)
	return err
}

// Check proves the key against Google without a visible push: it
// mints a fresh OAuth token (a cached one would hide a key
// deleted since it was minted), then sends a validate_only message to
// CheckToken. It always returns a result; ProviderReason is Google's
// own text. It also warms the connection for a following Send.
// Bound ctx (e.g. 10 s): firebase retries network errors and 503 by
// itself for about 7 s; a ctx that ends first yields unreachable.
func (c *Client) Check(ctx context.Context) push.LiveResult {
	c.tokens.Invalidate()
	if _, err := c.tokens.Token(ctx); err != nil {
		return tokenLiveResult(err)
	}
	_, err := c.msg.SendDryRun(ctx, &messaging.Message{Token: CheckToken})
	res := sendLiveResult(c.projectID, err)
	if res.Code == push.LiveOK {
		c.markWarm()
	}
	return res
}

func tokenLiveResult(err error) push.LiveResult {
	var te *TokenError
	if errors.As(err, &te) && te.Rejected() {
		return push.LiveResult{
			Code:           push.OAuthInvalidGrant,
			ProviderReason: te.Reason(),
			Message:        "Google refused to issue an access token for this key: it was deleted or disabled in the Google Cloud console, or the file is not the current key. Generate a new private key (Firebase console > Project settings > Service accounts) and upload it.",
		}
	}
	reason := "network error"
	if errors.As(err, &te) && te.Status != 0 {
		reason = te.Reason()
	}
	return push.LiveResult{
		Code:           push.LiveUnreachable,
		ProviderReason: reason,
		Message:        "Google's token endpoint could not be reached, so the key was not proven; it was checked offline only. The check runs again later.",
	}
}

func sendLiveResult(projectID string, err error) push.LiveResult {
	if err == nil {
		return push.LiveResult{Code: push.LiveOK, ProviderReason: "validate_only accepted", Message: "Google issued an access token and FCM accepted a test message for project " + projectID + "."}
	}
	v := Classify(err)
	reason := v.Reason
	if v.Detail != "" {
		reason += ": " + v.Detail
	}
	switch {
	case v.Outcome == push.InvalidToken:
		// The request got past authentication and authorization; only the
		// made-up registration token was refused.
		return push.LiveResult{Code: push.LiveOK, ProviderReason: reason, Message: "Google issued an access token and FCM accepted the key for project " + projectID + " (the test registration token was refused, as expected)."}
	case v.Reason == "SENDER_ID_MISMATCH":
		return push.LiveResult{Code: push.SenderIDMismatch, ProviderReason: reason, Message: "FCM answered SENDER_ID_MISMATCH: this key belongs to a different Firebase project than the app's. Upload the key of the app's project " + projectID + "."}
	case v.Outcome == push.CredentialFault:
		return push.LiveResult{Code: push.PermissionDenied, ProviderReason: reason, Message: "FCM refused to send for project " + projectID + " with this key (" + v.Reason + "): the project does not exist, the Firebase Cloud Messaging API is not enabled, or the service account lacks the permission to send. Check the project in the Firebase console and upload the Admin SDK key of that project."}
	case v.Outcome == push.Rejected:
		// FCM validates the message after authenticating the caller.
		return push.LiveResult{Code: push.LiveOK, ProviderReason: reason, Message: "Google issued an access token and FCM authenticated the key for project " + projectID + "."}
	}
	return push.LiveResult{Code: push.LiveUnreachable, ProviderReason: reason, Message: "FCM could not be reached or failed (" + v.Reason + "), so the key was not proven against FCM; it was checked offline only. The check runs again later."}
}

// Warm opens the HTTP/2 connection (and mints the token) with one
// validate_only request, so a following burst shares one connection
// instead of dialing one per concurrent request. Send calls it once by
// itself; calling it again after success is free.
// Errors: as Classify reports them, wrapped (Transient or Unprocessable).
func (c *Client) Warm(ctx context.Context) error {
	const op = "fcm.Warm"
	c.warmMu.Lock()
	defer c.warmMu.Unlock()
	if c.warmed {
		return nil
	}
	if _, err := c.tokens.Token(ctx); err != nil {
		return tokenErr(op, err)
	}
	_, err := c.msg.SendDryRun(ctx, &messaging.Message{Token: CheckToken})
	if v := Classify(err); v.Outcome == push.Retry {
		return push.E(op, push.Transient, fmt.Errorf("warm-up: %s", v.Reason))
	}
	c.warmed = true
	return nil
}

func (c *Client) markWarm() {
	c.warmMu.Lock()
	c.warmed = true
	c.warmMu.Unlock()
}
