package h2client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"mobilepush/shared/h2client"
)

// Regression tests for issue 16: a request body waiting for
// flow-control window stopped the connection's writer.

// A handler that reads a 3 MiB body 1 MiB at a time and echoes each MiB
// before it reads on: the server grants more window only after the
// client has taken the echo, which takes the client's WINDOW_UPDATEs.
// With the writer stuck waiting for window they were never written and
// every request timed out.
func TestBodyWaitingForWindowLetsWindowUpdatesThrough(t *testing.T) {
	const size = 3 << 20
	srv := newServer(t, 100, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1<<20)
		for {
			n, err := io.ReadFull(r.Body, buf)
			_, _ = w.Write(buf[:n])
			w.(http.Flusher).Flush()
			if err != nil {
				return
			}
		}
	}))
	c := newClient(t, srv, h2client.Config{MaxResponseBody: size})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + i)}, size)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			resp, err := c.Do(ctx, &h2client.Request{Method: "POST", Path: "/echo/" + strconv.Itoa(i), Body: body})
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			if resp.Status != http.StatusOK || !bytes.Equal(resp.Body, body) {
				t.Errorf("request %d: status %d, %d bytes echoed of %d", i, resp.Status, len(resp.Body), size)
			}
		})
	}
	wg.Wait()
}

// One POST whose body waits for window (the server grants none until
// the end) blocks neither control frames (PING and SETTINGS are
// acknowledged, a cancelled stream is reset) nor other streams (GETs
// are answered); then it completes.
func TestBodyWaitingForWindowBlocksNothingElse(t *testing.T) {
	const postSize = 200 << 10
	stalled := make(chan struct{})   // the POST used the 65,535-byte windows; PING and SETTINGS acknowledged
	answered := make(chan struct{})  // the GETs were answered
	hangSeen := make(chan struct{})  // the GET to cancel reached the server
	resetSeen := make(chan struct{}) // its RST_STREAM did
	s := newScripted(t, func(n int64, fr *http2.Framer, flush func()) {
		rc := newRawConn(fr, flush)
		var post, hang uint32
		got, gets := 0, 0
		step := 0
		for {
			f := rc.next()
			if f == nil {
				return
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				switch {
				case f.PseudoValue("method") == "POST":
					post = f.StreamID
				case f.PseudoValue("path") == "/hang":
					hang = f.StreamID
					close(hangSeen)
				default:
					rc.respond(f.StreamID, 200, []byte(f.PseudoValue("path")))
					if gets++; gets == 10 {
						close(answered)
					}
				}
			case *http2.DataFrame:
				if f.StreamID != post {
					continue
				}
				got += len(f.Data())
				if f.StreamEnded() {
					rc.respond(post, 200, []byte(strconv.Itoa(got)))
				}
			case *http2.RSTStreamFrame:
				if f.StreamID == hang && f.ErrCode == http2.ErrCodeCancel {
					close(resetSeen)
					// Now the window for the rest of the POST.
					_ = fr.WriteWindowUpdate(0, postSize)
					_ = fr.WriteWindowUpdate(post, postSize)
					flush()
				}
			}
			if step == 0 && got == 65535 {
				step = 1
				_ = fr.WritePing(false, [8]byte{1})
				_ = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
				flush()
			}
			if step == 1 && rc.pingAcks == 1 && rc.settingsAcks == 2 {
				step = 2
				close(stalled)
			}
		}
	})
	c, err := h2client.New(h2client.Config{Addr: s.addr, TLS: s.roots})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wait := func(what string, ch chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("while a POST waits for window: %s did not happen", what)
		}
	}
	postDone := make(chan error, 1)
	go func() {
		resp, err := c.Do(ctx, &h2client.Request{Method: "POST", Path: "/post", Body: bytes.Repeat([]byte("p"), postSize)})
		if err == nil && (resp.Status != 200 || string(resp.Body) != strconv.Itoa(postSize)) {
			err = fmt.Errorf("status %d, body %q", resp.Status, resp.Body)
		}
		postDone <- err
	}()
	wait("the PING and SETTINGS acknowledgements", stalled)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			path := "/get/" + strconv.Itoa(i)
			if resp, err := c.Do(ctx, &h2client.Request{Path: path}); err != nil || string(resp.Body) != path {
				t.Errorf("GET %s: %v %v", path, resp, err)
			}
		})
	}
	wait("answers to the GETs", answered)
	wg.Wait()
	hangCtx, cancelHang := context.WithCancel(ctx)
	hangDone := make(chan error, 1)
	go func() {
		_, err := c.Do(hangCtx, &h2client.Request{Path: "/hang"})
		hangDone <- err
	}()
	wait("the GET to cancel", hangSeen)
	cancelHang()
	if err := <-hangDone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled GET: err = %v", err)
	}
	wait("the RST_STREAM of the cancelled GET", resetSeen)
	if err := <-postDone; err != nil {
		t.Errorf("POST: %v", err)
	}
	if got := s.conns.Load(); got != 1 {
		t.Errorf("connections = %d, want 1", got)
	}
}
