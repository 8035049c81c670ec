package apns_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

func TestPushSendsEveryField(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Environment: push.Sandbox}})
	c := newClient(t, config(s), certAuth(t, id), push.Sandbox)
	exp := time.Unix(1900000000, 0)
	n := apns.Notification{
		DeviceToken: devTok, Topic: bundle, Payload: payload, PushType: "alert", Priority: 10,
		Expiration: exp, CollapseID: "news", ID: "123e4567-e89b-12d3-a456-426655440000",
	}
	r, err := c.Push(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 200 || r.ID != n.ID || r.UniqueID == "" || r.Reason != "" {
		t.Errorf("response %+v", r)
	}
	got, ok := s.Last()
	if !ok {
		t.Fatal("the fake saw nothing")
	}
	want := apnstest.Request{Token: devTok, Topic: bundle, PushType: "alert", Priority: "10", Expiration: "1900000000", CollapseID: "news", ID: n.ID}
	if got.Token != want.Token || got.Topic != want.Topic || got.PushType != want.PushType || got.Priority != want.Priority ||
		got.Expiration != want.Expiration || got.CollapseID != want.CollapseID || got.ID != want.ID {
		t.Errorf("received %+v\nwant %+v", got, want)
	}
	if !bytes.Equal(got.Payload, payload) {
		t.Errorf("payload %s, want %s", got.Payload, payload)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}

	// Defaults: push type alert, no optional headers.
	if _, err := c.Push(context.Background(), apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Last()
	if got.PushType != "alert" || got.Priority != "" || got.Expiration != "" || got.CollapseID != "" || got.Header.Get("apns-id") != "" {
		t.Errorf("defaults: %+v", got)
	}
}

func TestPushAnswers(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	c := newClient(t, config(s), certAuth(t, id), push.Production)
	gone := time.UnixMilli(1700000000123)
	s.Script(devTok, apnstest.Response{Status: 410, Reason: "Unregistered", Timestamp: gone})
	r, err := c.Push(context.Background(), apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 410 || r.Reason != "Unregistered" || !r.Timestamp.Equal(gone) || r.ID == "" {
		t.Errorf("410: %+v", r)
	}
	if o := r.Outcome(false); o != push.InvalidToken {
		t.Errorf("outcome %s", o)
	}
	r, err = c.Push(context.Background(), apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: bytes.Repeat([]byte("x"), 5000)})
	if err != nil || r.Status != 413 || r.Reason != "PayloadTooLarge" {
		t.Errorf("413: %+v %v", r, err)
	}
}

func TestPushTransportErrorRedactsToken(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	cfg := config(s)
	_ = s.Close()
	c := newClient(t, cfg, certAuth(t, id), push.Production)
	_, err := c.Push(context.Background(), apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload})
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if !push.Is(err, push.Transient) || apns.ClassifyError(err) != push.Retry {
		t.Errorf("kind %v, outcome %s: %v", push.KindOf(err), apns.ClassifyError(err), err)
	}
	if strings.Contains(err.Error(), devTok) {
		t.Errorf("error shows the whole device token: %v", err)
	}
}

func TestNewClientRejectsBadMaterial(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	good := certAuth(t, id)
	other := apnstest.IssuePush(t, testcred.PushCert{Key: mustRSA(t)})
	mismatched := apns.CertificateAuth(push.NewRedacted(chainOf(t, other)), push.NewRedacted(keyOf(t, id)))
	secret := []byte("-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n")
	tests := []struct {
		name string
		cfg  apns.Config
		auth apns.Auth
		env  push.Environment
	}{
		{"garbage key", apns.Config{}, apns.CertificateAuth(push.NewRedacted(chainOf(t, id)), push.NewRedacted(secret)), push.Production},
		{"key of another certificate", apns.Config{}, mismatched, push.Production},
		{"p8 garbage", apns.Config{}, apns.TokenAuth(push.NewRedacted(secret), keyID, teamID), push.Production},
		{"p8 without key id", apns.Config{}, tokenAuth(t, ecKey(t), "", teamID), push.Production},
		{"bad environment", apns.Config{}, good, push.Environment("staging")},
		{"http URL", apns.Config{ProductionURL: "http://127.0.0.1:1"}, good, push.Production},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apns.NewClient(tt.cfg, tt.auth, tt.env)
			if !push.Is(err, push.Invalid) {
				t.Fatalf("err %v, want Invalid", err)
			}
			if strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
				t.Errorf("error quotes the material: %v", err)
			}
		})
	}
	if c, err := apns.NewClient(apns.Config{}, good, push.Production); err != nil || c.Environment() != push.Production {
		t.Errorf("good material: %v", err)
	}
}

func TestConfigURLDefaults(t *testing.T) {
	t.Parallel()
	var c apns.Config
	if c.URL(push.Production) != "https://api.push.apple.com" || c.URL(push.Sandbox) != "https://api.sandbox.push.apple.com" {
		t.Errorf("defaults %q %q", c.URL(push.Production), c.URL(push.Sandbox))
	}
	c = apns.Config{ProductionURL: "https://p", SandboxURL: "https://s"}
	if c.URL(push.Production) != "https://p" || c.URL(push.Sandbox) != "https://s" {
		t.Errorf("configured %q %q", c.URL(push.Production), c.URL(push.Sandbox))
	}
}

