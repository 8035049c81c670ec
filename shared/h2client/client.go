// Package h2client is a lean HTTP/2 client for many small requests to one
// origin, the shape of traffic a push sender makes: thousands of
// concurrent requests of a few hundred bytes to APNs or FCM.
//
// It speaks HTTP/2 over TLS only (no HTTP/1 fallback, no server push) on
// golang.org/x/net/http2's framer and HPACK coder. Compared with a
// general-purpose transport it makes no goroutine per request and no
// http.Request/http.Response per request; one writer goroutine per
// connection coalesces the frames of every request queued while it
// writes into as few TLS records and system calls as it can; headers a
// request marks Once (a device token in a path, a notification id) are
// sent as never-indexed literals so they do not churn the HPACK table
// that the repeated headers are indexed in.
//
// A Client multiplexes requests over connections to its origin, opening
// another connection (one dial at a time, at most Config.MaxConns, with
// a back-off after a failed dial) when every open one has as many
// streams as the server allows. Do waits for the answer; Start calls
// back with it, so a caller can keep thousands of requests in flight
// without a goroutine each. A body waiting for flow-control window never
// holds up the connection: its writer goes on with control frames and
// other streams meanwhile. Requests the server provably did not process
// (refused streams, streams above a GOAWAY's last stream id, requests
// never written before the connection died) are retried, ahead of new
// requests, on the newest connection (see ErrUnprocessed); a request
// whose connection died after it was written fails with ErrConnLost,
// since the server may or may not have acted on it. A response over the
// header or body limit fails only its own request. Connections that
// receive nothing for a while are checked with a PING.
package h2client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Config is where and how a Client connects.
type Config struct {
	// Addr is the origin's host:port.
	Addr string
	// TLS is the TLS configuration; nil means the defaults. ServerName
	// defaults to Addr's host and NextProtos is always {"h2"}.
	TLS *tls.Config
	// DialTimeout bounds a TCP connect, TLS handshake and the server's
	// first SETTINGS frame; default 10 s.
	DialTimeout time.Duration
	// KeepAlive is the TCP keep-alive period; default 15 s.
	KeepAlive time.Duration
	// ReadIdleTimeout is how long a connection may go without receiving a
	// frame before it sends a PING; default 15 s.
	ReadIdleTimeout time.Duration
	// PingTimeout is how long a PING may go unanswered before the
	// connection is closed as dead; default 15 s.
	PingTimeout time.Duration
	// MaxConns bounds the open connections; default 16. When every one is
	// at the server's stream limit, requests wait for a free stream.
	MaxConns int
	// MaxResponseBody bounds a response body; a longer one fails the
	// request with ErrResponseTooLarge. Default 1 MiB.
	MaxResponseBody int
	// MaxResponseHeader bounds a response's header list, counted as
	// HTTP/2 counts it (each field's name and value plus 32 bytes), and
	// is advertised as SETTINGS_MAX_HEADER_LIST_SIZE. A longer list fails
	// its request with ErrResponseTooLarge and the connection goes on: it
	// is still decoded, to keep the HPACK state in step, but not kept.
	// One header block of more than four times the limit, or one field
	// over twice it, ends the connection (the decoder would have to
	// buffer it). Default 1 MiB, at most 256 MiB.
	MaxResponseHeader int
}

func (c Config) withDefaults() Config {
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 15 * time.Second
	}
	if c.ReadIdleTimeout <= 0 {
		c.ReadIdleTimeout = 15 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 15 * time.Second
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 16
	}
	if c.MaxResponseBody <= 0 {
		c.MaxResponseBody = 1 << 20
	}
	if c.MaxResponseHeader <= 0 {
		c.MaxResponseHeader = 1 << 20
	}
	c.MaxResponseHeader = min(c.MaxResponseHeader, 1<<28) // a list's count, five times it at most, fits an int32
	return c
}

// Field is one header field. Names are lower case, as HTTP/2 requires;
// pseudo-header fields (":path", ...) are not allowed in Request.Header.
type Field struct {
	Name, Value string
	// Once marks a value that only this request carries (a device token,
	// an id): it is sent as a never-indexed literal instead of being
	// added to the HPACK table, where it would displace the values that
	// every request repeats.
	Once bool
}

// Request is one HTTP/2 request. The Client only reads it; it may be
// shared by concurrent calls.
type Request struct {
	Method   string // default "GET"
	Path     string // the :path, e.g. "/3/device/<token>"
	PathOnce bool   // the path is unique to this request (see Field.Once)
	Header   []Field
	Body     []byte
}

