package localsend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/httpapi"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

var apnsToken = strings.Repeat("ab", 32)

func newQueue(t *testing.T) (*boltstore.Store, *localqueue.Queue) {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	q, err := localqueue.Open(s.DB(), QueueName, localqueue.Config{VisibilityTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return s, q
}

func message(id string, tokens ...string) *push.Message {
	return &push.Message{Version: 1, Tenant: "acme", AppID: "shop", MessageID: id,
		Tokens: push.Tokens{APNs: tokens}, Notification: push.Notification{Title: "Hi"}}
}

// fakeSender answers Send with a scripted result or error.
type fakeSender struct {
	mu        sync.Mutex
	res       dispatch.Result
	err       error
	sent      []dispatch.Delivery
	completed []dispatch.Delivery
}

func (f *fakeSender) Send(_ context.Context, d dispatch.Delivery) (dispatch.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, d)
	return f.res, f.err
}

func (f *fakeSender) Complete(_ context.Context, d dispatch.Delivery) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed = append(f.completed, d)
	return nil
}

func TestWorkerHandle(t *testing.T) {
	ctx := context.Background()
	retryMsg := message("m1", apnsToken)
	deadMsg := message("m1", strings.Repeat("cd", 32))
	tests := []struct {
		name          string
		body          []byte
		sender        *fakeSender
		wantStats     localqueue.Stats
		wantCompleted int
		wantReason    string // of the dead letter
	}{
		{
			name: "retry and dead follow-ups settle the message",
			sender: &fakeSender{res: dispatch.Result{
				Counts: map[push.Outcome]int{push.Retry: 1, push.Rejected: 1},
				Retry:  &dispatch.Retry{Message: retryMsg, Attempt: 1, Delay: 2 * time.Second},
				Dead:   []dispatch.Dead{{Message: deadMsg, Reason: "BadExpirationDate", Attempt: 0}},
			}},
			wantStats: localqueue.Stats{Delayed: 1, Dead: 1}, wantCompleted: 1, wantReason: "BadExpirationDate",
		},
		{
			name:      "busy leaves the message for redelivery",
			sender:    &fakeSender{err: push.E("dispatch.Send", push.Conflict, fmt.Errorf("x: %w", dispatch.ErrBusy))},
			wantStats: localqueue.Stats{InFlight: 1},
		},
		{
			name:      "transient leaves the message for redelivery",
			sender:    &fakeSender{err: push.E("credential.Lease", push.Transient, errors.New("store down"))},
			wantStats: localqueue.Stats{InFlight: 1},
		},
		{
			name:      "already done is acknowledged",
			sender:    &fakeSender{res: dispatch.Result{AlreadyDone: true}},
			wantStats: localqueue.Stats{},
		},
		{
			name:       "an invalid body goes to the dead-letter queue",
			body:       []byte(`{"version":1}`),
			sender:     &fakeSender{},
			wantStats:  localqueue.Stats{Dead: 1},
			wantReason: dispatch.ReasonInvalidMessage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, q := newQueue(t)
			body := tt.body
			if body == nil {
				var err error
				if body, err = Encode(message("m1", apnsToken, strings.Repeat("cd", 32))); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := q.Send(ctx, localqueue.SendInput{Body: body, Group: Group("acme", "m1"), Tenant: "acme", Attributes: map[string]string{dispatch.AttrAttempt: "0"}}); err != nil {
				t.Fatal(err)
			}
			w := NewWorker(WorkerConfig{Queue: q, Sender: tt.sender, Visibility: time.Minute})
			got, err := q.Receive(ctx, 1, time.Minute, 0)
			if err != nil || len(got) != 1 {
				t.Fatalf("receive: %v %v", got, err)
			}
			w.handle(ctx, got[0])
			st, err := q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st != tt.wantStats {
				t.Errorf("stats = %+v, want %+v", st, tt.wantStats)
			}
			if n := len(tt.sender.completed); n != tt.wantCompleted {
				t.Errorf("completed %d times, want %d", n, tt.wantCompleted)
			}
			if tt.wantReason != "" {
				var dead []localqueue.Message
				_ = q.Peek(ctx, true, func(m localqueue.Message) bool { dead = append(dead, m); return true })
				if len(dead) != 1 || dead[0].DeadReason != tt.wantReason || dead[0].Attributes[dispatch.AttrReason] != tt.wantReason || dead[0].Tenant != "acme" {
					t.Errorf("dead letters = %+v, want reason %s", dead, tt.wantReason)
				}
				if tt.body == nil {
					m, err := push.DecodeMessage(dead[0].Body)
					if err != nil || len(m.Tokens.APNs) != 1 || dead[0].Attributes[dispatch.AttrAttempt] != "0" {
						t.Errorf("dead letter body %v (%v), attributes %v: want a valid v1 message with one token, attempt 0", m, err, dead[0].Attributes)
					}
				}
			}
			if tt.wantStats.Delayed == 1 {
				var next []localqueue.Message
				_ = q.Peek(ctx, false, func(m localqueue.Message) bool { next = append(next, m); return true })
				if len(next) != 1 || next[0].Attributes[dispatch.AttrAttempt] != "1" || next[0].Group != Group("acme", "m1") || next[0].Tenant != "acme" {
					t.Errorf("retry = %+v, want attempt 1 in the message's group and tenant", next)
				}
			}
		})
	}
}

