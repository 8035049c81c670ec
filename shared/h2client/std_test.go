package h2client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"mobilepush/shared/h2client"
)

func newStd(t *testing.T, srv *httptest.Server, cfg h2client.Config) *h2client.StdClient {
	t.Helper()
	cfg.Addr = strings.TrimPrefix(srv.URL, "https://")
	cfg.TLS = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	c, err := h2client.NewStd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestStdClient: the standard stack keeps the lean client's contract: a
// request with its headers and body reaches the server over HTTP/2 and
// the response comes back whole; a body over MaxResponseBody and a header
// list over MaxResponseHeader fail their request (the body with
// ErrResponseTooLarge) and the next request goes through; a request for
// another origin is refused without a call.
func TestStdClient(t *testing.T) {
	const limit = 8 << 10
	var calls atomic.Int64
	srv := newServer(t, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/big-body":
			_, _ = w.Write([]byte(strings.Repeat("b", 2<<10)))
			return
		case "/big-header":
			w.Header().Set("x-big", strings.Repeat("h", limit))
		}
		w.Header().Set("x-proto", r.Proto)
		w.Header().Set("x-echo", r.Header.Get("x-in"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte("ok"))
	}))
	c := newStd(t, srv, h2client.Config{MaxResponseBody: 1 << 10, MaxResponseHeader: limit})
	ctx := context.Background()

	tests := []struct {
		path    string
		wantErr error // nil: a 202 with the echoed header
	}{
		{"/ok", nil},
		{"/big-body", h2client.ErrResponseTooLarge},
		{"/ok", nil},
		{"/big-header", errors.New("any")},
		{"/ok", nil},
	}
	for _, tt := range tests {
		resp, err := c.Do(ctx, &h2client.Request{Method: "POST", Path: tt.path, Header: []h2client.Field{{Name: "x-in", Value: "v1"}}, Body: []byte("{}")})
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.wantErr == nil && (resp.Status != http.StatusAccepted || string(resp.Body) != "ok" || resp.Get("x-echo") != "v1" || resp.Get("x-proto") != "HTTP/2.0"):
			t.Errorf("%s: %d %q x-echo=%q x-proto=%q, want 202 \"ok\" v1 over HTTP/2.0", tt.path, resp.Status, resp.Body, resp.Get("x-echo"), resp.Get("x-proto"))
		case errors.Is(tt.wantErr, h2client.ErrResponseTooLarge) && !errors.Is(err, h2client.ErrResponseTooLarge):
			t.Errorf("%s: err = %v, want ErrResponseTooLarge", tt.path, err)
		case tt.wantErr != nil && err == nil:
			t.Errorf("%s: no error, want one (over the limit)", tt.path)
		}
	}

	before := calls.Load()
	req, _ := http.NewRequest("GET", "https://elsewhere.example/x", nil)
	if _, err := c.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "not this client's origin") {
		t.Errorf("RoundTrip to another origin: %v, want it refused", err)
	}
	if calls.Load() != before {
		t.Errorf("the refused request reached the server")
	}
}