// Response is a complete HTTP/2 response.
type Response struct {
	Status int
	Header []Field // in the order received; pseudo-headers left out
	Body   []byte
}

// Get returns the value of the first header field named name (lower
// case), or "".
func (r *Response) Get(name string) string {
	for _, f := range r.Header {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Errors a request can end with, besides the dial's own errors, the
// context's and *ResetError. Branch on them with errors.Is.
var (
	// ErrUnprocessed: the server did not process the request (it refused
	// the stream, or the stream was above a GOAWAY's last stream id, or
	// the request was never written). Do retries such requests itself,
	// ahead of new requests and on the newest connection, within the
	// context: after a GOAWAY or the end of a connection on which the
	// server processed others, up to 32 tries; otherwise up to eight,
	// with a back-off from the third. The error reaches the caller when
	// the tries are used up or the next back-off would outlast the
	// context's deadline.
	ErrUnprocessed = errors.New("h2client: request not processed by the server")
	// ErrConnLost: the connection ended after the request was written and
	// before its response was complete; the server may have acted on it.
	ErrConnLost = errors.New("h2client: connection lost before the response")
	// ErrResponseTooLarge: the response's header list or body was over
	// Config.MaxResponseHeader or MaxResponseBody. The server processed
	// the request; only this request fails, the connection goes on.
	ErrResponseTooLarge = errors.New("h2client: response too large")
)

// ResetError is a request the server reset (RST_STREAM) after it may have
// read it. Code is the HTTP/2 error code, e.g. "INTERNAL_ERROR".
type ResetError struct{ Code string }

func (e *ResetError) Error() string { return "h2client: stream reset by the server: " + e.Code }

// Client sends requests to one origin over multiplexed HTTP/2
// connections. It is safe for concurrent use. The zero value is not
// usable; build one with New.
type Client struct {
	cfg       Config
	authority string

	mu       sync.Mutex
	conns    []*conn
	dialing  *dialCall
	wake     chan struct{} // closed when a stream frees or the connections change; nil when no one waits
	retrying int           // retries waiting in reserve: first tries wait behind them

	// After a failed dial, requests fail with its error until the
	// back-off has passed instead of dialing again: Apple treats rapid
	// reconnects as an attack.
	dialErr      error
	dialFailures int
	dialRetryAt  time.Time
}

type dialCall struct {
	done chan struct{}
	err  error
	// abandoned: the dialing caller's context ended; the dial says
	// nothing about the origin and waiters dial again.
	abandoned bool
}

// Back-off after failed dials: doubling from dialBackoffMin.
const (
	dialBackoffMin = 100 * time.Millisecond
	dialBackoffMax = 10 * time.Second
)

// New returns a Client for cfg. It makes no connection yet.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("h2client: address %q is not host:port", cfg.Addr)
	}
	tc := &tls.Config{}
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	}
	tc.NextProtos = []string{"h2"}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	cfg.TLS = tc
	authority := cfg.Addr
	if port == "443" {
		authority = host
	}
	if strings.Contains(host, ":") && port == "443" {
		authority = "[" + host + "]"
	}
	return &Client{cfg: cfg, authority: authority}, nil
}

// Authority returns the :authority the Client sends, host or host:port.
func (c *Client) Authority() string { return c.authority }

// Do sends req and returns the complete response. Any status is a
// Response; an error means there is none: ErrUnprocessed (the server
// did not act on it), ErrConnLost, ErrResponseTooLarge, a *ResetError, a
// dial error (a *net.OpError; a TLS alert from the server when it
// refused the client certificate; within the back-off after a failed
// dial, that dial's error; errors.Is reports it as ErrUnprocessed too,
// since nothing was sent) or ctx's error.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	type result struct {
		resp *Response
		err  error
	}
	ch := make(chan result, 1)
	c.Start(ctx, req, func(resp *Response, err error) { ch <- result{resp, err} })
	r := <-ch
	return r.resp, r.err
}

// Start sends req and calls done exactly once with what Do would return.
// It blocks only while it waits for a stream (every connection at the
// server's limit) or a dial; done is called on one of the Client's
// goroutines (or Start's caller's, when req fails before it is queued)
// and must not block: it delays the answers of other requests. req must
// stay unchanged until done is called.
func (c *Client) Start(ctx context.Context, req *Request, done func(*Response, error)) {
	c.start(ctx, req, done, attempt{})
}

// Close closes every connection once its requests in flight are done.
// The Client stays usable: a later request dials a new connection.
func (c *Client) Close() {
	c.mu.Lock()
	conns := c.conns
	c.conns = nil
	var idle []*conn
	for _, cn := range conns {
		cn.closing = true
		if cn.active == 0 {
			idle = append(idle, cn)
		}
	}
	c.wakeLocked()
	c.mu.Unlock()
	for _, cn := range idle {
		cn.close(errClientClose)
	}
}