// fakeLedger holds outcomes per attempt.
type fakeLedger map[int][]credential.Outcome

func (l fakeLedger) Claim(_ context.Context, k credential.MessageKey) (credential.Claim, error) {
	if _, ok := l[k.Attempt]; ok {
		return credential.Claim{Key: k}, nil
	}
	return credential.Claim{}, push.E("fake", push.NotFound, errors.New("no claim"))
}

func (l fakeLedger) Outcomes(_ context.Context, k credential.MessageKey) ([]credential.Outcome, error) {
	return l[k.Attempt], nil
}

type fakeApps map[string]bool

func (a fakeApps) App(_ context.Context, tenant, id string) (credential.App, error) {
	if a[tenant+"/"+id] {
		return credential.App{Tenant: tenant, ID: id, Enabled: true, APNs: &credential.Meta{}, FCM: &credential.Meta{}}, nil
	}
	return credential.App{}, push.E("fake", push.NotFound, errors.New("no app"))
}

// tokenAuth accepts "Bearer <tenant>".
type tokenAuth struct{}

func (tokenAuth) Authenticate(r *http.Request) (registry.Principal, error) {
	t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || t == "" {
		return registry.Principal{}, push.E("auth", push.Unauthorized, errors.New("no token"))
	}
	return registry.Principal{Tenant: t}, nil
}

