package localsend

import (
	"context"
	"fmt"

	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/localqueue"
)

// ReclaimQueue is the part of the embedded queue Reclaim uses;
// *localqueue.Queue implements it.
type ReclaimQueue interface {
	Reclaim(ctx context.Context) ([]localqueue.Message, error)
}

// LeaseEnder ends dead leases on send messages; *boltstore.Store
// implements it.
type LeaseEnder interface {
	EndLeases(ctx context.Context, keys []credential.MessageKey) (int, error)
}

// Reclaim takes back what a previous process left in flight: every
// message in flight on q becomes visible at once, and the dispatch
// leases on those messages' attempts end, so the worker resumes them now
// (sending only their tokens without an outcome) instead of after the
// visibility timeout. Call it at start, before the worker runs, and only
// when this process owns the data directory: the previous holder is then
// provably gone. It returns how many messages it reclaimed. Should it
// stop between the two steps, the leases it left run out as before.
// Errors: Internal.
func Reclaim(ctx context.Context, q ReclaimQueue, leases LeaseEnder) (int, error) {
	const op = "localsend.Reclaim"
	msgs, err := q.Reclaim(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	keys := make([]credential.MessageKey, 0, len(msgs))
	for _, m := range msgs {
		d, err := dispatch.DecodeDelivery(m.Body, m.Attributes, m.SentAt, m.SentAt)
		if err != nil {
			continue // dead-lettered by the worker when received
		}
		keys = append(keys, credential.MessageKey{Tenant: d.Message.Tenant, MessageID: d.Message.MessageID, Attempt: d.Attempt})
	}
	if _, err := leases.EndLeases(ctx, keys); err != nil {
		return len(msgs), fmt.Errorf("%s: %w", op, err)
	}
	return len(msgs), nil
}
