package clientpool_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/clientpool"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
	"mobilepush/shared/testcred"
)

// TestBadTokenSparesTheSharedConnection: two tenants who uploaded the
// same certificate share one APNs client and its connection. While their
// pushes are in flight, a test push to a malformed device token (a NUL
// byte in what becomes the request path) is refused alone: no push in
// flight fails or is sent again, and the connection stays the only one.
func TestBadTokenSparesTheSharedConnection(t *testing.T) {
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Latency: 300 * time.Millisecond}})
	pool := clientpool.New(clientpool.Config{APNs: apns.Config{ProductionURL: s.URL, SandboxURL: s.URL, RootCAs: s.RootCAs}})
	t.Cleanup(pool.Close)
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	m := certMaterial(t, mustIssue(t, ca))
	ctx := context.Background()

	// Warm the connection, then put both tenants' pushes in flight.
	if ans, err := pool.TestPush(ctx, m, push.Production, "com.example.app", registry.TestMessage{Token: strings.Repeat("0f", 32), Title: "warm"}); err != nil || !ans.Delivered {
		t.Fatalf("warm-up push = %+v, %v", ans, err)
	}
	s.Reset()
	type answer struct {
		tok  string
		resp apns.Response
		err  error
	}
	const perTenant = 10
	answers := make(chan answer, 2*perTenant)
	var wg sync.WaitGroup
	for _, tenant := range []string{"acme", "globex"} {
		c, err := pool.APNsClient(m, push.Production)
		if err != nil {
			t.Fatal(err)
		}
		for i := range perTenant {
			tok := strings.Repeat(map[string]string{"acme": "aa", "globex": "bb"}[tenant], 30) + strings.Repeat(string(rune('0'+i)), 4)
			wg.Add(1)
			c.PushAsync(ctx, apns.Notification{DeviceToken: tok, Topic: "com.example.app", Payload: []byte(`{"aps":{"alert":"x"}}`)}, func(r apns.Response, err error) {
				answers <- answer{tok, r, err}
				wg.Done()
			})
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Requests()) < 2*perTenant && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(s.Requests()); n != 2*perTenant {
		t.Fatalf("%d pushes reached the gateway before the bad one, want all %d in flight", n, 2*perTenant)
	}

	for _, bad := range []string{strings.Repeat("ab", 31) + "\x00a", strings.Repeat("ab", 30) + "/../", strings.Repeat("ab", 31) + "\r\n"} {
		_, err := pool.TestPush(ctx, m, push.Production, "com.example.app", registry.TestMessage{Token: bad, Title: "bad"})
		if !push.Is(err, push.Invalid) {
			t.Errorf("test push to %q = %v, want Invalid before anything is sent", bad, err)
		}
		if got := apns.ClassifyError(err); got != push.Rejected {
			t.Errorf("ClassifyError(%v) = %s, want rejected (never a retry)", err, got)
		}
	}
	wg.Wait()
	close(answers)
	for a := range answers {
		if a.err != nil || a.resp.Status != 200 {
			t.Errorf("push to %s in flight = %+v, %v; want 200 (the bad token must not touch it)", a.tok, a.resp, a.err)
		}
	}
	c := s.Counts()
	if c.Total != 2*perTenant || c.Aborted != 0 {
		t.Errorf("gateway answered %d and aborted %d, want %d and 0", c.Total, c.Aborted, 2*perTenant)
	}
	for tok, n := range c.ByToken {
		if n != 1 {
			t.Errorf("token %s reached the gateway %d times, want once (no retry)", tok, n)
		}
	}
	conns := map[string]bool{}
	for _, r := range s.Requests() {
		conns[r.RemoteAddr] = true
	}
	if len(conns) != 1 {
		t.Errorf("pushes went over %d connections, want the one shared connection: %v", len(conns), conns)
	}
}