func TestAPI(t *testing.T) {
	_, q := newQueue(t)
	ledger := fakeLedger{}
	api := &API{Inbox: q, Ledger: ledger, Apps: fakeApps{"acme/shop": true}}
	mux := http.NewServeMux()
	for p, h := range api.Routes(httpapi.Config{Auth: tokenAuth{}}) {
		mux.Handle(p, h)
	}
	call := func(t *testing.T, method, path, tenant, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if tenant != "" {
			req.Header.Set("Authorization", "Bearer "+tenant)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	valid := fmt.Sprintf(`{"version":1,"app_id":"shop","tokens":{"apns":[%q]},"notification":{"title":"Hi"}}`, apnsToken)
	tests := []struct {
		name, tenant, body string
		status             int
		code               string
	}{
		{"no token", "", valid, 401, "unauthorized"},
		{"tenant from the token", "acme", valid, 202, ""},
		{"empty tenant is absent", "acme", strings.Replace(valid, `"version":1`, `"version":1,"tenant":""`, 1), 202, ""},
		{"own tenant in the body", "acme", strings.Replace(valid, `"version":1`, `"version":1,"tenant":"acme","message_id":"order-42"`, 1), 202, ""},
		{"another tenant", "acme", strings.Replace(valid, `"version":1`, `"version":1,"tenant":"evil"`, 1), 404, "not_found"},
		{"unknown app", "acme", strings.Replace(valid, `"shop"`, `"nope"`, 1), 404, "not_found"},
		{"another tenant's app", "other", valid, 404, "not_found"},
		{"unknown field", "acme", strings.Replace(valid, `"version":1`, `"version":1,"colour":"red"`, 1), 400, "invalid"},
		{"bad token", "acme", strings.Replace(valid, apnsToken, "xyz", 1), 400, "invalid"},
		{"not JSON", "acme", "nope", 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := call(t, "POST", "/v1/messages", tt.tenant, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if tt.code != "" {
				e, _ := out["error"].(map[string]any)
				if e["code"] != tt.code || e["message"] == "" {
					t.Errorf("error = %v, want code %s", out, tt.code)
				}
				return
			}
			if id, _ := out["message_id"].(string); id == "" {
				t.Errorf("no message_id: %v", out)
			}
		})
	}

	// The queued bodies carry the caller's tenant and a message id.
	var queued []*push.Message
	_ = q.Peek(context.Background(), false, func(m localqueue.Message) bool {
		pm, err := push.DecodeMessage(m.Body)
		if err != nil {
			t.Errorf("queued body: %v", err)
			return true
		}
		if m.Group != Group(pm.Tenant, pm.MessageID) {
			t.Errorf("group %q for message %s", m.Group, pm.MessageID)
		}
		if m.Tenant != pm.Tenant {
			t.Errorf("queue tenant %q for message %s of %q: receives are fair by it", m.Tenant, pm.MessageID, pm.Tenant)
		}
		queued = append(queued, pm)
		return true
	})
	if len(queued) != 3 || queued[0].Tenant != "acme" || queued[1].Tenant != "acme" || queued[2].MessageID != "order-42" {
		t.Fatalf("queued = %+v", queued)
	}

	// Status: queued, then the final outcome of each token over attempts.
	status, out := call(t, "GET", "/v1/messages/order-42", "acme", "")
	if status != 200 || out["state"] != StateQueued {
		t.Fatalf("status = %d %v, want queued", status, out)
	}
	if status, _ := call(t, "GET", "/v1/messages/order-42", "other", ""); status != 404 {
		t.Errorf("another tenant's message: %d, want 404", status)
	}
	other := strings.Repeat("cd", 32)
	ledger[0] = []credential.Outcome{
		{Platform: push.APNs, Token: apnsToken, Result: push.Retry},
		{Platform: push.APNs, Token: other, Result: push.InvalidToken},
	}
	ledger[1] = []credential.Outcome{{Platform: push.APNs, Token: strings.ToUpper(apnsToken), Result: push.Delivered}}
	st, err := api.Status(context.Background(), "acme", "order-42")
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Delivered: 1, InvalidToken: 1}
	if st.Counts != want {
		t.Errorf("counts = %+v, want %+v (a retried then delivered token counts as delivered)", st.Counts, want)
	}
	status, out = call(t, "GET", "/v1/messages/nope", "acme", "")
	if status != 404 {
		t.Errorf("unknown message: %d %v", status, out)
	}
}

func TestEncodeKeepsHTML(t *testing.T) {
	m := message("m", apnsToken)
	m.Notification.Body = "<b>&</b>"
	b, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<b>&</b>")) {
		t.Errorf("Encode escaped HTML: %s", b)
	}
}

// TestRedrive gives every dead letter an attempt above all the message's
// attempts in the ledger and on the queues, distinct per dead letter.
func TestRedrive(t *testing.T) {
	ctx := context.Background()
	_, q := newQueue(t)
	body, err := Encode(message("m1", apnsToken))
	if err != nil {
		t.Fatal(err)
	}
	dead := func(attempt string) localqueue.SendInput {
		return localqueue.SendInput{Body: body, Group: Group("acme", "m1"), Reason: "platform_suspended",
			Attributes: map[string]string{dispatch.AttrAttempt: attempt, dispatch.AttrReason: "platform_suspended", dispatch.AttrEnqueuedAt: "1000"}}
	}
	if _, err := q.SendDead(ctx, dead("1"), dead("0")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(ctx, localqueue.SendInput{Body: body, Group: Group("acme", "m1"), Delay: time.Hour, Attributes: map[string]string{dispatch.AttrAttempt: "2"}}); err != nil {
		t.Fatal(err)
	}
	ledger := fakeLedger{0: nil, 1: nil, 2: nil, 3: nil} // attempt 3 leased, say by an earlier redrive
	n, err := Redrive(ctx, q, ledger)
	if err != nil || n != 2 {
		t.Fatalf("Redrive = %d, %v", n, err)
	}
	var got []string
	_ = q.Peek(ctx, false, func(m localqueue.Message) bool {
		got = append(got, m.Attributes[dispatch.AttrAttempt]+"/"+m.Attributes[dispatch.AttrEnqueuedAt])
		return true
	})
	slices.Sort(got)
	want := []string{"2/", "4/1000", "5/1000"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("attempts on the queue = %v, want %v", got, want)
	}
	if st, _ := q.Stats(ctx); st.Dead != 0 {
		t.Errorf("dead letters left: %+v", st)
	}
}
