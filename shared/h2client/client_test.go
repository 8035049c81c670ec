package h2client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"mobilepush/shared/h2client"
)

// newServer starts an HTTP/2-only TLS server for h with a stream limit.
func newServer(t *testing.T, maxStreams uint32, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	protocols := new(http.Protocols)
	protocols.SetHTTP2(true)
	srv.Config.Protocols = protocols
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: int(maxStreams)}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *httptest.Server, cfg h2client.Config) *h2client.Client {
	t.Helper()
	cfg.Addr = strings.TrimPrefix(srv.URL, "https://")
	if cfg.TLS == nil {
		cfg.TLS = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	}
	c, err := h2client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// echo answers with the request's method, path, x-* headers and body.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("x-method", r.Method)
	w.Header().Set("x-path", r.URL.Path)
	w.Header().Set("x-id", r.Header.Get("x-id"))
	w.Header().Set("x-topic", r.Header.Get("x-topic"))
	w.Header().Set("x-proto", r.Proto)
	w.Header().Set("x-host", r.Host)
	w.Header().Set("x-length", strconv.FormatInt(r.ContentLength, 10))
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body)
})

func TestDo(t *testing.T) {
	srv := newServer(t, 100, echo)
	c := newClient(t, srv, h2client.Config{})
	ctx := context.Background()
	tests := []struct {
		name string
		req  h2client.Request
		want map[string]string
	}{
		{"post with once fields", h2client.Request{Method: "POST", Path: "/3/device/abc", PathOnce: true,
			Header: []h2client.Field{{Name: "x-topic", Value: "com.acme"}, {Name: "x-id", Value: "id-1", Once: true}}, Body: []byte(`{"a":1}`)},
			map[string]string{"x-method": "POST", "x-path": "/3/device/abc", "x-id": "id-1", "x-topic": "com.acme", "x-proto": "HTTP/2.0", "x-length": "7", "x-host": c.Authority()}},
		{"get without body", h2client.Request{Path: "/v1/x"},
			map[string]string{"x-method": "GET", "x-path": "/v1/x", "x-length": "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 3 { // again on the same connection, with indexed fields
				resp, err := c.Do(ctx, &tt.req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Status != http.StatusCreated {
					t.Errorf("status = %d, want 201", resp.Status)
				}
				for k, want := range tt.want {
					if got := resp.Get(k); got != want {
						t.Errorf("%s = %q, want %q", k, got, want)
					}
				}
				if !bytes.Equal(resp.Body, tt.req.Body) {
					t.Errorf("body = %q, want %q", resp.Body, tt.req.Body)
				}
			}
		})
	}
	if got := c.Conns(); got != 1 {
		t.Errorf("connections = %d, want 1", got)
	}
}

func TestConcurrencyAndFlowControl(t *testing.T) {
	// 10 streams per connection and 4 KiB bodies: 300 requests need more
	// than one connection (or waiting) and more than the 64 KiB windows.
	tests := []struct {
		name      string
		maxConns  int
		wantConns func(int) bool
	}{
		{"more connections", 16, func(n int) bool { return n > 1 && n <= 16 }},
		{"one connection, waiting for streams", 1, func(n int) bool { return n == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inFlight, peak atomic.Int64
			srv := newServer(t, 10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(2 * time.Millisecond)
				// A short answer: net/http's server writes a long one from
				// another goroutine and counts the stream open until that
				// write returns, after the client may have seen it end, and
				// then refuses the client's next stream as over the limit.
				body, _ := io.ReadAll(r.Body)
				w.Header().Set("x-path", r.URL.Path)
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, "%d %c", len(body), body[len(body)-1])
			}))
			c := newClient(t, srv, h2client.Config{MaxConns: tt.maxConns})
			var wg sync.WaitGroup
			errs := make(chan error, 300)
			for i := range 300 {
				wg.Go(func() {
					body := bytes.Repeat([]byte{byte('a' + i%26)}, 4096)
					resp, err := c.Do(context.Background(), &h2client.Request{Method: "POST", Path: "/p/" + strconv.Itoa(i), PathOnce: true, Body: body})
					switch {
					case err != nil:
						errs <- err
					case resp.Status != http.StatusCreated || string(resp.Body) != fmt.Sprintf("4096 %c", 'a'+i%26) || resp.Get("x-path") != "/p/"+strconv.Itoa(i):
						errs <- fmt.Errorf("request %d: status %d, %d bytes, path %q", i, resp.Status, len(resp.Body), resp.Get("x-path"))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := c.Conns(); !tt.wantConns(n) {
				t.Errorf("connections = %d", n)
			}
			if tt.maxConns == 1 && peak.Load() > 10 {
				t.Errorf("peak streams in flight = %d, over the server's 10", peak.Load())
			}
		})
	}
}

func TestLargeBodies(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 40<<10) // 640 KiB: over every window
	srv := newServer(t, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("x-got", strconv.Itoa(len(body)))
		if r.URL.Path == "/small" {
			_, _ = w.Write([]byte("small"))
			return
		}
		_, _ = w.Write(big)
	}))
	c := newClient(t, srv, h2client.Config{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			resp, err := c.Do(context.Background(), &h2client.Request{Method: "PUT", Path: "/big", Body: big[:300<<10]})
			if err != nil {
				t.Error(err)
				return
			}
			if resp.Get("x-got") != strconv.Itoa(300<<10) || !bytes.Equal(resp.Body, big) {
				t.Errorf("server got %s bytes; response %d bytes", resp.Get("x-got"), len(resp.Body))
			}
		})
	}
	wg.Wait()

	small := newClient(t, srv, h2client.Config{MaxResponseBody: 1000})
	if _, err := small.Do(context.Background(), &h2client.Request{Path: "/big"}); err == nil || !strings.Contains(err.Error(), "over 1000 bytes") {
		t.Errorf("over MaxResponseBody: err = %v", err)
	}
	// Only that stream was given up: the connection still serves others.
	if resp, err := small.Do(context.Background(), &h2client.Request{Method: "POST", Path: "/small", Body: []byte("x")}); err != nil || string(resp.Body) != "small" {
		t.Errorf("after a body over the limit: %v, %v", resp, err)
	}
	if got := small.Conns(); got != 1 {
		t.Errorf("connections = %d, want 1", got)
	}
}

