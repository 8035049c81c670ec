package h2client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"mobilepush/shared/h2client"
)

// Regression tests for interleavings a review found; each failed before
// its fix.

// The connection dies while the writer holds queued requests whose
// bodies wait for flow-control window: every request still ends.
func TestConnectionDeathEndsEveryQueuedRequest(t *testing.T) {
	s := newScripted(t, func(n int64, fr *http2.Framer, flush func()) {
		// Read and never grant window; the connection closes at 300 ms.
		go func() {
			for {
				if _, err := fr.ReadFrame(); err != nil {
					return
				}
			}
		}()
		time.Sleep(300 * time.Millisecond)
	})
	c, err := h2client.New(h2client.Config{Addr: s.addr, TLS: s.roots, MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 50 // 50 x 4000 bytes: far over the 64 KiB connection window
	var wg sync.WaitGroup
	var ended atomic.Int64
	body := bytes.Repeat([]byte("x"), 4000)
	for i := range n {
		wg.Add(1)
		c.Start(context.Background(), &h2client.Request{Method: "POST", Path: "/x/" + strconv.Itoa(i), Body: body}, func(_ *h2client.Response, err error) {
			defer wg.Done()
			if err != nil {
				ended.Add(1)
			}
		})
	}
	waitFor(t, "every request to end", func() bool { return ended.Load() == n })
	wg.Wait()
}

// Requests cancelled while the writer encodes them must not leave the
// server's HPACK table behind the client's (an indexed header per
// request makes every block depend on the ones before).
func TestCancellationKeepsHeaderTablesInStep(t *testing.T) {
	srv := newServer(t, 1000, echo)
	c := newClient(t, srv, h2client.Config{MaxConns: 1})
	var wrong, failed atomic.Int64
	var wg sync.WaitGroup
	for round := range 200 {
		for i := range 100 {
			id := strconv.Itoa(round*1000 + i)
			ctx, cancel := context.WithCancel(context.Background())
			wg.Add(1)
			c.Start(ctx, &h2client.Request{Path: "/p", Header: []h2client.Field{{Name: "x-id", Value: id}}}, func(resp *h2client.Response, err error) {
				defer wg.Done()
				defer cancel()
				switch {
				case err == nil && resp.Get("x-id") != id:
					wrong.Add(1)
				case err != nil && !errors.Is(err, context.Canceled):
					if failed.Add(1) < 3 {
						t.Log(err)
					}
				}
			})
			if i%2 == 1 {
				go cancel()
			}
		}
		wg.Wait()
	}
	if wrong.Load() > 0 || failed.Load() > 0 {
		t.Errorf("%d answers carried another request's header, %d requests failed", wrong.Load(), failed.Load())
	}
}

// END_STREAM on a HEADERS frame whose block goes on in CONTINUATION
// frames ends the stream when the block ends.
func TestEndStreamOnHeadersWithContinuation(t *testing.T) {
	s := newScripted(t, func(n int64, fr *http2.Framer, flush func()) {
		id := nextRequest(fr, flush)
		var buf bytes.Buffer
		e := hpack.NewEncoder(&buf)
		_ = e.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		_ = e.WriteField(hpack.HeaderField{Name: "apns-id", Value: "abc"})
		b := buf.Bytes()
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b[:1], EndStream: true, EndHeaders: false})
		_ = fr.WriteContinuation(id, true, b[1:])
		flush()
		nextRequest(fr, flush)
	})
	c, err := h2client.New(h2client.Config{Addr: s.addr, TLS: s.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := c.Do(ctx, &h2client.Request{Path: "/"})
	if err != nil || resp.Status != 200 || resp.Get("apns-id") != "abc" {
		t.Fatalf("got %v, %v; want 200 with apns-id abc", resp, err)
	}
}

// A cancelled stream's RST_STREAM reaches the server before a request
// that takes its place, so the server's stream limit is never exceeded.
func TestCancelledStreamIsResetBeforeItIsReused(t *testing.T) {
	srv := newServer(t, 10, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	c := newClient(t, srv, h2client.Config{MaxConns: 1})
	var resets atomic.Int64
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			for range 50 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
				_, err := c.Do(ctx, &h2client.Request{Path: "/hang"})
				cancel()
				var re *h2client.ResetError
				if errors.As(err, &re) && resets.Add(1) < 3 {
					t.Log(err)
				}
			}
		})
	}
	wg.Wait()
	if n := resets.Load(); n > 0 {
		t.Errorf("the server reset %d streams (over its limit of 10)", n)
	}
}
