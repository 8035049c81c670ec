package credential

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mobilepush/shared/push"
)

// MessageKey names one delivery attempt of a send message: a retry that
// re-enqueues part of a message carries the same MessageID and a higher
// Attempt, and gets its own claim and ledger.
type MessageKey struct {
	Tenant    string
	MessageID string
	Attempt   int
}

func (k MessageKey) validate(op string) error {
	if k.Tenant == "" || k.MessageID == "" || k.Attempt < 0 {
		return push.E(op, push.Invalid, errors.New("message key needs a tenant, a message id and an attempt >= 0"))
	}
	return nil
}

// ClaimState is the state of a send message's claim.
type ClaimState string

// The claim states.
const (
	InProgress ClaimState = "in_progress" // leased; a worker is sending (or died: see LeaseUntil)
	Done       ClaimState = "done"        // every token has its outcome
)

// Claim is a lease on a send message: Owner is sending it until
// LeaseUntil; after that another worker may take it over. Leases counts
// how many leases were granted.
type Claim struct {
	Key        MessageKey
	Owner      string
	State      ClaimState
	LeaseUntil time.Time
	Leases     int
	ExpiresAt  time.Time // TTL: the claim reads as absent after it
}

// Outcome is the recorded result of sending to one token of a message.
type Outcome struct {
	Platform  push.Platform
	Token     string
	Result    push.Outcome
	Reason    string
	At        time.Time
	ExpiresAt time.Time // TTL: the outcome reads as absent after it
}

// Lease claims the message key for owner for leaseFor (the queue's
// visibility timeout). See Ledger.Lease for the rules.
// Errors: Invalid, Conflict (ErrLeaseHeld, ErrMessageDone), Transient, Internal.
func (s *Service) Lease(ctx context.Context, key MessageKey, owner string, leaseFor time.Duration) (Claim, error) {
	const op = "credential.Lease"
	if err := key.validate(op); err != nil {
		return Claim{}, err
	}
	if owner == "" || leaseFor <= 0 {
		return Claim{}, push.E(op, push.Invalid, errors.New("lease needs an owner and a positive duration"))
	}
	now := s.now()
	c, err := s.meta.Lease(ctx, Claim{
		Key: key, Owner: owner, State: InProgress,
		LeaseUntil: now.Add(leaseFor), ExpiresAt: now.Add(s.ledgerTTL),
	}, now)
	if err != nil {
		return c, wrap(op, err, "lease message")
	}
	return c, nil
}

// RecordOutcome records the outcome of one token of the message key; owner
// must hold the lease. At is set to now when zero.
// Errors: Invalid, PreconditionFailed (ErrLeaseLost), Conflict
// (ErrOutcomeRecorded), Transient, Internal.
func (s *Service) RecordOutcome(ctx context.Context, key MessageKey, owner string, o Outcome) error {
	const op = "credential.RecordOutcome"
	if err := key.validate(op); err != nil {
		return err
	}
	if owner == "" || !o.Platform.Valid() || o.Token == "" || o.Result == "" {
		return push.E(op, push.Invalid, errors.New("outcome needs an owner, a platform, a token and a result"))
	}
	now := s.now()
	if o.At.IsZero() {
		o.At = now
	}
	o.ExpiresAt = now.Add(s.ledgerTTL)
	if err := s.meta.Record(ctx, key, owner, o, now); err != nil {
		return wrap(op, err, "record outcome")
	}
	return nil
}

// RecordOutcomes records the outcomes of several tokens of the message
// key at once, each as RecordOutcome would (owner must hold the lease; At
// is set to now when zero), in as few store writes as the store allows;
// outs is not modified. A token given twice in outs keeps its first
// outcome; the later one is refused like an outcome recorded before.
//
// It returns one error per outcome, in the order of outs: nil when that
// outcome is recorded. One outcome refused never fails the others; a
// failure of the whole call (an invalid key, a lost lease, the store
// unavailable) is repeated for every outcome it left unrecorded.
// Errors (per outcome): Invalid, PreconditionFailed (ErrLeaseLost),
// Conflict (ErrOutcomeRecorded), Transient, Internal.
func (s *Service) RecordOutcomes(ctx context.Context, key MessageKey, owner string, outs []Outcome) []error {
	const op = "credential.RecordOutcomes"
	errs := make([]error, len(outs))
	if len(outs) == 0 {
		return errs
	}
	fail := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	if err := key.validate(op); err != nil {
		return fail(err)
	}
	if owner == "" {
		return fail(push.E(op, push.Invalid, errors.New("outcomes need an owner")))
	}
	now := s.now()
	exp := now.Add(s.ledgerTTL)
	// The store refuses a token given twice (Ledger.RecordAll).
	batch := make([]Outcome, 0, len(outs))
	var at []int // index in outs of each batch entry, once one is left out
	for i, o := range outs {
		if !o.Platform.Valid() || o.Token == "" || o.Result == "" {
			errs[i] = push.E(op, push.Invalid, errors.New("outcome needs a platform, a token and a result"))
			if at == nil {
				at = make([]int, len(batch), len(outs))
				for j := range at {
					at[j] = j
				}
			}
			continue
		}
		if at != nil {
			at = append(at, i)
		}
		if o.At.IsZero() {
			o.At = now
		}
		o.ExpiresAt = exp
		batch = append(batch, o)
	}
	if len(batch) == 0 {
		return errs
	}
	res := s.meta.RecordAll(ctx, key, owner, batch, now)
	if len(res) != len(batch) {
		return fail(push.E(op, push.Internal, fmt.Errorf("store answered %d results for %d outcomes", len(res), len(batch))))
	}
	for j, err := range res {
		if err == nil {
			continue
		}
		i := j
		if at != nil {
			i = at[j]
		}
		errs[i] = wrap(op, err, "record outcome")
	}
	return errs
}

// Outcomes returns the outcomes recorded for the message key.
// Errors: Invalid, Transient, Internal.
func (s *Service) Outcomes(ctx context.Context, key MessageKey) ([]Outcome, error) {
	const op = "credential.Outcomes"
	if err := key.validate(op); err != nil {
		return nil, err
	}
	out, err := s.meta.Outcomes(ctx, key)
	if err != nil {
		return nil, wrap(op, err, "list outcomes")
	}
	return out, nil
}

// Complete marks the message key done; owner must hold its claim.
// Errors: Invalid, PreconditionFailed (ErrLeaseLost), NotFound, Transient, Internal.
func (s *Service) Complete(ctx context.Context, key MessageKey, owner string) error {
	const op = "credential.Complete"
	if err := key.validate(op); err != nil {
		return err
	}
	if err := s.meta.Complete(ctx, key, owner, s.now().Add(s.ledgerTTL)); err != nil {
		return wrap(op, err, "complete message")
	}
	return nil
}

// Claim returns the claim of the message key.
// Errors: Invalid, NotFound, Transient, Internal.
func (s *Service) Claim(ctx context.Context, key MessageKey) (Claim, error) {
	const op = "credential.Claim"
	if err := key.validate(op); err != nil {
		return Claim{}, err
	}
	c, err := s.meta.Claim(ctx, key)
	if err != nil {
		return Claim{}, wrap(op, err, "load claim")
	}
	return c, nil
}
