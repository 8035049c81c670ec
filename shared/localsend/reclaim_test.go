package localsend

import (
	"context"
	"errors"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/localqueue"
)

// TestReclaim: a message a dead process held (received, its attempt
// leased by another owner) is visible again at once and its lease ended,
// so a new owner leases the attempt and resumes it.
func TestReclaim(t *testing.T) {
	ctx := context.Background()
	s, q := newQueue(t)
	body, err := Encode(message("m1", apnsToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(ctx, localqueue.SendInput{Body: body, Group: Group("acme", "m1"), Tenant: "acme", Attributes: map[string]string{dispatch.AttrAttempt: "2"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := q.Receive(ctx, 1, time.Hour, 0); err != nil || len(got) != 1 {
		t.Fatalf("receive = %v, %v", got, err)
	}
	key := credential.MessageKey{Tenant: "acme", MessageID: "m1", Attempt: 2}
	now := time.Now()
	lease := func(owner string) error {
		_, err := s.Lease(ctx, credential.Claim{Key: key, Owner: owner, State: credential.InProgress, LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(24 * time.Hour)}, time.Now())
		return err
	}
	if err := lease("dead-process"); err != nil {
		t.Fatal(err)
	}
	if err := lease("next-process"); !errors.Is(err, credential.ErrLeaseHeld) {
		t.Fatalf("lease before Reclaim: %v, want ErrLeaseHeld", err)
	}

	n, err := Reclaim(ctx, q, s)
	if err != nil || n != 1 {
		t.Fatalf("Reclaim = %d, %v; want 1", n, err)
	}
	if err := lease("next-process"); err != nil {
		t.Errorf("lease after Reclaim: %v, want the dead process's lease ended", err)
	}
	if got, err := q.Receive(ctx, 1, time.Hour, 0); err != nil || len(got) != 1 || got[0].ReceiveCount != 2 {
		t.Errorf("receive after Reclaim = %+v, %v; want the message again at once", got, err)
	}
	if n, err := Reclaim(ctx, q, s); err != nil || n != 1 {
		t.Errorf("second Reclaim = %d, %v; want the one received again", n, err)
	}
}
