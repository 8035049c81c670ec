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

// Record implements credential.Ledger (RecordAll of one outcome).
// Errors: PreconditionFailed (credential.ErrLeaseLost), Conflict
// (credential.ErrOutcomeRecorded), Internal.
func (s *Store) Record(ctx context.Context, k credential.MessageKey, owner string, o credential.Outcome, now time.Time) error {
	return s.record(ctx, "boltstore.Record", k, owner, []credential.Outcome{o}, now)[0]
}

// RecordAll implements credential.Ledger: one transaction, one check of
// the claim; an outcome whose token already has one gets a Conflict and
// the others are recorded.
// Errors (per outcome): PreconditionFailed (credential.ErrLeaseLost),
// Conflict (credential.ErrOutcomeRecorded), Internal.
//
// Concurrent calls share one commit (bbolt's Batch): the sender records
// outcomes as they arrive, and one disk sync per call would cap it at the
// disk's sync rate. The transaction function is safe to run again (Batch
// re-runs it when another call of the batch fails).
func (s *Store) RecordAll(ctx context.Context, k credential.MessageKey, owner string, outs []credential.Outcome, now time.Time) []error {
	return s.record(ctx, "boltstore.RecordAll", k, owner, outs, now)
}

func (s *Store) record(_ context.Context, op string, k credential.MessageKey, owner string, outs []credential.Outcome, now time.Time) []error {
	errs := make([]error, len(outs))
	if len(outs) == 0 {
		return errs
	}
	err := s.db.Batch(func(tx *bolt.Tx) error {
		clear(errs) // a re-run starts afresh
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
		size := 0
		for _, o := range outs {
			size += 2*len(o.Token) + len(o.Reason) + 192 // key, value and room for the times
		}
		buf := make([]byte, 0, size) // keys and values of the batch, mostly one allocation
		for i, o := range outs {
			start := len(buf)
			buf = appendOutcomeKey(buf, o.Platform, o.Token)
			ok := buf[start:len(buf):len(buf)]
			if b.Get(ok) != nil {
				errs[i] = push.E(op, push.Conflict, fmt.Errorf("message %s: %w", k.MessageID, credential.ErrOutcomeRecorded))
				buf = buf[:start]
				continue
			}
			if buf, err = appendOutcome(buf, o); err != nil {
				return err
			}
			if err := b.Put(ok, buf[len(ok)+start:len(buf):len(buf)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = internal(op, err)
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
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

// appendOutcomeKey appends the key of a token's outcome: the bytes
// key(p, token) gives (JSON ["platform","token"]), without reflection.
func appendOutcomeKey(dst []byte, p push.Platform, token string) []byte {
	dst = append(dst, '[')
	dst = appendJSONString(dst, string(p))
	dst = append(dst, ',')
	dst = appendJSONString(dst, token)
	return append(dst, ']')
}

// appendOutcome appends the stored form of o: the bytes json.Marshal(o)
// gives, without reflection (the sender writes one per device token).
func appendOutcome(dst []byte, o credential.Outcome) ([]byte, error) {
	n0 := len(dst)
	dst = append(dst, `{"Platform":`...)
	dst = appendJSONString(dst, string(o.Platform))
	dst = append(dst, `,"Token":`...)
	dst = appendJSONString(dst, o.Token)
	dst = append(dst, `,"Result":`...)
	dst = appendJSONString(dst, string(o.Result))
	dst = append(dst, `,"Reason":`...)
	dst = appendJSONString(dst, o.Reason)
	dst = append(dst, `,"At":`...)
	dst, okAt := appendJSONTime(dst, o.At)
	dst = append(dst, `,"ExpiresAt":`...)
	dst, okExp := appendJSONTime(dst, o.ExpiresAt)
	if !okAt || !okExp {
		raw, err := json.Marshal(o) // a time JSON refuses: its error
		return append(dst[:n0], raw...), err
	}
	return append(dst, '}'), nil
}

// appendJSONTime appends t as time.Time's MarshalJSON does, and reports
// false where MarshalJSON fails (a year outside [0,9999], a zone offset
// of 24 hours or more).
func appendJSONTime(dst []byte, t time.Time) ([]byte, bool) {
	dst = append(dst, '"')
	n0 := len(dst)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	ok := len(dst) > n0+4 && dst[n0+4] == '-'
	if ok && dst[len(dst)-1] != 'Z' {
		c := dst[len(dst)-len("Z07:00")]
		h := 10*(dst[len(dst)-5]-'0') + (dst[len(dst)-4] - '0')
		ok = (c < '0' || c > '9') && h < 24
	}
	return append(dst, '"'), ok
}

// appendJSONString appends s quoted as encoding/json quotes it; strings
// with nothing to escape (device tokens, results, reasons) take the fast
// path.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			raw, _ := json.Marshal(s) // a string always marshals
			return append(dst, raw...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// EndLeases ends the live leases on keys at once (their claims stay in
// progress with their outcomes, for the next worker to take over and
// resume) and returns how many it ended, in one transaction. Call it
// only when the owners of those leases are known to be gone, as when the
// one process that owns the store starts: a key without a claim, done,
// or whose lease already ended is skipped.
// Errors: Internal.
func (s *Store) EndLeases(_ context.Context, keys []credential.MessageKey) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		now := s.now()
		for _, k := range keys {
			c, err := getClaim(tx, k, now, false)
			if err != nil {
				return err
			}
			if c == nil || c.State != credential.InProgress || !c.LeaseUntil.After(now) {
				continue
			}
			c.LeaseUntil = now
			if err := put(tx.Bucket(bktClaims), claimKey(k), c); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, internal("boltstore.EndLeases", err)
	}
	return n, nil
}