// TestConcurrentPushesFewConnections pushes 500 notifications at once
// through one Client: HTTP/2 multiplexes them over few connections, and a
// connection whose streams are exhausted makes the pool open another.
func TestConcurrentPushesFewConnections(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	tests := []struct {
		name      string
		streams   int
		min, max  int
		latency   time.Duration
		tokenAuth bool
	}{
		{"apple's 1000 streams", 1000, 1, 1, 20 * time.Millisecond, false},
		{"100 streams per connection", 100, 2, 8, 20 * time.Millisecond, false},
		{"token auth", 1000, 1, 1, 20 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := apnstest.Start(t, apnstest.ServerConfig{MaxConcurrentStreams: tt.streams,
				Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Latency: tt.latency}})
			auth := certAuth(t, id)
			if tt.tokenAuth {
				k := ecKey(t)
				s.RegisterKey(teamID, keyID, &k.PublicKey)
				s.AllowTopics(teamID, bundle)
				auth = tokenAuth(t, k, keyID, teamID)
			}
			c := newClient(t, config(s), auth, push.Production)
			// Warm up, so the connection count below is the burst's alone
			// (the client reads the server's SETTINGS before its first
			// request, so even a cold burst knows the stream limit).
			if _, err := c.Push(context.Background(), apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload}); err != nil {
				t.Fatal(err)
			}
			s.Reset()
			const n = 500
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			var errs []error
			for i := range n {
				wg.Go(func() {
					tok := strings.Repeat("0", 60) + hex4(i)
					r, err := c.Push(context.Background(), apns.Notification{DeviceToken: tok, Topic: bundle, Payload: payload})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err)
						return
					}
					statuses[r.Status]++
				})
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d errors, first: %v", len(errs), errs[0])
			}
			if statuses[200] != n {
				t.Errorf("statuses %v, want %d × 200", statuses, n)
			}
			cnt := s.Counts()
			if cnt.Total != n || len(cnt.ByToken) != n {
				t.Errorf("fake counted %d requests for %d tokens", cnt.Total, len(cnt.ByToken))
			}
			if got := s.Connections(); got < tt.min || got > tt.max {
				t.Errorf("connections = %d, want %d..%d", got, tt.min, tt.max)
			}
			if tt.tokenAuth {
				if got := s.ProviderTokens(teamID, keyID); got != 1 {
					t.Errorf("provider tokens = %d, want 1 shared by all pushes", got)
				}
			}
		})
	}
}

func hex4(i int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[i>>12&15], digits[i>>8&15], digits[i>>4&15], digits[i&15]})
}

func TestTokenRefreshOnExpiredProviderToken(t *testing.T) {
	t.Parallel()
	k := ecKey(t)
	s := apnstest.Start(t, apnstest.ServerConfig{})
	s.RegisterKey(teamID, keyID, &k.PublicKey)
	s.AllowTopics(teamID, bundle)
	c := newClient(t, config(s), tokenAuth(t, k, keyID, teamID), push.Production)
	ctx := context.Background()
	n := apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload}
	if r, err := c.Push(ctx, n); err != nil || r.Status != 200 || r.TokenRefreshed {
		t.Fatalf("first push: %+v %v", r, err)
	}

	// Apple says the token is stale: every push in flight refreshes it
	// once between them, and each is re-sent once.
	s.ExpireTokens(teamID, keyID)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var refreshed, ok int
	for range 50 {
		wg.Go(func() {
			r, err := c.Push(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && r.Status == 200 {
				ok++
			}
			if r.TokenRefreshed {
				refreshed++
			}
		})
	}
	wg.Wait()
	if ok != 50 || refreshed < 1 {
		t.Errorf("ok %d refreshed %d, want 50 and ≥1", ok, refreshed)
	}
	if got := s.ProviderTokens(teamID, keyID); got != 2 {
		t.Errorf("provider tokens = %d, want 2 (one refresh for all)", got)
	}
	if got := s.Counts().ByReason["TooManyProviderTokenUpdates"]; got != 0 {
		t.Errorf("%d TooManyProviderTokenUpdates", got)
	}

	// A token refused again after the refresh is a credential fault.
	s.ExpireTokens(teamID, keyID)
	s.ScriptCredential(apnstest.TokenID(teamID, keyID), apnstest.Response{Status: 403, Reason: "ExpiredProviderToken"})
	r, err := c.Push(ctx, n)
	if err != nil || !r.TokenRefreshed || r.Outcome(true) != push.CredentialFault {
		t.Errorf("twice expired: %+v %v outcome %s", r, err, r.Outcome(true))
	}
}

func TestPushHonoursContext(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Latency: 2 * time.Second}})
	c := newClient(t, config(s), certAuth(t, id), push.Production)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Push(ctx, apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("err %v after %v, want DeadlineExceeded quickly", err, time.Since(start))
	}
	if apns.ClassifyError(err) != push.Retry {
		t.Errorf("outcome %s", apns.ClassifyError(err))
	}
}
