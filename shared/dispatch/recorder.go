package dispatch

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// recorder records the outcomes of one attempt in the ledger as they
// happen and remembers them (with those recorded by earlier workers) for
// the follow-up. It is safe for concurrent use.
type recorder struct {
	s   *Sender
	key credential.MessageKey

	mu       sync.Mutex
	byToken  map[tokenKey]credential.Outcome
	after    map[string]time.Duration // Retry-After per token
	firstErr error

	// Between start and flush, outcomes are written by a few writers fed
	// through q, so a push's slot is free as soon as its answer is in and
	// concurrent writes can share a store commit (bbolt's Batch).
	q       chan write
	writers sync.WaitGroup
}

// write is one outcome to record.
type write struct {
	p          push.Platform
	token      string
	res        credential.Result
	reason     string
	retryAfter time.Duration
}

// writers bounds the ledger writes in flight per message.
const writers = 64

// start runs the writers; every record until flush goes through them.
func (r *recorder) start(ctx context.Context) {
	r.q = make(chan write, writers*4)
	for range writers {
		r.writers.Go(func() {
			for w := range r.q {
				r.write(ctx, w)
			}
		})
	}
}

// flush waits until every outcome handed to record is written.
func (r *recorder) flush() {
	if r.q == nil {
		return
	}
	close(r.q)
	r.writers.Wait()
	r.q = nil
}

type tokenKey struct {
	p     push.Platform
	token string
}

func newRecorder(s *Sender, key credential.MessageKey, done []credential.Outcome) *recorder {
	r := &recorder{s: s, key: key, byToken: map[tokenKey]credential.Outcome{}, after: map[string]time.Duration{}}
	for _, o := range done {
		r.byToken[tokenKey{o.Platform, norm(o.Platform, o.Token)}] = o
	}
	return r
}

// norm makes APNs tokens (hex) case-insensitive.
func norm(p push.Platform, token string) string {
	if p == push.APNs {
		return strings.ToLower(token)
	}
	return token
}

// pending returns the tokens of p with no recorded outcome, once each.
func (r *recorder) pending(p push.Platform, tokens []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, t := range tokens {
		k := tokenKey{p, norm(p, t)}
		if _, done := r.byToken[k]; done || seen[k.token] {
			continue
		}
		seen[k.token] = true
		out = append(out, t)
	}
	return out
}

// record stores one token's outcome. An outcome another worker recorded
// first wins (ErrOutcomeRecorded is not an error); a lost lease or a
// store failure stops the attempt: its tokens stay unrecorded for the
// worker that resumes it.
func (r *recorder) record(ctx context.Context, p push.Platform, token string, res credential.Result, reason string, retryAfter time.Duration) {
	w := write{p, token, res, reason, retryAfter}
	if r.q != nil {
		r.q <- w
		return
	}
	r.write(ctx, w)
}

func (r *recorder) write(ctx context.Context, w write) {
	p, token, res, reason, retryAfter := w.p, w.token, w.res, w.reason, w.retryAfter
	o := credential.Outcome{Platform: p, Token: token, Result: res, Reason: reason}
	err := r.s.cfg.Ledger.RecordOutcome(context.WithoutCancel(ctx), r.key, r.s.cfg.Owner, o)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
	case errors.Is(err, credential.ErrOutcomeRecorded):
		return // the first recorded outcome stands; the follow-up reads it back
	default:
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	r.byToken[tokenKey{p, norm(p, token)}] = o
	if retryAfter > 0 {
		r.after[token] = retryAfter
	}
}

// each records the same outcome for tokens.
func (r *recorder) each(ctx context.Context, p push.Platform, tokens []string, res credential.Result, reason string) {
	for _, t := range tokens {
		r.record(ctx, p, t, res, reason, 0)
	}
}

// all records the same outcome for every pending token of m.
func (r *recorder) all(ctx context.Context, m *push.Message, res credential.Result, reason string) {
	r.each(ctx, push.APNs, r.pending(push.APNs, m.Tokens.APNs), res, reason)
	r.each(ctx, push.FCM, r.pending(push.FCM, m.Tokens.FCM), res, reason)
}

// fail stops the attempt with err (the ledger or a dependency failed).
func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr == nil {
		r.firstErr = err
	}
}

func (r *recorder) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

func (r *recorder) retryAfter(token string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.after[token]
}

func (r *recorder) outcomes() []credential.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]credential.Outcome, 0, len(r.byToken))
	for _, o := range r.byToken {
		out = append(out, o)
	}
	return out
}