// Conns returns how many connections are open.
func (c *Client) Conns() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// reserve returns a connection with a stream reserved for the caller,
// dialing one when none has room. First tries fill the oldest
// connections first; retries go first (no first try takes a stream while
// a retry waits for one) and take the newest connection, which has the
// fewest streams before theirs.
func (c *Client) reserve(ctx context.Context, retry bool) (*conn, error) {
	c.mu.Lock()
	if retry {
		c.retrying++
	}
	fail := func(err error) (*conn, error) { // with c.mu held
		if retry {
			c.retrying--
			c.wakeLocked()
		}
		c.mu.Unlock()
		return nil, err
	}
	for {
		mine := retry || c.retrying == 0
		if mine {
			if cn := c.roomLocked(retry); cn != nil {
				cn.active++
				if retry {
					if c.retrying--; c.retrying == 0 {
						c.wakeLocked()
					}
				}
				c.mu.Unlock()
				return cn, nil
			}
		}
		if mine && c.dialing == nil && len(c.conns) < c.cfg.MaxConns {
			if c.dialErr != nil && time.Now().Before(c.dialRetryAt) {
				return fail(c.dialErr)
			}
			call := &dialCall{done: make(chan struct{})}
			c.dialing = call
			c.mu.Unlock()
			cn, err := c.dial(ctx)
			if err != nil {
				err = &dialError{err}
			}
			c.mu.Lock()
			c.dialing = nil
			call.err = err
			call.abandoned = err != nil && ctx.Err() != nil
			close(call.done)
			switch {
			case err == nil:
				c.dialErr, c.dialFailures = nil, 0
				c.conns = append(c.conns, cn)
			case !call.abandoned:
				c.dialFailures++
				c.dialErr = err
				c.dialRetryAt = time.Now().Add(min(dialBackoffMin<<min(c.dialFailures-1, 10), dialBackoffMax))
			}
			c.wakeLocked()
			if err != nil {
				return fail(err)
			}
			continue
		}
		// Wait for a free stream, a connection, the dial in progress or
		// the retries ahead.
		if c.wake == nil {
			c.wake = make(chan struct{})
		}
		wake, call := c.wake, c.dialing
		c.mu.Unlock()
		var dialed <-chan struct{}
		if call != nil {
			dialed = call.done
		}
		select {
		case <-ctx.Done():
			c.mu.Lock()
			return fail(ctx.Err())
		case <-dialed:
			if call.err != nil && !call.abandoned {
				c.mu.Lock()
				return fail(call.err)
			}
		case <-wake:
		}
		c.mu.Lock()
	}
}

// roomLocked returns a connection with a free stream, the oldest or
// (newest) the newest, or nil.
func (c *Client) roomLocked(newest bool) *conn {
	n := len(c.conns)
	for i := range n {
		if newest {
			i = n - 1 - i
		}
		if cn := c.conns[i]; !cn.closing && cn.active < cn.maxStreams {
			return cn
		}
	}
	return nil
}

func (c *Client) wakeLocked() {
	if c.wake != nil {
		close(c.wake)
		c.wake = nil
	}
}

// release frees a stream reserved on cn; a closing connection with no
// stream left is closed.
func (c *Client) release(cn *conn) {
	c.mu.Lock()
	cn.active--
	idle := cn.closing && cn.active == 0
	c.wakeLocked()
	c.mu.Unlock()
	if idle {
		cn.close(errGoingAway)
	}
}

// retire stops new streams on cn (GOAWAY, stream ids exhausted, death)
// and drops it from the pool; it is closed when its streams are done.
func (c *Client) retire(cn *conn) {
	c.mu.Lock()
	cn.closing = true
	for i, x := range c.conns {
		if x == cn {
			c.conns = append(c.conns[:i:i], c.conns[i+1:]...)
			break
		}
	}
	idle := cn.active == 0
	c.wakeLocked()
	c.mu.Unlock()
	if idle {
		cn.close(errGoingAway)
	}
}

// setMaxStreams applies the server's SETTINGS_MAX_CONCURRENT_STREAMS.
func (c *Client) setMaxStreams(cn *conn, n int) {
	c.mu.Lock()
	cn.maxStreams = n
	c.wakeLocked()
	c.mu.Unlock()
}

var (
	errGoingAway   = errors.New("h2client: connection retired")
	errClientClose = errors.New("h2client: connection closed by Client.Close")
)
