package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/expiry"
	"mobilepush/shared/push"
)

// hookRecorder is an alert webhook that records bodies and answers status.
type hookRecorder struct {
	mu     sync.Mutex
	bodies []map[string]any
	status int
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, m)
	w.WriteHeader(h.status)
}

func (h *hookRecorder) take(status int) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.bodies
	h.bodies, h.status = nil, status
	return out
}

// storeExpiringApp stores app "shop" of tenant "default" with an APNs
// certificate that expires at notAfter, as of now, in the data directory.
func storeExpiringApp(t *testing.T, data string, now, notAfter time.Time) {
	t.Helper()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.Open(filepath.Join(data, "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	creds := credential.NewService(credential.Config{Meta: s, Secrets: s, Now: func() time.Time { return now }})
	_, err = creds.Create(context.Background(), credential.CreateRequest{Tenant: "default", ID: "shop", Name: "Shop", Enabled: true, APNs: &credential.Upload{
		Material: credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted([]byte("chain")), PrivateKeyPEM: push.NewRedacted([]byte("key"))},
		Facts:    credential.Facts{FingerprintSHA256: "f", BundleID: "com.example.shop", NotAfter: notAfter},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// TestServeChecksExpiryAtStart: serve runs the expiry check when it starts
// (then daily) and posts the alert to --alert-webhook.
func TestServeChecksExpiryAtStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	now := time.Now().UTC()
	storeExpiringApp(t, data, now, now.Add(10*24*time.Hour+time.Hour))
	hook := &hookRecorder{status: http.StatusNoContent}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var errb syncBuffer
	go func() {
		done <- run(ctx, []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--fake-gateways", "--alert-webhook", srv.URL}, nil, io.Discard, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	var posts []map[string]any
	for time.Now().Before(deadline) && len(posts) == 0 {
		time.Sleep(50 * time.Millisecond)
		posts = append(posts, hook.take(http.StatusNoContent)...)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("serve exit %d: %s", code, errb.String())
	}
	if len(posts) != 1 || posts[0]["detail-type"] != "Push Credential Expiring" {
		t.Fatalf("webhook posts = %v, want one Push Credential Expiring", posts)
	}
}

// TestCheckExpiryAlertsOnceThroughWebhook stores a certificate expiring in
// 10 days, then runs `mobilepush check-expiry --now ... --alert-webhook`:
// a failing webhook makes the run exit 1 and the alert is retried by the
// next run, which posts it once; a third run posts nothing.
func TestCheckExpiryAlertsOnceThroughWebhook(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	now := time.Now().UTC().Truncate(time.Second)
	notAfter := now.Add(10*24*time.Hour + time.Hour)
	storeExpiringApp(t, data, now, notAfter)
	hook := &hookRecorder{status: http.StatusInternalServerError}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	at := now.Add(time.Hour).Format(time.RFC3339)
	args := []string{"check-expiry", "--data", data, "--now", at, "--alert-webhook", srv.URL, "--fake-gateways"}

	tests := []struct {
		name       string
		nextStatus int // what the webhook answers on the following run
		wantCode   int
		wantPosts  int
		wantAlerts int
	}{
		{"webhook down", http.StatusNoContent, exitFail, 1, 0},
		{"retried", http.StatusNoContent, exitOK, 1, 1},
		{"already sent", http.StatusNoContent, exitOK, 0, 0},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, nil, &out, &errb)
		posts := hook.take(tt.nextStatus)
		var sum expiry.Summary
		if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
			t.Fatalf("%s: stdout %q is not a summary: %v", tt.name, out.String(), err)
		}
		if code != tt.wantCode || len(posts) != tt.wantPosts || sum.AlertsSent() != tt.wantAlerts {
			t.Fatalf("%s: exit %d, %d posts, summary %+v; want exit %d, %d posts, %d alerts\nstderr: %s",
				tt.name, code, len(posts), sum, tt.wantCode, tt.wantPosts, tt.wantAlerts, errb.String())
		}
		if tt.name == "retried" {
			p := posts[0]
			if p["detail-type"] != "Push Credential Expiring" || p["app_id"] != "shop" || p["threshold_days"] != float64(14) || p["days_left"] != float64(10) {
				t.Errorf("posted %v", p)
			}
			if !bytes.Contains(errb.Bytes(), []byte(`"msg":"alert"`)) {
				t.Errorf("alert not logged: %s", errb.String())
			}
		}
	}
}

func TestCheckExpiryUsage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		name string
		args []string
	}{
		{"fake gateways with a URL", []string{"--data", data, "--fake-gateways", "--fcm-url", "https://x"}},
		{"bad time", []string{"--data", data, "--now", "yesterday"}},
		{"bad webhook", []string{"--data", data, "--alert-webhook", "ftp://x"}},
		{"extra argument", []string{"--data", data, "now"}},
		{"unknown HTTP/2 client", []string{"--data", data, "--http2-client", "fast"}},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"check-expiry"}, tt.args...), nil, &out, &errb); code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr %s", tt.name, code, exitUsage, errb.String())
		}
	}
}
