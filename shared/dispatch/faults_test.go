package dispatch_test

import (
	"context"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/dispatch/dispatchtest"
	"mobilepush/shared/h2client"
	"mobilepush/shared/push"
)

// onEachStack runs test once per HTTP/2 stack, each on a rig of its own.
func onEachStack(t *testing.T, test func(*testing.T, *rig)) {
	for _, s := range h2client.Stacks {
		t.Run(string(s), func(t *testing.T) { test(t, dispatchtest.NewRigOn(t, s)) })
	}
}

// ledgerOf returns the recorded result per token of one attempt.
func ledgerOf(t *testing.T, r *rig, id string, attempt int) map[string]push.Outcome {
	t.Helper()
	outs, err := r.Store.Outcomes(context.Background(), credential.MessageKey{Tenant: "acme", MessageID: id, Attempt: attempt})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]push.Outcome{}
	for _, o := range outs {
		if _, dup := got[o.Token]; dup {
			t.Errorf("token %s has two recorded outcomes in attempt %d", apns.Redact(o.Token), attempt)
		}
		got[o.Token] = o.Result
	}
	return got
}

// TestConnectionResets: a stream reset before Apple reads the request and
// one reset after it read it both end as retries; the retry attempt
// delivers them with the same apns-id, and only the token whose request
// was read reached Apple twice (the ambiguous case).
func TestConnectionResets(t *testing.T) { onEachStack(t, connectionResets) }

func connectionResets(t *testing.T, r *rig) {
	ctx := context.Background()
	before, after, fine := hexToken(60), hexToken(61), hexToken(62)
	r.Apple.Script(before, apnstest.Response{Abort: apnstest.AbortBeforeRead}, apnstest.Response{Status: 200})
	r.Apple.Script(after, apnstest.Response{Abort: apnstest.AbortAfterRead}, apnstest.Response{Status: 200})
	m := message("resets", []string{before, after, fine}, nil)
	res, err := r.Sender.Send(ctx, dispatch.Delivery{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[push.Retry] != 2 || res.Counts[push.Delivered] != 1 || res.Retry == nil {
		t.Fatalf("first attempt = %+v", res)
	}
	if err := r.Sender.Complete(ctx, dispatch.Delivery{Message: m}); err != nil {
		t.Fatal(err)
	}
	res2, err := r.Sender.Send(ctx, dispatch.Delivery{Message: res.Retry.Message, Attempt: res.Retry.Attempt})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Counts[push.Delivered] != 2 || res2.Retry != nil {
		t.Fatalf("retry attempt = %+v", res2)
	}
	c := r.Apple.Counts()
	tests := []struct {
		name      string
		got, want int
	}{
		{"reset before read reached Apple once", c.ByToken[before], 1},
		{"reset after read reached Apple twice (ambiguous)", c.ByToken[after], 2},
		{"the re-send reused the apns-id", c.ByID[apns.NotificationID("resets", after)], 2},
		{"the healthy token was sent once", c.ByToken[fine], 1},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	if l := ledgerOf(t, r, "resets", 0); len(l) != 3 {
		t.Errorf("attempt 0 recorded %d outcomes, want 3", len(l))
	}
	if l := ledgerOf(t, r, "resets", 1); len(l) != 2 || l[before] != push.Delivered || l[after] != push.Delivered {
		t.Errorf("attempt 1 ledger = %v", l)
	}
}

// TestDeadlineLeavesNoTokenBehind: a gateway slow enough to reach the
// invocation's deadline; pushes not started in time are retries, and
// every token has exactly one recorded outcome.
func TestDeadlineLeavesNoTokenBehind(t *testing.T) { onEachStack(t, deadlineLeavesNoTokenBehind) }

func deadlineLeavesNoTokenBehind(t *testing.T, r *rig) {
	var toks []string
	for i := range 40 {
		tok := hexToken(100 + i)
		toks = append(toks, tok)
		r.Apple.Script(tok, apnstest.Response{Status: 200, Delay: 150 * time.Millisecond})
	}
	cache := credential.NewCache(r.Store, credential.CacheConfig{})
	s := dispatch.New(dispatch.Config{Apps: cache, Ledger: r.Store, Suspender: r.Store, Clients: r.Clients(), Owner: "slow", Concurrency: 4, Reserve: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	res, err := s.Send(ctx, dispatch.Delivery{Message: message("slow", toks, nil)})
	if err != nil {
		t.Fatal(err)
	}
	l := ledgerOf(t, r, "slow", 0)
	if len(l) != len(toks) {
		t.Fatalf("%d of %d tokens have an outcome", len(l), len(toks))
	}
	if res.Counts[push.Delivered] == 0 || res.Counts[push.Retry] == 0 || res.Retry == nil {
		t.Fatalf("counts = %v: want some delivered before the deadline and the rest retried", res.Counts)
	}
	if res.Retry.Message.Tokens.Len() != res.Counts[push.Retry] {
		t.Errorf("retry carries %d tokens, %d were retried", res.Retry.Message.Tokens.Len(), res.Counts[push.Retry])
	}
	for tok, got := range l {
		if got != push.Delivered && got != push.Retry {
			t.Errorf("token %s: %s", apns.Redact(tok), got)
		}
	}
}