func TestErrors(t *testing.T) {
	release := make(chan struct{})
	var cancelled atomic.Bool
	srv := newServer(t, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/hang":
			select {
			case <-r.Context().Done():
				cancelled.Store(true)
			case <-release:
			}
		default:
			echo(w, r)
		}
	}))
	defer close(release)
	c := newClient(t, srv, h2client.Config{})

	_, err := c.Do(context.Background(), &h2client.Request{Path: "/abort"})
	var re *h2client.ResetError
	if !errors.As(err, &re) || re.Code != "INTERNAL_ERROR" {
		t.Errorf("aborted handler: err = %v, want a ResetError INTERNAL_ERROR", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Do(ctx, &h2client.Request{Path: "/hang"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline: err = %v", err)
	}
	waitFor(t, "the server to see the stream cancelled", cancelled.Load)
	if resp, err := c.Do(context.Background(), &h2client.Request{Path: "/ok"}); err != nil || resp.Status != http.StatusCreated {
		t.Errorf("after a cancelled stream: %v %v", resp, err)
	}

	// The connection dies with a request in flight: ErrConnLost.
	go func() {
		time.Sleep(100 * time.Millisecond)
		srv.CloseClientConnections()
	}()
	if _, err := c.Do(context.Background(), &h2client.Request{Path: "/hang"}); !errors.Is(err, h2client.ErrConnLost) {
		t.Errorf("connection closed mid-request: err = %v, want ErrConnLost", err)
	}
	if resp, err := c.Do(context.Background(), &h2client.Request{Path: "/ok"}); err != nil || resp.Status != http.StatusCreated {
		t.Errorf("after a lost connection (redial): %v %v", resp, err)
	}
}

func TestTLSAlertAndDialBackoff(t *testing.T) {
	var accepted atomic.Int64
	srv := httptest.NewUnstartedServer(echo)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert, MaxVersion: tls.VersionTLS12}
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	c := newClient(t, srv, h2client.Config{})
	for i := range 3 {
		_, err := c.Do(context.Background(), &h2client.Request{Path: "/"})
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "remote error" {
			t.Errorf("request %d without a client certificate: err = %v, want the server's TLS alert", i, err)
		}
	}
	// Within the back-off the dial's error is returned without dialing.
	if got := accepted.Load(); got != 1 {
		t.Errorf("connections accepted = %d, want 1", got)
	}
	time.Sleep(150 * time.Millisecond) // past the first back-off (100 ms)
	if _, err := c.Do(context.Background(), &h2client.Request{Path: "/"}); err == nil {
		t.Error("a request succeeded without a certificate")
	}
	if got := accepted.Load(); got != 2 {
		t.Errorf("connections accepted after the back-off = %d, want 2", got)
	}
}

func TestUnprocessedIsRetried(t *testing.T) {
	tests := []struct {
		name   string
		script func(n int64, fr *http2.Framer, flush func())
		conns  int64
	}{
		{"refused stream", func(n int64, fr *http2.Framer, flush func()) {
			id := nextRequest(fr, flush)
			_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			flush()
			answer(fr, flush, nextRequest(fr, flush), 200)
			nextRequest(fr, flush)
		}, 1},
		{"goaway below the stream", func(n int64, fr *http2.Framer, flush func()) {
			if n == 1 {
				nextRequest(fr, flush)
				_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
				flush()
				nextRequest(fr, flush)
				return
			}
			answer(fr, flush, nextRequest(fr, flush), 200)
			nextRequest(fr, flush)
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, tt.script)
			c, err := h2client.New(h2client.Config{Addr: s.addr, TLS: s.roots})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, err := c.Do(context.Background(), &h2client.Request{Path: "/x"})
			if err != nil || resp.Status != 200 {
				t.Fatalf("got %v, %v; want 200 after a retry", resp, err)
			}
			if got := s.conns.Load(); got != tt.conns {
				t.Errorf("connections = %d, want %d", got, tt.conns)
			}
		})
	}
}

