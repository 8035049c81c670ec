package h2client_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"mobilepush/shared/h2client"
)

// Regression test for issue 16: under GOAWAY churn (nginx's
// keepalive_requests) requests ended in ErrUnprocessed after three
// immediate retries. Each connection here processes 50 requests, sends
// GOAWAY with the 50th as the last stream and ignores the streams after
// it, while the client keeps 300 requests in flight: every request is
// answered, none is processed twice.
func TestGoAwayChurnLeavesNoRequestUnprocessed(t *testing.T) {
	const requests, perConn, inFlight = 5000, 50, 300
	var processed sync.Map
	var twice atomic.Int64
	s := newScripted(t, func(_ int64, fr *http2.Framer, flush func()) {
		rc := newRawConn(fr, flush)
		served := 0
		for f := rc.next(); f != nil; f = rc.next() {
			h, ok := f.(*http2.MetaHeadersFrame)
			if !ok || served == perConn {
				continue // after the GOAWAY: ignored, as RFC 9113 §6.8 lets it
			}
			served++
			path := h.PseudoValue("path")
			if _, dup := processed.LoadOrStore(path, true); dup {
				twice.Add(1)
			}
			if served == perConn {
				_ = fr.WriteGoAway(h.StreamID, http2.ErrCodeNo, nil)
			}
			rc.respond(h.StreamID, 200, []byte(path))
		}
	})
	c, err := h2client.New(h2client.Config{Addr: s.addr, TLS: s.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	var unprocessed, failed atomic.Int64
	for i := range requests {
		sem <- struct{}{}
		wg.Add(1)
		path := "/r/" + strconv.Itoa(i)
		c.Start(ctx, &h2client.Request{Path: path}, func(resp *h2client.Response, err error) {
			defer wg.Done()
			defer func() { <-sem }()
			switch {
			case errors.Is(err, h2client.ErrUnprocessed):
				unprocessed.Add(1)
			case err != nil || resp.Status != 200 || string(resp.Body) != path:
				if failed.Add(1) <= 3 {
					t.Errorf("%s: %v %v", path, resp, err)
				}
			}
		})
	}
	wg.Wait()
	if unprocessed.Load() > 0 || failed.Load() > 0 || twice.Load() > 0 {
		t.Errorf("of %d requests: %d unprocessed, %d failed otherwise, %d processed twice; %d connections",
			requests, unprocessed.Load(), failed.Load(), twice.Load(), s.conns.Load())
	}
}

// A failed dial sent nothing: its error is both the dial's own (a
// *net.OpError) and ErrUnprocessed, so a caller may retry it safely.
func TestDialErrorIsUnprocessed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := h2client.New(h2client.Config{Addr: addr, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Do(context.Background(), &h2client.Request{Path: "/"})
	var oe *net.OpError
	if !errors.Is(err, h2client.ErrUnprocessed) || !errors.As(err, &oe) || oe.Op != "dial" {
		t.Errorf("err = %v (%T), want a dial *net.OpError that is also ErrUnprocessed", err, err)
	}
}
