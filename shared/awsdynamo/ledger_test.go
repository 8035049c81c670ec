package awsdynamo_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// TestRecordAllRetryMeetsItsOwnWrite: a batch transaction whose response
// is lost after it was applied is retried by the SDK; the retry meets the
// batch's own writes and reports them recorded, while a token another
// call recorded stays a conflict, in the first transaction of a batch and
// in a later one.
func TestRecordAllRetryMeetsItsOwnWrite(t *testing.T) {
	lose := &loseResponses{}
	store := newStore(t, lose.register)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	out := func(tok string) credential.Outcome {
		return credential.Outcome{Platform: push.FCM, Token: tok, Result: push.Delivered, At: now, ExpiresAt: now.Add(time.Hour)}
	}
	batch := func(prefix string, n int) []credential.Outcome {
		outs := make([]credential.Outcome, n)
		for i := range outs {
			outs[i] = out(fmt.Sprintf("%s-%03d", prefix, i))
		}
		return outs
	}

	tests := []struct {
		name  string
		batch []credential.Outcome
		taken []int // recorded by another call before
	}{
		{"one transaction, run again without a taken token", batch("a", 10), []int{4}},
		{"two transactions, a token taken in the second", batch("b", 150), []int{120}},
	}
	for n, tt := range tests {
		key := credential.MessageKey{Tenant: "t", MessageID: fmt.Sprintf("m%d", n), Attempt: 0}
		if _, err := store.Lease(ctx, credential.Claim{Key: key, Owner: "w", LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}, now); err != nil {
			t.Fatal(err)
		}
		taken := map[int]bool{}
		for _, i := range tt.taken {
			taken[i] = true
			if err := store.Record(ctx, key, "w", tt.batch[i], now); err != nil {
				t.Fatal(err)
			}
		}
		lose.next("TransactWriteItems")
		errs := store.RecordAll(ctx, key, "w", tt.batch, now)
		if lose.n.Load() > 0 { // later successes count below 0
			t.Fatalf("%s: no response was lost (the test does not test anything)", tt.name)
		}
		for i, err := range errs {
			switch {
			case taken[i] && !errors.Is(err, credential.ErrOutcomeRecorded):
				t.Errorf("%s: outcome %d (recorded before) = %v, want ErrOutcomeRecorded", tt.name, i, err)
			case !taken[i] && err != nil:
				t.Errorf("%s: outcome %d after a lost response = %v, want nil", tt.name, i, err)
			}
		}
		// Recording them again is a conflict for every one: the write ids
		// are per call.
		for i, err := range store.RecordAll(ctx, key, "w", tt.batch, now) {
			if !errors.Is(err, credential.ErrOutcomeRecorded) || push.KindOf(err) != push.Conflict {
				t.Fatalf("%s: outcome %d recorded again = %v, want Conflict (ErrOutcomeRecorded)", tt.name, i, err)
			}
		}
		outs, err := store.Outcomes(ctx, key)
		if err != nil || len(outs) != len(tt.batch) {
			t.Fatalf("%s: Outcomes = %d, %v; want %d", tt.name, len(outs), err, len(tt.batch))
		}
	}
}
