package credentialtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// verdict is what RecordOutcomes must answer for one outcome: nil
// (recorded), or an error of Kind kind wrapping sentinel (when set).
type verdict struct {
	kind     push.Kind // 0: recorded
	sentinel error
}

var (
	recorded    = verdict{}
	taken       = verdict{push.Conflict, credential.ErrOutcomeRecorded}
	leaseLost   = verdict{push.PreconditionFailed, credential.ErrLeaseLost}
	invalidOut  = verdict{push.Invalid, nil}
	batchTokens = func(prefix string, from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s-%04d", prefix, from+i)
		}
		return out
	}
)

func checkVerdicts(t *testing.T, what string, errs []error, want []verdict) {
	t.Helper()
	if len(errs) != len(want) {
		t.Fatalf("%s: %d results, want %d", what, len(errs), len(want))
	}
	for i, err := range errs {
		w := want[i]
		switch {
		case w.kind == 0 && err != nil:
			t.Errorf("%s: outcome %d: error %v, want recorded", what, i, err)
		case w.kind != 0 && err == nil:
			t.Errorf("%s: outcome %d: recorded, want kind %v", what, i, w.kind)
		case w.kind != 0 && push.KindOf(err) != w.kind:
			t.Errorf("%s: outcome %d: kind %v, want %v (%v)", what, i, push.KindOf(err), w.kind, err)
		case w.sentinel != nil && !errors.Is(err, w.sentinel):
			t.Errorf("%s: outcome %d: error %v does not wrap %v", what, i, err, w.sentinel)
		}
	}
}

// ledgerState returns the recorded result per "platform/token" of key.
func ledgerState(t *testing.T, h *harness, key credential.MessageKey) map[string]push.Outcome {
	t.Helper()
	got := map[string]push.Outcome{}
	for _, o := range must(h.svc.Outcomes(h.ctx, key)).get(t) {
		k := string(o.Platform) + "/" + o.Token
		if _, dup := got[k]; dup {
			t.Errorf("token %s has two outcomes", k)
		}
		if o.At.IsZero() || o.ExpiresAt.Before(h.clock.Now().Add(24*time.Hour)) {
			t.Errorf("outcome %+v lacks time or TTL", o)
		}
		got[k] = o.Result
	}
	return got
}

func outcomesOf(p push.Platform, tokens []string, r push.Outcome) []credential.Outcome {
	out := make([]credential.Outcome, len(tokens))
	for i, tok := range tokens {
		out[i] = credential.Outcome{Platform: p, Token: tok, Result: r, Reason: "reason-" + string(r)}
	}
	return out
}

