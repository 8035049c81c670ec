package dispatch_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/dispatch/dispatchtest"
	"mobilepush/shared/push"
)

// fakeClients is a plain dispatch.Clients, no server behind it: each
// token gets its scripted answers in turn, then deliveries. It counts
// the pushes per token and records what each APNs push's confirmed()
// said.
type fakeClients struct {
	mu        sync.Mutex
	script    map[string][]dispatch.Answer
	pushes    map[string]int
	confirmed []bool // per APNs push, in answer order
	chunks    []int  // tokens per FCM SendChunk call
}

func newFakeClients() *fakeClients {
	return &fakeClients{script: map[string][]dispatch.Answer{}, pushes: map[string]int{}}
}

// answer takes tok's next scripted answer.
func (f *fakeClients) answer(tok string) dispatch.Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pushes[tok]++
	if s := f.script[tok]; len(s) > 0 {
		f.script[tok] = s[1:]
		return s[0]
	}
	return dispatch.Answer{Outcome: push.Delivered}
}

func (f *fakeClients) APNs(credential.Material, push.Environment) (dispatch.APNsClient, error) {
	return fakeAPNs{f}, nil
}

func (f *fakeClients) FCM(context.Context, credential.Material) (dispatch.FCMClient, error) {
	return fakeFCM{f}, nil
}

type fakeAPNs struct{ f *fakeClients }

func (a fakeAPNs) Prepare(*push.Message, string, time.Time) (dispatch.APNsMessage, error) {
	return a, nil
}

// PushAsync answers on another goroutine, as the real client does.
func (a fakeAPNs) PushAsync(_ context.Context, tok string, confirmed func() bool, done func(dispatch.Answer)) {
	go func() {
		ans := a.f.answer(tok)
		c := confirmed()
		a.f.mu.Lock()
		a.f.confirmed = append(a.f.confirmed, c)
		a.f.mu.Unlock()
		done(ans)
	}()
}

type fakeFCM struct{ f *fakeClients }

func (c fakeFCM) Prepare(*push.Message, time.Time) dispatch.FCMMessage { return c }

func (c fakeFCM) SendChunk(_ context.Context, tokens []string) []dispatch.Answer {
	c.f.mu.Lock()
	c.f.chunks = append(c.f.chunks, len(tokens))
	c.f.mu.Unlock()
	out := make([]dispatch.Answer, len(tokens))
	for i, tok := range tokens {
		out[i] = c.f.answer(tok)
	}
	return out
}

// fakeWorld is a Sender over a bbolt store and fakeClients, with one app
// (tenant acme, id shop) holding an APNs key and a service account.
type fakeWorld struct {
	store   *credential.Service
	clients *fakeClients
	notes   *dispatchtest.Notes
	sender  *dispatch.Sender
}

