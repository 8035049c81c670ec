package h2client_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"mobilepush/shared/h2client"
)

func TestRoundTrip(t *testing.T) {
	srv := newServer(t, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		echo(w, r)
	}))
	c := newClient(t, srv, h2client.Config{})
	hc := &http.Client{Transport: c}

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/send?x=1", strings.NewReader(`{"m":1}`))
	req.Header.Set("X-Topic", "t")
	req.Header.Set("Connection", "keep-alive") // hop-by-hop: dropped
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := map[string]string{"status": resp.Status, "proto": resp.Proto, "body": string(body), "x-path": resp.Header.Get("X-Path"),
		"x-topic": resp.Header.Get("X-Topic"), "x-multi": strings.Join(resp.Header.Values("X-Multi"), ",")}
	want := map[string]string{"status": "201 Created", "proto": "HTTP/2.0", "body": `{"m":1}`, "x-path": "/v1/send",
		"x-topic": "t", "x-multi": "a,b"}
	for k := range want {
		if got[k] != want[k] {
			t.Errorf("%s = %q, want %q", k, got[k], want[k])
		}
	}

	for _, tt := range []struct{ name, url string }{
		{"another host", "https://example.com/v1/send"},
		{"plain http", strings.Replace(srv.URL, "https", "http", 1) + "/v1/send"},
	} {
		req, _ := http.NewRequest(http.MethodGet, tt.url+"?token=secret", nil)
		_, err := c.RoundTrip(req) // (http.Client's own error quotes the URL)
		if err == nil || !strings.Contains(err.Error(), "not this client's origin") || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: err = %v, want refused without quoting the query", tt.name, err)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Header["X-Bad"] = []string{"a\r\nInjected: 1"}
	if _, err := hc.Do(req); err == nil || !strings.Contains(err.Error(), "invalid value") {
		t.Errorf("header with CRLF: err = %v", err)
	}
}