func repeat(v verdict, n int) []verdict {
	out := make([]verdict, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// testLedgerBatch: RecordOutcomes records many outcomes at once under the
// rules of RecordOutcome, one verdict per outcome: a token already
// recorded (before, or earlier in the same batch) does not fail the
// others; a lost lease fails them all and records none.
func testLedgerBatch(t *testing.T, h *harness) {
	ten := tenant(t)
	const lease = 30 * time.Second
	dup := outcomesOf(push.APNs, batchTokens("d", 0, 4), push.Delivered)
	dup = append(dup, credential.Outcome{Platform: push.APNs, Token: "d-0001", Result: push.Retry}) // again, later
	dup = append(dup, credential.Outcome{Platform: push.FCM, Token: "d-0001", Result: push.Retry})  // another platform
	big := outcomesOf(push.FCM, batchTokens("big", 0, 250), push.Delivered)
	mixed := []credential.Outcome{
		{Platform: push.APNs, Token: "m-1", Result: push.Delivered},
		{Platform: push.APNs, Token: "", Result: push.Delivered},
		{Platform: "web", Token: "m-2", Result: push.Delivered},
		{Platform: push.APNs, Token: "m-3"},
		{Platform: push.APNs, Token: "m-4", Result: push.Rejected},
	}

	tests := []struct {
		name string
		// setup runs after w1 leased the message.
		setup func(t *testing.T, key credential.MessageKey)
		owner string
		batch []credential.Outcome
		want  []verdict
		// state is the ledger afterwards ("platform/token" -> result).
		state map[string]push.Outcome
	}{
		{
			name: "empty", owner: "w1", batch: nil, want: nil, state: map[string]push.Outcome{},
		},
		{
			name: "duplicate token in the batch and one recorded before",
			setup: func(t *testing.T, key credential.MessageKey) {
				if err := h.svc.RecordOutcome(h.ctx, key, "w1", credential.Outcome{Platform: push.APNs, Token: "d-0002", Result: push.InvalidToken}); err != nil {
					t.Fatal(err)
				}
			},
			owner: "w1", batch: dup,
			want: []verdict{recorded, recorded, taken, recorded, taken, recorded},
			state: map[string]push.Outcome{
				"apns/d-0000": push.Delivered, "apns/d-0001": push.Delivered, "apns/d-0002": push.InvalidToken,
				"apns/d-0003": push.Delivered, "fcm/d-0001": push.Retry,
			},
		},
		{
			name: "lease lost to the clock", owner: "w1",
			setup: func(t *testing.T, key credential.MessageKey) { h.clock.Advance(lease + time.Second) },
			batch: outcomesOf(push.APNs, batchTokens("l", 0, 3), push.Delivered),
			want:  repeat(leaseLost, 3), state: map[string]push.Outcome{},
		},
		{
			name: "lease taken over by another worker", owner: "w1",
			setup: func(t *testing.T, key credential.MessageKey) {
				h.clock.Advance(lease + time.Second)
				must(h.svc.Lease(h.ctx, key, "w2", lease)).get(t)
			},
			batch: outcomesOf(push.APNs, batchTokens("l", 0, 3), push.Delivered),
			want:  repeat(leaseLost, 3), state: map[string]push.Outcome{},
		},
		{
			name: "not the owner", owner: "w2",
			batch: outcomesOf(push.APNs, batchTokens("l", 0, 3), push.Delivered),
			want:  repeat(leaseLost, 3), state: map[string]push.Outcome{},
		},
		{
			name: "message complete", owner: "w1",
			setup: func(t *testing.T, key credential.MessageKey) {
				if err := h.svc.Complete(h.ctx, key, "w1"); err != nil {
					t.Fatal(err)
				}
			},
			batch: outcomesOf(push.APNs, batchTokens("l", 0, 2), push.Delivered),
			want:  repeat(leaseLost, 2), state: map[string]push.Outcome{},
		},
		{
			// More than one store transaction's worth, with tokens taken in
			// the middle and at the end of the batch.
			name: "250 outcomes, some taken", owner: "w1",
			setup: func(t *testing.T, key credential.MessageKey) {
				for _, i := range []int{0, 150, 249} {
					if err := h.svc.RecordOutcome(h.ctx, key, "w1", credential.Outcome{Platform: push.FCM, Token: big[i].Token, Result: push.Retry}); err != nil {
						t.Fatal(err)
					}
				}
			},
			batch: big,
			want: func() []verdict {
				v := repeat(recorded, len(big))
				v[0], v[150], v[249] = taken, taken, taken
				return v
			}(),
			state: func() map[string]push.Outcome {
				m := map[string]push.Outcome{}
				for i, o := range big {
					m["fcm/"+o.Token] = push.Delivered
					if i == 0 || i == 150 || i == 249 {
						m["fcm/"+o.Token] = push.Retry
					}
				}
				return m
			}(),
		},
		{
			name: "invalid outcomes fail alone", owner: "w1", batch: mixed,
			want:  []verdict{recorded, invalidOut, invalidOut, invalidOut, recorded},
			state: map[string]push.Outcome{"apns/m-1": push.Delivered, "apns/m-4": push.Rejected},
		},
		{
			name: "no owner", owner: "", batch: outcomesOf(push.APNs, batchTokens("o", 0, 2), push.Delivered),
			want: repeat(invalidOut, 2), state: map[string]push.Outcome{},
		},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := credential.MessageKey{Tenant: ten, MessageID: fmt.Sprintf("batch#%d", n), Attempt: 0}
			must(h.svc.Lease(h.ctx, key, "w1", lease)).get(t)
			if tt.setup != nil {
				tt.setup(t, key)
			}
			before := append([]credential.Outcome(nil), tt.batch...)
			checkVerdicts(t, "RecordOutcomes", h.svc.RecordOutcomes(h.ctx, key, tt.owner, tt.batch), tt.want)
			for i := range before {
				if before[i] != tt.batch[i] {
					t.Fatalf("RecordOutcomes modified outcome %d of its argument: %+v", i, tt.batch[i])
				}
			}
			got := ledgerState(t, h, key)
			if len(got) != len(tt.state) {
				t.Errorf("ledger holds %d outcomes, want %d", len(got), len(tt.state))
			}
			for k, want := range tt.state {
				if got[k] != want {
					t.Errorf("ledger %s = %q, want %q", k, got[k], want)
				}
			}
		})
	}

	// An invalid message key fails every outcome.
	errs := h.svc.RecordOutcomes(h.ctx, credential.MessageKey{Tenant: ten}, "w1", outcomesOf(push.APNs, []string{"x", "y"}, push.Delivered))
	checkVerdicts(t, "RecordOutcomes with no message id", errs, repeat(invalidOut, 2))
}

