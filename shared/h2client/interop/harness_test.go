package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"mobilepush/shared/h2client"
)

// request is one request of a scenario. Its id goes in the query
// (?id=...), which every server logs, so the log shows whether the
// server processed it and how often.
type request struct {
	id     string
	method string // default GET
	path   string // without the query
	body   []byte
	// cancel > 0 cancels the request that long after it starts; < 0
	// before it starts.
	cancel time.Duration
	// timeout is its deadline from its start; default the run's.
	timeout time.Duration
	// want checks an answer; nil: status 200 and the target as the body.
	want func(*outcome) error
}

func (r *request) target() string { return r.path + "?id=" + r.id }

// outcome is how a request ended.
type outcome struct {
	calls  atomic.Int32
	status int
	header http.Header
	body   []byte
	err    error
}

// client is h2client ("lean") or x/net's Transport ("std") behind one
// interface. send calls done exactly once (lean: from Start's callback,
// without a goroutine per request; std: from a goroutine per request).
type client interface {
	send(ctx context.Context, r *request, done func(status int, h http.Header, body []byte, err error))
	close()
}

type lean struct{ c *h2client.Client }

func (l lean) send(ctx context.Context, r *request, done func(int, http.Header, []byte, error)) {
	l.c.Start(ctx, &h2client.Request{Method: r.method, Path: r.target(), PathOnce: true, Body: r.body}, func(resp *h2client.Response, err error) {
		if err != nil {
			done(0, nil, nil, err)
			return
		}
		h := http.Header{}
		for _, f := range resp.Header {
			h.Add(f.Name, f.Value)
		}
		done(resp.Status, h, resp.Body, nil)
	})
}

func (l lean) close() { l.c.Close() }

type std struct {
	tr    *http2.Transport
	base  string
	conns *connSet
}

// connSet tracks the std client's connections, so that close can end
// them all: x/net's Transport has only CloseIdleConnections, and keeps
// a connection with reset streams open until a PING says it is alive.
type connSet struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (cs *connSet) dial(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
	c, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, network, addr)
	if err == nil {
		cs.mu.Lock()
		cs.conns = append(cs.conns, c)
		cs.mu.Unlock()
	}
	return c, err
}

func (s std) send(ctx context.Context, r *request, done func(int, http.Header, []byte, error)) {
	go func() {
		method := r.method
		if method == "" {
			method = http.MethodGet
		}
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, method, s.base+r.target(), body)
		if err != nil {
			done(0, nil, nil, err)
			return
		}
		resp, err := s.tr.RoundTrip(req)
		if err != nil {
			done(0, nil, nil, err)
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			done(0, nil, nil, err)
			return
		}
		done(resp.StatusCode, resp.Header, b, nil)
	}()
}

func (s std) close() {
	s.tr.CloseIdleConnections()
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	for _, c := range s.conns.conns {
		_ = c.Close()
	}
}

// clientKinds are the two clients every scenario runs through; the
// options adjust them for a scenario.
type clientKind struct {
	name string
	make func(t *testing.T, s *server) client
}

type clientOptions struct {
	lean func(*h2client.Config)
}

func clientKinds(o clientOptions) []clientKind {
	return []clientKind{
		{"lean", func(t *testing.T, s *server) client {
			cfg := h2client.Config{Addr: s.addr, TLS: &tls.Config{RootCAs: s.roots}, MaxResponseBody: 4 << 20}
			if o.lean != nil {
				o.lean(&cfg)
			}
			c, err := h2client.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return lean{c}
		}},
		{"std", func(t *testing.T, s *server) client {
			cs := &connSet{}
			tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: s.roots}, DialTLSContext: cs.dial}
			return std{tr, "https://" + s.addr, cs}
		}},
	}
}

// verdict is what an outcome says about the server.
type verdict int

const (
	answered       verdict = iota // processed, with an answer
	notProcessed                  // the error says the server did not process it
	maybeProcessed                // the error leaves it open
	untyped                       // the error says nothing (a defect for lean)
)

func classify(kind string, err error) verdict {
	var re *h2client.ResetError
	var oe *net.OpError
	var se http2.StreamError
	switch {
	case err == nil, errors.Is(err, h2client.ErrResponseTooLarge):
		return answered
	case errors.Is(err, h2client.ErrUnprocessed):
		return notProcessed
	case errors.Is(err, h2client.ErrConnLost), errors.As(err, &re),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return maybeProcessed
	case kind == "std" && errors.As(err, &oe) && oe.Op == "dial":
		return notProcessed
	case kind == "std" && errors.As(err, &se) && se.Code == http2.ErrCodeRefusedStream:
		return notProcessed
	case kind == "std":
		return maybeProcessed // x/net's errors are mostly untyped
	}
	return untyped
}

// run is one scenario's requests through one client.
type run struct {
	reqs     []*request
	inFlight int           // requests in flight at most; default 100
	timeout  time.Duration // each request's deadline; default 20 s
	// allow says which errors the scenario accepts (nil: none); every
	// accepted error must still be typed and agree with the server's log.
	allow func(r *request, err error) bool
	// during runs after the i-th request started (reload the server...).
	during func(i int)
}

