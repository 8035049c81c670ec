package fcm

import (
	"context"
	"mobilepush/shared/push"
	"sync"

	"firebase.google.com/go/v4/messaging"
)

// MaxBatch is the most messages one SendEach call takes.
const MaxBatch = 500

// Result is the answer for one message: FCM's message name on success
// ("projects/p/messages/123") and the classification (Outcome Delivered
// on success). Refreshed reports that the message was re-sent once
// after an UNAUTHENTICATED answer and a token refresh.
type Result struct {
	MessageID string
	Verdict   Verdict
	Refreshed bool
}

// Send sends msgs (each with exactly one target) and returns one Result
// per message, in input order. It never fails as a whole: every problem
// is a per-message Verdict.
//
// It mints the OAuth token first (a refused key makes every result a
// CredentialFault without contacting FCM), warms the HTTP/2 connection
// once per Client, then runs SendEach on chunks of MaxBatch with
// Config.Concurrency calls at once. Messages answered UNAUTHENTICATED
// are re-sent once with a fresh token; if FCM still refuses them they
// become CredentialFault. A chunk that the library refuses as a whole
// (one message failed its local validation) is sent message by message
// so only the invalid message is Rejected.
//
// Note: firebase retries network errors and HTTP 503 by itself (up to 4
// times, ≈7 s, honouring Retry-After up to 2 min); bound ctx to stay
// inside a deadline.
func (c *Client) Send(ctx context.Context, msgs []*messaging.Message) []Result {
	out := make([]Result, len(msgs))
	if len(msgs) == 0 {
		return out
	}
	if _, err := c.tokens.Token(ctx); err != nil {
		v := Classify(err)
		for i := range out {
			out[i].Verdict = v
		}
		return out
	}
	// A failed warm-up is not fatal: the burst then dials its own
	// connections, and each message gets its own verdict.
	_ = c.Warm(ctx)
	c.sendAll(ctx, msgs, out, indexes(len(msgs)))

	var again []int
	for i := range out {
		if out[i].Verdict.Refresh {
			again = append(again, i)
		}
	}
	if len(again) == 0 {
		return out
	}
	c.tokens.Invalidate()
	if _, err := c.tokens.Token(ctx); err != nil {
		v := Classify(err)
		for _, i := range again {
			out[i].Verdict, out[i].Refreshed = v, true
		}
		return out
	}
	c.sendAll(ctx, msgs, out, again)
	for _, i := range again {
		out[i].Refreshed = true
	}
	return out
}

func indexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// sendAll sends msgs[idx...] in chunks of MaxBatch, Concurrency chunks
// at a time, and writes each answer to out at the message's index.
func (c *Client) sendAll(ctx context.Context, msgs []*messaging.Message, out []Result, idx []int) {
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	for start := 0; start < len(idx); start += MaxBatch {
		chunk := idx[start:min(start+MaxBatch, len(idx))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.sendChunk(ctx, msgs, out, chunk)
		}()
	}
	wg.Wait()
}

func (c *Client) sendChunk(ctx context.Context, msgs []*messaging.Message, out []Result, chunk []int) {
	batch := make([]*messaging.Message, len(chunk))
	for i, j := range chunk {
		batch[i] = msgs[j]
	}
	br, err := c.msg.SendEach(ctx, batch)
	if err == nil && br != nil && len(br.Responses) == len(batch) {
		for i, r := range br.Responses {
			out[chunk[i]] = resultOf(r.MessageID, r.Error)
		}
		return
	}
	// The library refused the whole chunk before sending anything (its
	// validation of one message): send one by one, 50 at a time, so the
	// valid messages go out and only the invalid one is Rejected.
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for _, j := range chunk {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			id, err := c.msg.Send(ctx, msgs[j])
			out[j] = resultOf(id, err)
		}()
	}
	wg.Wait()
}

// resultOf classifies before anything wraps the error.
func resultOf(id string, err error) Result {
	if err != nil {
		return Result{Verdict: Classify(err)}
	}
	return Result{MessageID: id, Verdict: Verdict{Outcome: push.Delivered}}
}
