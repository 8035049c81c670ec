package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

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

// TestServeOfflineDemo runs `mobilepush token` then `mobilepush serve
// --fake-gateways` on a fresh data directory and registers an app with
// minted credentials through the real HTTP API.
func TestServeOfflineDemo(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	var tok, errb bytes.Buffer
	if code := run(context.Background(), []string{"token", "--data", data, "--tenant", "default"}, nil, &tok, &errb); code != 0 {
		t.Fatalf("token exit %d: %s", code, errb.String())
	}
	token := strings.TrimSpace(tok.String())
	if !strings.HasPrefix(token, "mpt_") || strings.Contains(token, "\n") {
		t.Fatalf("token output = %q, want only the token", tok.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var serveErr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--fake-gateways"}, nil, pw, &serveErr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed no URL: %v; stderr: %s", err, serveErr.String())
	}
	go io.Copy(io.Discard, pr)
	base := strings.Fields(strings.TrimPrefix(line, "mobilepush serving on "))[0]
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, serveErr.String())
		}
	})

	// A second process on the same directory gives up within about a
	// second and names the holder.
	var out2, err2 bytes.Buffer
	start := time.Now()
	if code := run(context.Background(), []string{"token", "--data", data, "--tenant", "x"}, nil, &out2, &err2); code != 1 {
		t.Errorf("token on a held directory: exit %d, want 1", code)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("waited %v for the lock", d)
	}
	if !strings.Contains(err2.String(), "mobilepush serve") || !strings.Contains(err2.String(), "pid") {
		t.Errorf("error does not name the holder: %q", err2.String())
	}

	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(testcred.PushCert{BundleID: "com.example.app"})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := id.P12(pkcs12.Modern2023, "demo", true)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"name": "Demo",
		"apns": map[string]any{"bundle_id": "com.example.app", "p12_base64": base64.StdEncoding.EncodeToString(p12), "password": "demo"},
		"fcm":  map[string]any{"service_account_json": string(sa)}})
	req, _ := http.NewRequest("POST", base+"/v1/apps", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var app struct {
		APNs, FCM struct {
			Status string
			Live   struct{ Code string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&app); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || app.APNs.Live.Code != "live_ok" || app.FCM.Live.Code != "live_ok" || app.APNs.Status != "ok" {
		t.Fatalf("create = %d %+v; stderr: %s", resp.StatusCode, app, serveErr.String())
	}
	if fi, err := os.Stat(filepath.Join(data, "data.db.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("sealing key file: %v %v", fi, err)
	}
}

func TestServeUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--fake-gateways", "--fcm-url", "https://x"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}
