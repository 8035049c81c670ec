package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

func claimKey(k credential.MessageKey) []byte { return key(k.Tenant, k.MessageID, k.Attempt) }

// getClaim returns the live claim of k, or nil when there is none or it
// expired (an expired claim and its outcomes are purged when purge is true).
func getClaim(tx *bolt.Tx, k credential.MessageKey, now time.Time, purge bool) (*credential.Claim, error) {
	raw := tx.Bucket(bktClaims).Get(claimKey(k))
	if raw == nil {
		return nil, nil
	}
	var c credential.Claim
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if !c.ExpiresAt.After(now) {
		if purge {
			if err := tx.Bucket(bktClaims).Delete(claimKey(k)); err != nil {
				return nil, err
			}
			if tx.Bucket(bktOutcomes).Bucket(claimKey(k)) != nil {
				if err := tx.Bucket(bktOutcomes).DeleteBucket(claimKey(k)); err != nil {
					return nil, err
				}
			}
		}
		return nil, nil
	}
	return &c, nil
}

// Lease implements credential.Ledger.
// Errors: Conflict (credential.ErrLeaseHeld, credential.ErrMessageDone), Internal.
func (s *Store) Lease(_ context.Context, c credential.Claim, now time.Time) (credential.Claim, error) {
	const op = "boltstore.Lease"
	var out credential.Claim
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, err := getClaim(tx, c.Key, now, true)
		if err != nil {
			return err
		}
		next := c
		next.State = credential.InProgress
		next.Leases = 1
		if cur != nil {
			out = *cur
			switch {
			case cur.State == credential.Done:
				return push.E(op, push.Conflict, fmt.Errorf("message %s: %w", c.Key.MessageID, credential.ErrMessageDone))
			case cur.Owner != c.Owner && cur.LeaseUntil.After(now):
				return push.E(op, push.Conflict, fmt.Errorf("message %s: %w", c.Key.MessageID, credential.ErrLeaseHeld))
			}
			next.Leases = cur.Leases + 1
		}
		out = next
		return put(tx.Bucket(bktClaims), claimKey(c.Key), next)
	})
	if err != nil {
		return out, internal(op, err)
	}
	return out, nil
}

// Record implements credential.Ledger.
// Errors: PreconditionFailed (credential.ErrLeaseLost), Conflict
// (credential.ErrOutcomeRecorded), Internal.
//
// Concurrent calls share one commit (bbolt's Batch): the sender records
// every token's outcome as it arrives, and one disk sync per token would
// cap it at the disk's sync rate. The function is safe to run again.
func (s *Store) Record(_ context.Context, k credential.MessageKey, owner string, o credential.Outcome, now time.Time) error {
	const op = "boltstore.Record"
	err := s.db.Batch(func(tx *bolt.Tx) error {
		c, err := getClaim(tx, k, now, false)
		if err != nil {
			return err
		}
		if c == nil || c.Owner != owner || c.State != credential.InProgress || !c.LeaseUntil.After(now) {
			return push.E(op, push.PreconditionFailed, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrLeaseLost))
		}
		b, err := tx.Bucket(bktOutcomes).CreateBucketIfNotExists(claimKey(k))
		if err != nil {
			return err
		}
		ok := key(o.Platform, o.Token)
		if b.Get(ok) != nil {
			return push.E(op, push.Conflict, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrOutcomeRecorded))
		}
		return put(b, ok, o)
	})
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// Outcomes implements credential.Ledger.
// Errors: Internal.
func (s *Store) Outcomes(_ context.Context, k credential.MessageKey) ([]credential.Outcome, error) {
	const op = "boltstore.Outcomes"
	now := s.now()
	out := []credential.Outcome{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktOutcomes).Bucket(claimKey(k))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var o credential.Outcome
			if err := json.Unmarshal(v, &o); err != nil {
				return err
			}
			if o.ExpiresAt.After(now) {
				out = append(out, o)
			}
			return nil
		})
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Complete implements credential.Ledger.
// Errors: NotFound, PreconditionFailed (credential.ErrLeaseLost), Internal.
func (s *Store) Complete(_ context.Context, k credential.MessageKey, owner string, expiresAt time.Time) error {
	const op = "boltstore.Complete"
	err := s.db.Update(func(tx *bolt.Tx) error {
		c, err := getClaim(tx, k, s.now(), false)
		if err != nil {
			return err
		}
		switch {
		case c == nil:
			return push.E(op, push.NotFound, fmt.Errorf("message %s", k.MessageID))
		case c.Owner != owner:
			return push.E(op, push.PreconditionFailed, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrLeaseLost))
		case c.State == credential.Done:
			return nil
		}
		c.State = credential.Done
		c.ExpiresAt = expiresAt
		return put(tx.Bucket(bktClaims), claimKey(k), c)
	})
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// Claim implements credential.Ledger.
// Errors: NotFound, Internal.
func (s *Store) Claim(_ context.Context, k credential.MessageKey) (credential.Claim, error) {
	const op = "boltstore.Claim"
	var out credential.Claim
	err := s.db.View(func(tx *bolt.Tx) error {
		c, err := getClaim(tx, k, s.now(), false)
		if err != nil {
			return err
		}
		if c == nil {
			return push.E(op, push.NotFound, fmt.Errorf("message %s", k.MessageID))
		}
		out = *c
		return nil
	})
	if err != nil {
		return credential.Claim{}, internal(op, err)
	}
	return out, nil
}
