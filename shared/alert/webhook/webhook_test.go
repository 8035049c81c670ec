package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"mobilepush/shared/alert"
	"mobilepush/shared/alert/webhook"
	"mobilepush/shared/push"
)

func TestPublishPostsDetailWithType(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("body %q (content type %q) is not JSON", b, r.Header.Get("Content-Type"))
		}
		mu.Lock()
		bodies = append(bodies, m)
		code := status
		mu.Unlock()
		w.WriteHeader(code)
	}))
	defer srv.Close()
	days := 29
	ev := alert.Event{Type: alert.CredentialExpiring, Detail: alert.Detail{
		Tenant: "t", AppID: "a", AppName: "App", Platform: push.APNs, BundleID: "com.example", DaysLeft: &days,
		ThresholdDays: 30, Reason: "expiring_soon", Message: "m", Action: "renew",
	}}
	p := webhook.New(srv.URL, srv.Client())

	tests := []struct {
		name     string
		status   int
		wantKind push.Kind // Other: no error
	}{
		{"accepted", http.StatusNoContent, push.Other},
		{"server error", http.StatusBadGateway, push.Transient},
		{"client error", http.StatusNotFound, push.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			status, bodies = tt.status, nil
			mu.Unlock()
			errs := p.Publish(context.Background(), []alert.Event{ev})
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1 entry", len(errs))
			}
			if got := push.KindOf(errs[0]); got != tt.wantKind {
				t.Fatalf("kind = %v (%v), want %v", got, errs[0], tt.wantKind)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != 1 {
				t.Fatalf("posts = %d, want 1", len(bodies))
			}
			got := bodies[0]
			want := map[string]any{"detail-type": "Push Credential Expiring", "source": "mobilepush", "tenant": "t", "app_id": "a",
				"app_name": "App", "platform": "apns", "bundle_id": "com.example", "days_left": float64(29), "threshold_days": float64(30),
				"reason": "expiring_soon", "action": "renew"}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("body[%q] = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestPublishUnreachableIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	errs := webhook.New(url, nil).Publish(context.Background(), []alert.Event{{Type: alert.CredentialExpired}})
	if got := push.KindOf(errs[0]); got != push.Transient {
		t.Fatalf("kind = %v (%v), want transient", got, errs[0])
	}
}
