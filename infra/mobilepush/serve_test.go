package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/h2client"
	"mobilepush/shared/testcred"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs `mobilepush token` and then `mobilepush serve
// --fake-gateways` in-process on a fresh data directory, and stops serve
// when the test ends (failing it if serve does not exit 0).
func startServer(t *testing.T) (base, token, data string) {
	t.Helper()
	return startServerSeeded(t, nil)
}

// startServerSeeded is startServer with seed (when not nil) run on the
// data directory after the token is made and before serve opens it.
func startServerSeeded(t testing.TB, seed func(data string)) (base, token, data string) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "data")
	base, token = startServerWith(t, data, seed)
	return base, token, data
}

// startServerAt is startServer on the data directory data (which may hold
// state already), with extra serve flags.
func startServerAt(t *testing.T, data string, extra ...string) (base, token string) {
	t.Helper()
	return startServerWith(t, data, nil, extra...)
}

// startServerWith is startServerAt with seed (when not nil) run on the
// data directory after the token is made and before serve opens it.
func startServerWith(t testing.TB, data string, seed func(data string), extra ...string) (base, token string) {
	t.Helper()
	var tok, errb bytes.Buffer
	if code := run(context.Background(), []string{"token", "--data", data, "--tenant", "default"}, nil, &tok, &errb); code != 0 {
		t.Fatalf("token exit %d: %s", code, errb.String())
	}
	if seed != nil {
		seed(data)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var serveErr syncBuffer
	done := make(chan int)
	args := append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--fake-gateways"}, extra...)
	go func() {
		done <- run(ctx, args, nil, pw, &serveErr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve printed no URL: %v; stderr: %s", err, serveErr.String())
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, serveErr.String())
		}
	})
	return strings.Fields(strings.TrimPrefix(line, "mobilepush serving on "))[0], strings.TrimSpace(tok.String())
}

// mintP12 mints a universal push certificate for bundle from the test
// Apple authority and returns it as a password-protected .p12.
func mintP12(t testing.TB, bundle, password string) ([]byte, *testcred.Identity) {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(testcred.PushCert{BundleID: bundle})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := id.P12(pkcs12.Modern2023, password, true)
	if err != nil {
		t.Fatal(err)
	}
	return p12, id
}

// TestServeOfflineDemo runs `mobilepush token` then `mobilepush serve
// --fake-gateways` on a fresh data directory and registers an app with
// minted credentials through the real HTTP API.
func TestServeOfflineDemo(t *testing.T) {
	base, token, data := startServer(t)
	if !strings.HasPrefix(token, "mpt_") || strings.ContainsAny(token, " \n") {
		t.Fatalf("token output = %q, want only the token", token)
	}

	// A second process on a directory another command holds (not serve,
	// which answers on its admin socket) gives up within about a second
	// and names the holder.
	held := filepath.Join(t.TempDir(), "held")
	dir, err := openDataDir(held, "mobilepush check-expiry", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	var out2, err2 bytes.Buffer
	start := time.Now()
	if code := run(context.Background(), []string{"token", "--data", held, "--tenant", "x"}, nil, &out2, &err2); code != 1 {
		t.Errorf("token on a held directory: exit %d, want 1", code)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("waited %v for the lock", d)
	}
	if !strings.Contains(err2.String(), "mobilepush check-expiry") || !strings.Contains(err2.String(), "pid") {
		t.Errorf("error does not name the holder: %q", err2.String())
	}

	createDemoApp(t, base, token)
	if fi, err := os.Stat(filepath.Join(data, "data.db.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sealing key file: %v %v", fi, err)
	}
}

// TestServeHTTP2Client: serve proves both credentials against the fakes
// over either HTTP/2 stack --http2-client chooses.
func TestServeHTTP2Client(t *testing.T) {
	for _, stack := range h2client.Stacks {
		t.Run(string(stack), func(t *testing.T) {
			base, token := startServerAt(t, filepath.Join(t.TempDir(), "data"), "--http2-client", string(stack))
			createDemoApp(t, base, token)
		})
	}
}

// createDemoApp registers an app with minted credentials through the
// HTTP API and wants both proven live.
func createDemoApp(t *testing.T, base, token string) {
	t.Helper()
	p12, _ := mintP12(t, "com.example.app", "demo")
	sa, err := testcred.ServiceAccount{}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		APNs, FCM struct {
			Status string
			Live   struct{ Code string }
		}
	}
	status := apiCall(t, "POST", base+"/v1/apps", token, map[string]any{"name": "Demo",
		"apns": map[string]any{"bundle_id": "com.example.app", "p12_base64": base64.StdEncoding.EncodeToString(p12), "password": "demo"},
		"fcm":  map[string]any{"service_account_json": string(sa)}}, &app)
	if status != 201 || app.APNs.Live.Code != "live_ok" || app.FCM.Live.Code != "live_ok" || app.APNs.Status != "ok" {
		t.Fatalf("create = %d %+v", status, app)
	}
}

func TestServeUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--fake-gateways", "--fcm-url", "https://x"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"serve", "--fake-gateways", "--http2-client", "fast"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--http2-client") {
		t.Errorf("--http2-client fast: exit %d: %s", code, errb.String())
	}
}
