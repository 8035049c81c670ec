package h2client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"mobilepush/shared/h2client"
)

// Regression test for issue 16: one response header field over 64 KiB
// closed the whole connection (COMPRESSION_ERROR), failing every request
// on it, and more than 128 fields failed the request; the standard
// Transport accepts both.
func TestLargeResponseHeaderLists(t *testing.T) {
	big := strings.Repeat("v", 70_000)
	var conns sync.Map // the remote addresses the server saw: one per connection
	srv := newServer(t, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns.Store(r.RemoteAddr, true)
		switch r.URL.Path {
		case "/big":
			w.Header().Set("x-big", big)
		case "/many":
			for i := range 200 {
				w.Header().Set("x-f"+strconv.Itoa(i), strconv.Itoa(i))
			}
		}
		w.Header().Set("x-path", r.URL.Path)
	}))
	c := newClient(t, srv, h2client.Config{})
	var wg sync.WaitGroup
	for i := range 90 {
		path := [...]string{"/big", "/many", "/small"}[i%3]
		wg.Go(func() {
			resp, err := c.Do(context.Background(), &h2client.Request{Path: path})
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return
			}
			if resp.Get("x-path") != path {
				t.Errorf("%s: x-path %q", path, resp.Get("x-path"))
			}
			switch path {
			case "/big":
				if resp.Get("x-big") != big {
					t.Errorf("/big: x-big has %d bytes, want %d", len(resp.Get("x-big")), len(big))
				}
			case "/many":
				if len(resp.Header) < 201 || resp.Get("x-f199") != "199" {
					t.Errorf("/many: %d fields, x-f199 %q", len(resp.Header), resp.Get("x-f199"))
				}
			}
		})
	}
	wg.Wait()
	if n := count(&conns); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
}

// A header list over Config.MaxResponseHeader fails only its request,
// with ErrResponseTooLarge: the connection and the requests beside it go
// on, and the HPACK table stays in step (the server indexes the fields
// of the refused lists and answers the next requests with references to
// them).
func TestHeaderListOverTheLimitFailsOnlyItsRequest(t *testing.T) {
	const limit = 8 << 10
	var conns sync.Map // the remote addresses the server saw: one per connection
	srv := newServer(t, 1000, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conns.Store(r.RemoteAddr, true)
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		switch r.URL.Path {
		case "/one-field": // one field over the limit
			w.Header().Set("x-big", strings.Repeat("b", 2*limit-100))
		case "/many-fields": // indexed fields, over the limit together
			for i := range 200 {
				w.Header().Set(fmt.Sprintf("x-f%03d", i), fmt.Sprintf("value-%03d-%d", i, n%2))
			}
		default: // fields the refused lists put in the table
			for i := 190; i < 200; i++ {
				w.Header().Set(fmt.Sprintf("x-f%03d", i), fmt.Sprintf("value-%03d-%d", i, n%2))
			}
		}
	}))
	c := newClient(t, srv, h2client.Config{MaxResponseHeader: limit})
	var wg sync.WaitGroup
	for i := range 300 {
		path := [...]string{"/one-field", "/many-fields", "/ok"}[i%3]
		wg.Go(func() {
			resp, err := c.Do(context.Background(), &h2client.Request{Path: path + "?n=" + strconv.Itoa(i)})
			if path != "/ok" {
				if !errors.Is(err, h2client.ErrResponseTooLarge) {
					t.Errorf("%s: err = %v, want ErrResponseTooLarge", path, err)
					_ = resp
				}
				return
			}
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return
			}
			for j := 190; j < 200; j++ {
				if got, want := resp.Get(fmt.Sprintf("x-f%03d", j)), fmt.Sprintf("value-%03d-%d", j, i%2); got != want {
					t.Errorf("request %d: x-f%03d = %q, want %q", i, j, got, want)
				}
			}
		})
	}
	wg.Wait()
	if n := count(&conns); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
}

func count(m *sync.Map) int {
	n := 0
	m.Range(func(_, _ any) bool { n++; return true })
	return n
}
