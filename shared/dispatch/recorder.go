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
	byToken  map[tokenKey]result      // the recorded outcomes
	after    map[string]time.Duration // Retry-After per token
	firstErr error

	// Between start and flush, outcomes are written by a few writers fed
	// through q, each taking what is queued (up to maxBatch) into one
	// ledger write, so a push's slot is free as soon as its answer is in
	// and the ledger sees few, large writes.
	q       chan write
	wctx    context.Context // the writers' context: never cancelled
	writers sync.WaitGroup
}

// write is one outcome to record.
type write struct {
	p          push.Platform
	token      string
	res        push.Outcome
	reason     string
	retryAfter time.Duration
	// written, when set, runs once the ledger write carrying the outcome
	// returned: the push's slots are freed only then, so the pushes sent
	// without a durable outcome (the ones a crash re-sends) never exceed
	// the slots (see Config.MaxInFlight).
	written func()
}

const (
	// writers is how many ledger writes one message has in flight.
	writers = 4
	// maxBatch is the most outcomes one ledger write carries (a DynamoDB
	// transaction holds 99 of them).
	maxBatch = 100
	// queued is how many outcomes wait for the writers before a push
	// waits to hand its own over: a whole message's worth, so a slow
	// ledger write does not hold the APNs client's goroutines up (the
	// pushes' slots stay taken until their outcomes are written).
	queued = push.MaxTokens
)

// start runs the writers; every record until flush goes through them.
func (r *recorder) start(ctx context.Context) {
	r.q = make(chan write, queued)
	r.wctx = context.WithoutCancel(ctx)
	for range writers {
		r.writers.Go(r.drain)
	}
}

// drain writes what is queued, in batches of up to maxBatch, until the
// queue is closed and empty.
func (r *recorder) drain() {
	batch := make([]write, 0, maxBatch)
	outs := make([]credential.Outcome, 0, maxBatch)
	for w := range r.q {
		batch = append(batch[:0], w)
	more:
		for len(batch) < maxBatch {
			select {
			case w, ok := <-r.q:
				if !ok {
					break more
				}
				batch = append(batch, w)
			default:
				break more
			}
		}
		outs = r.write(r.wctx, batch, outs[:0])
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

// result is a recorded outcome as the follow-up needs it.
type result struct {
	token  string // as the message gave it
	res    push.Outcome
	reason string
}

type tokenKey struct {
	p     push.Platform
	token string
}

// newRecorder returns the recorder of an attempt of tokens tokens whose
// outcomes done are recorded.
func newRecorder(s *Sender, key credential.MessageKey, tokens int, done []credential.Outcome) *recorder {
	r := &recorder{s: s, key: key, byToken: make(map[tokenKey]result, max(tokens, len(done))), after: map[string]time.Duration{}}
	for _, o := range done {
		r.byToken[tokenKey{o.Platform, norm(o.Platform, o.Token)}] = result{o.Token, o.Result, o.Reason}
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
func (r *recorder) record(ctx context.Context, p push.Platform, token string, res push.Outcome, reason string, retryAfter time.Duration) {
	r.recordThen(ctx, write{p: p, token: token, res: res, reason: reason, retryAfter: retryAfter})
}

// recordThen records w and runs w.written once the ledger write carrying
// it returned (whether it succeeded or not).
func (r *recorder) recordThen(ctx context.Context, w write) {
	if r.q != nil {
		r.q <- w
		return
	}
	r.write(context.WithoutCancel(ctx), []write{w}, nil)
}

// write records batch in one ledger write and remembers what it
// recorded; outs is scratch space, returned for reuse.
func (r *recorder) write(ctx context.Context, batch []write, outs []credential.Outcome) []credential.Outcome {
	for _, w := range batch {
		outs = append(outs, credential.Outcome{Platform: w.p, Token: w.token, Result: w.res, Reason: w.reason})
	}
	errs := r.s.cfg.Ledger.RecordOutcomes(ctx, r.key, r.s.cfg.Owner, outs)
	defer func() {
		for _, w := range batch {
			if w.written != nil {
				w.written()
			}
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, w := range batch {
		switch err := errs[i]; {
		case err == nil:
		case errors.Is(err, credential.ErrOutcomeRecorded):
			continue // the first recorded outcome stands; the follow-up reads it back
		default:
			if r.firstErr == nil {
				r.firstErr = err
			}
			continue
		}
		r.byToken[tokenKey{w.p, norm(w.p, w.token)}] = result{w.token, w.res, w.reason}
		if w.retryAfter > 0 {
			r.after[w.token] = w.retryAfter
		}
	}
	return outs
}

// each records the same outcome for tokens.
func (r *recorder) each(ctx context.Context, p push.Platform, tokens []string, res push.Outcome, reason string) {
	for _, t := range tokens {
		r.record(ctx, p, t, res, reason, 0)
	}
}

// all records the same outcome for every pending token of m.
func (r *recorder) all(ctx context.Context, m *push.Message, res push.Outcome, reason string) {
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
	for k, v := range r.byToken {
		out = append(out, credential.Outcome{Platform: k.p, Token: v.token, Result: v.res, Reason: v.reason})
	}
	return out
}