// testLedgerBatchConcurrent: batches recorded at once by the lease holder
// (overlapping tokens, from several goroutines) and by a worker whose
// lease was taken over: every token ends with exactly one outcome, each
// recorded by exactly one call of the holder, and none by the other.
func testLedgerBatchConcurrent(t *testing.T, h *harness) {
	ten := tenant(t)
	const lease = 30 * time.Second
	key := credential.MessageKey{Tenant: ten, MessageID: "race", Attempt: 3}
	must(h.svc.Lease(h.ctx, key, "old", lease)).get(t)
	h.clock.Advance(lease + time.Second)
	must(h.svc.Lease(h.ctx, key, "new", lease)).get(t)

	// The holder's batches overlap by half; the old owner writes the same
	// tokens, unaware it lost the lease.
	const holders, per = 4, 120
	type call struct {
		owner string
		batch []credential.Outcome
		errs  []error
	}
	var calls []*call
	for g := range holders {
		calls = append(calls, &call{owner: "new", batch: outcomesOf(push.APNs, batchTokens("c", g*per/2, per), push.Delivered)})
	}
	for g := range 2 {
		calls = append(calls, &call{owner: "old", batch: outcomesOf(push.APNs, batchTokens("c", g*per, per), push.Retry)})
	}
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.errs = h.svc.RecordOutcomes(h.ctx, key, c.owner, c.batch) })
	}
	wg.Wait()

	wins := map[string]int{}
	for _, c := range calls {
		for i, err := range c.errs {
			tok := c.batch[i].Token
			switch {
			case c.owner == "old":
				if !errors.Is(err, credential.ErrLeaseLost) || push.KindOf(err) != push.PreconditionFailed {
					t.Errorf("old owner, %s: %v, want PreconditionFailed (ErrLeaseLost)", tok, err)
				}
			case err == nil:
				wins[tok]++
			case !errors.Is(err, credential.ErrOutcomeRecorded) || push.KindOf(err) != push.Conflict:
				t.Errorf("holder, %s: %v, want recorded or Conflict (ErrOutcomeRecorded)", tok, err)
			}
		}
	}
	want := batchTokens("c", 0, (holders+1)*per/2)
	got := ledgerState(t, h, key)
	if len(got) != len(want) {
		t.Errorf("ledger holds %d outcomes, want %d", len(got), len(want))
	}
	for _, tok := range want {
		if got["apns/"+tok] != push.Delivered {
			t.Errorf("ledger apns/%s = %q, want delivered", tok, got["apns/"+tok])
		}
		if wins[tok] != 1 {
			t.Errorf("token %s recorded by %d calls, want 1", tok, wins[tok])
		}
	}
}
