package h2client

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/http2"
)

// Stack names the HTTP/2 implementation a provider client sends over:
// Lean (this package's Client) or Std (golang.org/x/net/http2's
// Transport, through Std). The zero value is Lean.
type Stack string

// The stacks, as the --http2-client flag and the HTTP2_CLIENT variable
// spell them.
const (
	Lean Stack = "lean"
	Std  Stack = "std"
)

// Stacks lists every Stack, Lean first.
var Stacks = []Stack{Lean, Std}

// ParseStack reads "lean", "std" or "" (Lean).
func ParseStack(s string) (Stack, error) {
	switch Stack(s) {
	case "", Lean:
		return Lean, nil
	case Std:
		return Std, nil
	}
	return "", fmt.Errorf("HTTP/2 client %q is neither lean nor std", s)
}

// StdClient sends the Requests of a Client through golang.org/x/net/http2's
// Transport: the same Start, Do, RoundTrip and Close, with the same
// origin check, the same bounded, buffered response bodies (a longer one
// is ErrResponseTooLarge) and Config.MaxResponseHeader advertised, on a
// general-purpose HTTP/2 stack (a goroutine and an http.Request per
// request, its own flow control, retries and connection pool).
// Config.MaxConns is not enforced (the Transport opens a connection
// whenever the open ones are at the server's stream limit) and a failed
// dial has no back-off. It is safe for concurrent use.
type StdClient struct {
	cfg       Config
	authority string
	t         *http2.Transport
}

var _ http.RoundTripper = (*StdClient)(nil)

// NewStd returns a StdClient for cfg. It makes no connection yet.
func NewStd(cfg Config) (*StdClient, error) {
	lean, err := New(cfg) // the same checks and defaults
	if err != nil {
		return nil, err
	}
	cfg = lean.cfg
	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: cfg.KeepAlive},
		Config:    cfg.TLS,
	}
	t := &http2.Transport{
		TLSClientConfig: cfg.TLS,
		DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
			// Only the configured address, whatever the request says.
			ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
			defer cancel()
			return dialer.DialContext(ctx, network, cfg.Addr)
		},
		ReadIdleTimeout: cfg.ReadIdleTimeout,
		PingTimeout:     cfg.PingTimeout,
		// Advertised as SETTINGS_MAX_HEADER_LIST_SIZE, as the lean client
		// does; over it the Transport fails the request (or, by its own
		// rule for a block far over, the connection).
		MaxHeaderListSize: uint32(cfg.MaxResponseHeader),
	}
	return &StdClient{cfg: cfg, authority: lean.authority, t: t}, nil
}

// Do sends req and returns the complete response, as Client.Do does;
// errors are the Transport's (a dial error, a *http2.StreamError, the
// connection's end) or ctx's.
func (s *StdClient) Do(ctx context.Context, req *Request) (*Response, error) {
	r, err := http.NewRequestWithContext(ctx, req.Method, "https://"+s.authority+req.Path, bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("h2client: %w", err)
	}
	if req.Method == "" {
		r.Method = http.MethodGet
	}
	r.ContentLength = int64(len(req.Body))
	for _, f := range req.Header {
		r.Header.Add(f.Name, f.Value)
	}
	resp, err := s.roundTrip(r)
	if err != nil {
		return nil, err
	}
	body := resp.Body.(*bodyBytes).b
	out := &Response{Status: resp.StatusCode, Body: body, Header: make([]Field, 0, len(resp.Header))}
	for k, vs := range resp.Header {
		for _, v := range vs {
			out.Header = append(out.Header, Field{Name: strings.ToLower(k), Value: v})
		}
	}
	return out, nil
}

func (s *StdClient) readBody(resp *http.Response) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(s.cfg.MaxResponseBody)+1))
	if err != nil {
		return nil, err
	}
	if len(body) > s.cfg.MaxResponseBody {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrResponseTooLarge, s.cfg.MaxResponseBody)
	}
	return body, nil
}

// Start sends req on a goroutine of its own and calls done with what Do
// returns.
func (s *StdClient) Start(ctx context.Context, req *Request, done func(*Response, error)) {
	go func() { done(s.Do(ctx, req)) }()
}

// RoundTrip implements http.RoundTripper as Client.RoundTrip does: only
// https requests to the origin are sent, and the response comes back
// with its body read (at most Config.MaxResponseBody) and the
// connection's part of it done.
func (s *StdClient) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL == nil || r.URL.Scheme != "https" || (r.URL.Host != s.authority && r.URL.Host != s.cfg.Addr) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("h2client: %s is not this client's origin https://%s", redactURL(r), s.authority)
	}
	return s.roundTrip(r)
}

// bodyBytes is a response body read whole.
type bodyBytes struct {
	*bytes.Reader
	b []byte
}

func (bodyBytes) Close() error { return nil }

// roundTrip sends r through the Transport and returns the response with
// its body read (at most Config.MaxResponseBody) into a *bodyBytes.
func (s *StdClient) roundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.t.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := s.readBody(resp)
	if err != nil {
		return nil, err
	}
	resp.Body = &bodyBytes{bytes.NewReader(body), body}
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// Close closes the idle connections; the StdClient stays usable.
func (s *StdClient) Close() { s.t.CloseIdleConnections() }
