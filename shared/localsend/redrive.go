package localsend

import (
	"context"
	"fmt"

	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/push"
)

// RedriveQueue is the part of the embedded queue Redrive uses;
// *localqueue.Queue implements it.
type RedriveQueue interface {
	Peek(ctx context.Context, dead bool, fn func(localqueue.Message) bool) error
	Redrive(ctx context.Context, ids []string, attrs map[string]map[string]string) (int, error)
}

// Redrive moves every dead letter back to the send queue. Each gets a new
// attempt number, above every attempt of its message in the ledger, on
// the queue and in the dead-letter queue: an attempt that was completed
// is never sent again, so reusing its number would drop the tokens. The
// new attempt counts against dispatch's MaxAttempts like a retry. A dead
// letter whose body is not a valid message keeps its attributes.
// It returns how many messages moved.
// Errors: Internal, Transient (the ledger).
func Redrive(ctx context.Context, q RedriveQueue, ledger Ledger) (int, error) {
	const op = "localsend.Redrive"
	type ref struct{ tenant, id string }
	highest := map[ref]int{} // the highest attempt seen per message
	var dead []localqueue.Message
	refOf := map[string]ref{} // dead letter id -> its message
	scan := func(isDead bool) error {
		return q.Peek(ctx, isDead, func(m localqueue.Message) bool {
			pm, err := push.DecodeMessage(m.Body)
			if err != nil {
				return true
			}
			r := ref{pm.Tenant, pm.MessageID}
			attrs, _ := dispatch.DecodeAttributes(m.Attributes) // a malformed attempt counts as 0
			a := attrs.Attempt
			if cur, ok := highest[r]; !ok || a > cur {
				highest[r] = a
			}
			if isDead {
				dead = append(dead, m)
				refOf[m.ID] = r
			}
			return true
		})
	}
	if err := scan(true); err != nil {
		return 0, err
	}
	if len(dead) == 0 {
		return 0, nil
	}
	if err := scan(false); err != nil {
		return 0, err
	}
	for r, a := range highest {
		for next := a + 1; next < a+maxAttemptProbe; next++ {
			_, err := ledger.Claim(ctx, credential.MessageKey{Tenant: r.tenant, MessageID: r.id, Attempt: next})
			if push.Is(err, push.NotFound) {
				break
			}
			if err != nil {
				return 0, fmt.Errorf("%s: %w", op, err)
			}
			highest[r] = next
		}
	}
	attrs := map[string]map[string]string{}
	var ids []string
	for _, m := range dead {
		ids = append(ids, m.ID)
		r, ok := refOf[m.ID]
		if !ok {
			continue
		}
		highest[r]++
		next := dispatch.Attributes{Attempt: highest[r]}
		if old, err := dispatch.DecodeAttributes(m.Attributes); err == nil {
			next.EnqueuedAt = old.EnqueuedAt
		}
		attrs[m.ID] = next.Encode()
	}
	n, err := q.Redrive(ctx, ids, attrs)
	if err != nil {
		return n, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}
