package h2client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"mobilepush/shared/h2client"
)

// BenchmarkSmallRequests sends small POSTs (an APNs-sized body) from
// parallel callers through h2client and, as the in-run baseline, through
// golang.org/x/net/http2's Transport, on the same Go server; the lean
// sub-benchmark reports its time per request as a ratio to the
// standard one (x-std).
func BenchmarkSmallRequests(b *testing.B) {
	srv := benchServer(b, 0)
	body := bytes.Repeat([]byte("p"), 256)
	compare(b, srv, func(b *testing.B, send func(string, []byte) ([]byte, error)) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if got, err := send("/small", body); err != nil || len(got) != len(body) {
					b.Errorf("%d bytes, %v", len(got), err)
					return
				}
			}
		})
	})
}

// BenchmarkSmallWindows sends 16 concurrent 4 KiB POSTs at a time to a
// server whose per-stream receive window is 1 byte or 1 KiB, so every
// body waits for window again and again (issue 16: h2client's writer
// waited on one stream at a time). x-std as above.
func BenchmarkSmallWindows(b *testing.B) {
	for _, window := range []int{1, 1024} {
		b.Run("window="+strconv.Itoa(window), func(b *testing.B) {
			srv := benchServer(b, window)
			body := bytes.Repeat([]byte("w"), 4<<10)
			compare(b, srv, func(b *testing.B, send func(string, []byte) ([]byte, error)) {
				for range b.N {
					var wg sync.WaitGroup
					for i := range 16 {
						wg.Go(func() {
							if got, err := send("/w/"+strconv.Itoa(i), body); err != nil || len(got) != len(body) {
								b.Errorf("%d bytes, %v", len(got), err)
							}
						})
					}
					wg.Wait()
				}
			})
		})
	}
}

// benchServer is an echo server; window > 0 sets its per-stream receive
// window.
func benchServer(b *testing.B, window int) *httptest.Server {
	b.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, _ = w.Write(body)
	}))
	protocols := new(http.Protocols)
	protocols.SetHTTP2(true)
	srv.Config.Protocols = protocols
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000, MaxReceiveBufferPerStream: window}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return srv
}

// compare runs run through x/net's Transport ("std") and then h2client
// ("lean"), which reports its ns/op as a ratio to std's (x-std).
func compare(b *testing.B, srv *httptest.Server, run func(*testing.B, func(string, []byte) ([]byte, error))) {
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	var stdNs float64
	b.Run("std", func(b *testing.B) {
		tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		// One request first, so that the server's SETTINGS are in: the
		// Transport sends bodies before them in the default window, which
		// a server with a smaller one resets (FLOW_CONTROL_ERROR).
		if resp, err := hc.Get(srv.URL + "/"); err != nil {
			b.Fatal(err)
		} else {
			resp.Body.Close()
		}
		b.ResetTimer()
		b.ReportAllocs()
		start := time.Now()
		run(b, func(path string, body []byte) ([]byte, error) {
			resp, err := hc.Post(srv.URL+path, "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			return io.ReadAll(resp.Body)
		})
		stdNs = float64(time.Since(start).Nanoseconds()) / float64(b.N)
	})
	b.Run("lean", func(b *testing.B) {
		c, err := h2client.New(h2client.Config{Addr: strings.TrimPrefix(srv.URL, "https://"), TLS: &tls.Config{RootCAs: roots}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		b.ReportAllocs()
		start := time.Now()
		run(b, func(path string, body []byte) ([]byte, error) {
			resp, err := c.Do(context.Background(), &h2client.Request{Method: "POST", Path: path, Body: body})
			if err != nil {
				return nil, err
			}
			return resp.Body, nil
		})
		if stdNs > 0 {
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/stdNs, "x-std")
		}
	})
}