// exercise sends every request of r through a new client of kind k and
// checks each outcome against the server's log: every request ends once,
// by its deadline; answered ones have the right status and body and
// appear once in the log; those the error calls unprocessed do not
// appear, those it leaves open at most once; no request appears twice;
// and no goroutine is left after the client's Close.
func exercise(t *testing.T, s *server, k clientKind, r run) []*outcome {
	t.Helper()
	if r.inFlight == 0 {
		r.inFlight = 100
	}
	if r.timeout == 0 {
		r.timeout = 20 * time.Second
	}
	before := runtime.NumGoroutine()
	cl := k.make(t, s)
	outs := make([]*outcome, len(r.reqs))
	sem := make(chan struct{}, r.inFlight)
	var wg sync.WaitGroup
	var last time.Time
	for i, req := range r.reqs {
		o := &outcome{}
		outs[i] = o
		timeout := r.timeout
		if req.timeout > 0 {
			timeout = req.timeout
		}
		sem <- struct{}{}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		if d, _ := ctx.Deadline(); d.After(last) {
			last = d
		}
		switch {
		case req.cancel < 0:
			cancel()
		case req.cancel > 0:
			time.AfterFunc(req.cancel, cancel)
		}
		wg.Add(1)
		cl.send(ctx, req, func(status int, h http.Header, body []byte, err error) {
			if o.calls.Add(1) != 1 {
				return // counted: a second call is a failure below
			}
			o.status, o.header, o.body, o.err = status, h, body, err
			cancel()
			<-sem
			wg.Done()
		})
		if r.during != nil {
			r.during(i)
		}
	}
	ended := make(chan struct{})
	go func() { wg.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(time.Until(last) + 5*time.Second):
		open := 0
		for i, o := range outs {
			if o.calls.Load() == 0 {
				if open++; open <= 5 {
					t.Errorf("%s: request %s still open 5 s after its deadline", k.name, r.reqs[i].id)
				}
			}
		}
		t.Fatalf("%s: %d requests still open after their deadline", k.name, open)
	}
	cl.close()
	waitGoroutines(t, k.name, before)
	check(t, s, k.name, r, outs)
	return outs
}

// check compares the outcomes with each other and the server's log.
func check(t *testing.T, s *server, kind string, r run, outs []*outcome) {
	t.Helper()
	// A server may log a request a moment after its answer (nginx logs
	// a stream when it frees it): read the log until it has every
	// answered request, for up to 3 s.
	var seen ids
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		seen = s.processed(t)
		missing := false
		for i, o := range outs {
			if classify(kind, o.err) == answered && seen[r.reqs[i].id] == 0 {
				missing = true
				break
			}
		}
		if !missing || time.Now().After(deadline) {
			break
		}
	}
	failures := 0
	fail := func(format string, args ...any) {
		if failures++; failures <= 10 {
			t.Errorf(kind+": "+format, args...)
		}
	}
	mine := map[string]bool{}
	for i, o := range outs {
		req := r.reqs[i]
		mine[req.id] = true
		if n := o.calls.Load(); n != 1 {
			fail("request %s: done called %d times", req.id, n)
		}
		v := classify(kind, o.err)
		if o.err != nil && (r.allow == nil || !r.allow(req, o.err)) {
			fail("request %s: %v", req.id, o.err)
			continue
		}
		n := seen[req.id]
		switch v {
		case answered:
			if o.err == nil {
				if err := wantAnswer(req, o); err != nil {
					fail("request %s: %v", req.id, err)
				}
			}
			if n != 1 {
				fail("request %s answered, but %s processed it %d times", req.id, s.name, n)
			}
		case notProcessed:
			if n != 0 {
				fail("request %s failed as not processed (%v), but %s processed it %d times", req.id, o.err, s.name, n)
			}
		case maybeProcessed:
			if n > 1 {
				fail("request %s (%v): %s processed it %d times", req.id, o.err, s.name, n)
			}
		case untyped:
			fail("request %s: untyped error %v (%T)", req.id, o.err, o.err)
		}
	}
	for id, n := range seen {
		if n > 1 && !mine[id] && strings.HasPrefix(id, kind+".") {
			fail("%s processed request %s %d times", s.name, id, n)
		}
	}
	if failures > 10 {
		t.Errorf("%s: %d failures in all", kind, failures)
	}
}

func wantAnswer(req *request, o *outcome) error {
	if req.want != nil {
		return req.want(o)
	}
	if o.status != http.StatusOK || string(o.body) != req.target() {
		return fmt.Errorf("status %d, body %.80q; want 200 and %q", o.status, o.body, req.target())
	}
	return nil
}

// waitGoroutines waits until no more goroutines run than before the
// client was made.
func waitGoroutines(t *testing.T, kind string, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("%s: %d goroutines 5 s after Close, %d before the client:\n%s", kind, runtime.NumGoroutine(), before, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requests makes n requests with ids kind.prefix.i.
func requests(kind, prefix string, n int, fill func(i int, r *request)) []*request {
	out := make([]*request, n)
	for i := range out {
		out[i] = &request{id: fmt.Sprintf("%s.%s.%d", kind, prefix, i), path: "/"}
		if fill != nil {
			fill(i, out[i])
		}
	}
	return out
}