func TestUnansweredPingClosesTheConnection(t *testing.T) {
	s := newScripted(t, func(n int64, fr *http2.Framer, flush func()) {
		nextRequest(fr, flush) // read it, never answer it nor any PING
		time.Sleep(5 * time.Second)
	})
	c, err := h2client.New(h2client.Config{Addr: s.addr, TLS: s.roots, ReadIdleTimeout: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Do(context.Background(), &h2client.Request{Path: "/x"})
	if !errors.Is(err, h2client.ErrConnLost) {
		t.Fatalf("err = %v, want ErrConnLost", err)
	}
	if !strings.Contains(err.Error(), "PING") {
		t.Errorf("err = %v, want it to name the unanswered PING", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestAnsweredPingsKeepTheConnection(t *testing.T) {
	srv := newServer(t, 100, echo)
	c := newClient(t, srv, h2client.Config{ReadIdleTimeout: 20 * time.Millisecond, PingTimeout: 100 * time.Millisecond})
	for range 3 {
		if _, err := c.Do(context.Background(), &h2client.Request{Path: "/"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if got := c.Conns(); got != 1 {
		t.Errorf("connections = %d, want 1 (kept alive by pings)", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStartCallsDoneOnceEach(t *testing.T) {
	var arrived atomic.Int64
	full := make(chan struct{})
	srv := newServer(t, 50, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/barrier" {
			if arrived.Add(1) == 100 {
				close(full)
			}
			select {
			case <-full:
			case <-r.Context().Done():
			}
			echo(w, r)
			return
		}
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
			return
		}
		echo(w, r)
	}))
	c := newClient(t, srv, h2client.Config{MaxConns: 2})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()

	const n = 600
	calls := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	var ok, ctxErr, other atomic.Int32
	for i := range n {
		ctx, path := context.Background(), "/fast"
		switch i % 3 {
		case 1:
			ctx = cancelled
		case 2:
			ctx, path = short, "/slow"
		}
		wg.Add(1)
		c.Start(ctx, &h2client.Request{Method: "POST", Path: path, Body: []byte("x")}, func(resp *h2client.Response, err error) {
			defer wg.Done()
			calls[i].Add(1)
			switch {
			case err == nil && resp.Status == http.StatusCreated && i%3 == 0:
				ok.Add(1)
			case errors.Is(err, context.Canceled) && i%3 == 1, errors.Is(err, context.DeadlineExceeded) && i%3 == 2:
				ctxErr.Add(1)
			default:
				other.Add(1)
				t.Errorf("request %d: %v %v", i, resp, err)
			}
		})
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond) // a second call would come now
	for i := range calls {
		if got := calls[i].Load(); got != 1 {
			t.Errorf("request %d: done called %d times", i, got)
		}
	}
	if ok.Load() != n/3 || ctxErr.Load() != 2*n/3 {
		t.Errorf("answered %d, context errors %d, other %d; want %d, %d, 0", ok.Load(), ctxErr.Load(), other.Load(), n/3, 2*n/3)
	}
	// Every stream was given back: as many requests as both connections
	// allow are at the server at once (with one stream leaked, one of
	// them would wait for a free stream and the barrier never fill).
	arrived.Store(0)
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	for range 100 {
		wg.Go(func() {
			if _, err := c.Do(ctx, &h2client.Request{Path: "/barrier"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestCloseEndsTheConnectionsGoroutines(t *testing.T) {
	srv := newServer(t, 10, echo)
	c := newClient(t, srv, h2client.Config{})
	srv.Client() // (the server's own goroutines are running already)
	before := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for range 50 { // 10 streams per connection: several connections
		wg.Go(func() {
			if _, err := c.Do(context.Background(), &h2client.Request{Path: "/"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c.Conns() < 2 {
		t.Fatalf("connections = %d, want several", c.Conns())
	}
	c.Close()
	srv.CloseClientConnections() // the server's side of them
	waitFor(t, "the connections' goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	if got := c.Conns(); got != 0 {
		t.Errorf("connections after Close = %d", got)
	}
}