func newFakeWorld(t *testing.T, cfg dispatch.Config) *fakeWorld {
	t.Helper()
	w := &fakeWorld{store: dispatchtest.NewStore(t), clients: newFakeClients(), notes: dispatchtest.NewNotes()}
	// The fake clients read no material: it only has to be stored.
	p8 := []byte("-----BEGIN PRIVATE KEY-----\nnot read by the fake\n-----END PRIVATE KEY-----\n")
	sa := []byte(`{"type":"service_account","project_id":"acme-push"}`)
	_, err := w.store.Create(context.Background(), credential.CreateRequest{
		Tenant: "acme", ID: "shop", Name: "shop", Enabled: true, Environment: push.Production,
		APNs: &credential.Upload{
			Material: credential.Material{Kind: push.APNsP8, PrivateKeyPEM: push.NewRedacted(p8), KeyID: "ABC123DEFG", TeamID: "TEAM123456"},
			Facts:    credential.Facts{BundleID: "com.acme.app"},
		},
		FCM: &credential.Upload{Material: credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted(sa)}, Facts: credential.Facts{ProjectID: "acme-push"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Apps = credential.NewCache(w.store, credential.CacheConfig{TTL: time.Millisecond})
	cfg.Ledger, cfg.Suspender, cfg.Clients, cfg.Notifier, cfg.Owner = w.store, w.store, w.clients, w.notes, "fake"
	w.sender = dispatch.New(cfg)
	return w
}

// recorded returns the ledger of one attempt: "outcome reason" per token.
func (w *fakeWorld) recorded(t *testing.T, id string, attempt int) map[string]string {
	t.Helper()
	outs, err := w.store.Outcomes(context.Background(), credential.MessageKey{Tenant: "acme", MessageID: id, Attempt: attempt})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range outs {
		if _, dup := got[o.Token]; dup {
			t.Errorf("token %s has two outcomes in attempt %d", o.Token, attempt)
		}
		got[o.Token] = fmt.Sprintf("%s %s", o.Result, o.Reason)
	}
	return got
}

func (w *fakeWorld) status(t *testing.T, p push.Platform) credential.Status {
	t.Helper()
	app, err := w.store.Get(context.Background(), "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	return app.Meta(p).Status
}

// sameSet reports whether a and b hold the same tokens in any order
// (the follow-ups are built from the ledger, not in send order).
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func equalMaps(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s[%s] = %q, want %q", what, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s[%s] = %q, want none", what, k, v)
		}
	}
}

// TestFakeAPNsOutcomesAndCredentialFault: with one push in flight at a
// time, each answer is recorded for its token with its reason; the first
// delivery confirms the environment for the pushes after it; a
// credential fault suspends APNs, publishes one event, and the tokens
// after it are recorded with the fault's reason without being pushed.
func TestFakeAPNsOutcomesAndCredentialFault(t *testing.T) {
	w := newFakeWorld(t, dispatch.Config{Concurrency: 1})
	ctx := context.Background()
	toks := make([]string, 6)
	for i := range toks {
		toks[i] = hexToken(200 + i)
	}
	w.clients.script[toks[1]] = []dispatch.Answer{{Outcome: push.InvalidToken, Reason: "Unregistered"}}
	w.clients.script[toks[2]] = []dispatch.Answer{{Outcome: push.Retry, Reason: "ServiceUnavailable"}}
	w.clients.script[toks[3]] = []dispatch.Answer{{Outcome: push.CredentialFault, Reason: "BadCertificate"}}

	res, err := w.sender.Send(ctx, dispatch.Delivery{Message: message("apns-1", toks, nil)})
	if err != nil {
		t.Fatal(err)
	}
	equalMaps(t, "ledger", w.recorded(t, "apns-1", 0), map[string]string{
		toks[0]: "delivered ",
		toks[1]: "invalid_token Unregistered",
		toks[2]: "retry ServiceUnavailable",
		toks[3]: "credential_fault BadCertificate",
		toks[4]: "credential_fault BadCertificate",
		toks[5]: "credential_fault BadCertificate",
	})
	for i, tok := range toks {
		want := 1
		if i > 3 {
			want = 0 // after the fault: not pushed
		}
		if got := w.clients.pushes[tok]; got != want {
			t.Errorf("token %d pushed %d times, want %d", i, got, want)
		}
	}
	if want := []bool{false, true, true, true}; !slices.Equal(w.clients.confirmed, want) {
		t.Errorf("confirmed() per push = %v, want %v (the first delivery confirms)", w.clients.confirmed, want)
	}
	if res.Retry == nil || !slices.Equal(res.Retry.Message.Tokens.APNs, toks[2:3]) || res.Retry.Attempt != 1 || res.Retry.Delay != 2*time.Second {
		t.Errorf("retry = %+v, want %s as attempt 1 after 2 s", res.Retry, toks[2])
	}
	if len(res.Dead) != 1 || res.Dead[0].Reason != "BadCertificate" || !sameSet(res.Dead[0].Message.Tokens.APNs, toks[3:]) {
		t.Errorf("dead = %+v, want the last three tokens as BadCertificate", res.Dead)
	}
	if st := w.status(t, push.APNs); st.State != credential.Suspended || st.Reason != "BadCertificate" {
		t.Errorf("APNs status = %+v, want suspended for BadCertificate", st)
	}
	if st := w.status(t, push.FCM); st.State != credential.OK {
		t.Errorf("FCM status = %+v, want ok", st)
	}
	if !slices.Equal(w.notes.Faults, []string{"apns:BadCertificate"}) || !slices.Equal(w.notes.Invalid[push.APNs], toks[1:2]) {
		t.Errorf("published faults %v, invalid %v", w.notes.Faults, w.notes.Invalid)
	}

	// The suspended platform is not tried again.
	time.Sleep(2 * time.Millisecond) // the metadata cache's TTL
	res, err = w.sender.Send(ctx, dispatch.Delivery{Message: message("apns-2", toks[:1], nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dead) != 1 || res.Dead[0].Reason != dispatch.ReasonPlatformSuspended || w.clients.pushes[toks[0]] != 1 {
		t.Errorf("suspended platform: %+v, %d pushes", res, w.clients.pushes[toks[0]])
	}
}

// TestFakeFCMRetriesAndCredentialFault: FCM answers are recorded per
// token in chunks of FCMChunk; a Retry-After lengthens the back-off; the
// retry attempt sends only the retried tokens, and a retry at the last
// attempt is dead-lettered; a credential fault in one chunk suspends FCM
// and the later chunk is recorded with its reason, unsent.
func TestFakeFCMRetriesAndCredentialFault(t *testing.T) {
	w := newFakeWorld(t, dispatch.Config{FCMCalls: 1, MaxAttempts: 2})
	ctx := context.Background()
	w.clients.script["f-quota"] = []dispatch.Answer{{Outcome: push.Retry, Reason: "QUOTA_EXCEEDED", RetryAfter: 30 * time.Second}}
	w.clients.script["f-flaky"] = []dispatch.Answer{{Outcome: push.Retry, Reason: "UNAVAILABLE"}, {Outcome: push.Retry, Reason: "UNAVAILABLE"}}
	w.clients.script["f-dead"] = []dispatch.Answer{{Outcome: push.InvalidToken, Reason: "UNREGISTERED"}}
	m := message("fcm-1", nil, []string{"f-ok", "f-quota", "f-flaky", "f-dead"})
	res, err := w.sender.Send(ctx, dispatch.Delivery{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	equalMaps(t, "attempt 0", w.recorded(t, "fcm-1", 0), map[string]string{
		"f-ok": "delivered ", "f-quota": "retry QUOTA_EXCEEDED", "f-flaky": "retry UNAVAILABLE", "f-dead": "invalid_token UNREGISTERED",
	})
	if res.Retry == nil || !sameSet(res.Retry.Message.Tokens.FCM, []string{"f-quota", "f-flaky"}) || res.Retry.Delay != 30*time.Second {
		t.Fatalf("retry = %+v, want f-quota and f-flaky after Retry-After 30 s", res.Retry)
	}
	if err := w.sender.Complete(ctx, dispatch.Delivery{Message: m}); err != nil {
		t.Fatal(err)
	}
	res, err = w.sender.Send(ctx, dispatch.Delivery{Message: res.Retry.Message, Attempt: res.Retry.Attempt})
	if err != nil {
		t.Fatal(err)
	}
	equalMaps(t, "attempt 1", w.recorded(t, "fcm-1", 1), map[string]string{"f-quota": "delivered ", "f-flaky": "retry UNAVAILABLE"})
	if res.Retry != nil || len(res.Dead) != 1 || res.Dead[0].Reason != dispatch.ReasonRetriesExhausted || !slices.Equal(res.Dead[0].Message.Tokens.FCM, []string{"f-flaky"}) {
		t.Errorf("last attempt = %+v, want f-flaky dead-lettered as %s", res, dispatch.ReasonRetriesExhausted)
	}
	if got := w.clients.pushes; got["f-ok"] != 1 || got["f-dead"] != 1 || got["f-quota"] != 2 || got["f-flaky"] != 2 {
		t.Errorf("sends per token = %v: the retry must send only the retried tokens", got)
	}

	// A fault in the first chunk: the second chunk is not sent.
	toks := make([]string, dispatch.FCMChunk+1)
	for i := range toks {
		toks[i] = fmt.Sprintf("f-%d", i)
	}
	w.clients.script[toks[7]] = []dispatch.Answer{{Outcome: push.CredentialFault, Reason: "SENDER_ID_MISMATCH"}}
	w.clients.chunks = nil
	res, err = w.sender.Send(ctx, dispatch.Delivery{Message: message("fcm-2", nil, toks)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.clients.chunks, []int{dispatch.FCMChunk}) {
		t.Errorf("chunks sent = %v, want one of %d", w.clients.chunks, dispatch.FCMChunk)
	}
	l := w.recorded(t, "fcm-2", 0)
	if len(l) != len(toks) || l[toks[0]] != "delivered " || l[toks[7]] != "credential_fault SENDER_ID_MISMATCH" || l[toks[dispatch.FCMChunk]] != "credential_fault SENDER_ID_MISMATCH" {
		t.Errorf("ledger: %d outcomes; first %q, fault %q, unsent %q", len(l), l[toks[0]], l[toks[7]], l[toks[dispatch.FCMChunk]])
	}
	if st := w.status(t, push.FCM); st.State != credential.Suspended || st.Reason != "SENDER_ID_MISMATCH" {
		t.Errorf("FCM status = %+v, want suspended for SENDER_ID_MISMATCH", st)
	}
	if !slices.Equal(w.notes.Faults, []string{"fcm:SENDER_ID_MISMATCH"}) {
		t.Errorf("published faults = %v", w.notes.Faults)
	}
}
