package h2client

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// unprocessedError is ErrUnprocessed with its reason. fresh: the server
// processed other requests on the connection that ended this one (a
// GOAWAY every N requests, a restart), so a fresh connection can carry
// it; such retries are not counted against maxTries.
type unprocessedError struct {
	why   string
	fresh bool
}

func (e *unprocessedError) Error() string { return ErrUnprocessed.Error() + " (" + e.why + ")" }
func (e *unprocessedError) Unwrap() error { return ErrUnprocessed }

var (
	errRefused       = &unprocessedError{"stream refused", false}
	errGoAway        = &unprocessedError{"after the server's GOAWAY", true}
	errGoAwayAll     = &unprocessedError{"the server's GOAWAY refused every stream", false}
	errConnEnded     = &unprocessedError{"the connection ended before it was written", true}
	errConnEndedIdle = &unprocessedError{"the connection ended before it answered any request", false}
)

// dialError is a failed dial: its own message, and both the dial's error
// and ErrUnprocessed for errors.Is and errors.As (nothing was sent).
type dialError struct{ err error }

func (e *dialError) Error() string   { return e.err.Error() }
func (e *dialError) Unwrap() []error { return []error{e.err, ErrUnprocessed} }

// attempt counts a request's tries: all of them, and those that count
// against maxTries.
type attempt struct{ tries, counted int }

func (c *Client) start(ctx context.Context, req *Request, done func(*Response, error), at attempt) {
	if err := ctx.Err(); err != nil {
		done(nil, err) // not sent: AfterFunc would cancel it only after it may be written
		return
	}
	cn, err := c.reserve(ctx, at.tries > 0)
	if err != nil {
		done(nil, err)
		return
	}
	cn.start(ctx, req, func(resp *Response, err error) {
		if err != nil {
			if ue, ok := err.(*unprocessedError); ok && ctx.Err() == nil && c.retry(ctx, req, done, at, ue) {
				return
			}
		}
		done(resp, err)
	})
}

// Retries of requests the server did not process. A retry reserves its
// stream before any first try does, on the newest connection, so that a
// server that ends each connection after so many requests (a GOAWAY
// every N) processes it among the first on the next one: it is not
// counted. The others (a refused stream, a connection that ended before
// it answered anything) are, up to maxTries: the second try at once,
// each later one after a back-off doubling from retryBackoffMin (with
// up to 25% jitter), so a server that refuses everything is not dialed
// in a tight loop. maxAllTries bounds them all.
const (
	maxTries        = 8
	maxAllTries     = 32
	retryBackoffMin = 10 * time.Millisecond
)

// retry sends req again after its try failed with ue, unless the tries
// are used up (then it returns false). It runs on a Client goroutine, so
// it never waits there: reserving may. When a back-off would outlast
// ctx's deadline, ue ends the request now; when ctx ends during a
// back-off, its error does.
func (c *Client) retry(ctx context.Context, req *Request, done func(*Response, error), at attempt, ue *unprocessedError) bool {
	at.tries++
	if !ue.fresh {
		at.counted++
	}
	if at.counted >= maxTries || at.tries >= maxAllTries {
		return false
	}
	if ue.fresh || at.counted < 2 {
		go c.start(ctx, req, done, at)
		return true
	}
	d := retryBackoffMin << (at.counted - 2)
	d += time.Duration(rand.Int64N(int64(d/4) + 1))
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return false
	}
	w := &retryWait{}
	w.mu.Lock()
	w.timer = time.AfterFunc(d, func() {
		if w.claim() {
			c.start(ctx, req, done, at)
		}
	})
	w.stop = context.AfterFunc(ctx, func() {
		if w.claim() {
			done(nil, ctx.Err())
		}
	})
	w.mu.Unlock()
	return true
}

// retryWait is a back-off that the timer or the context ends, whichever
// comes first.
type retryWait struct {
	mu      sync.Mutex
	timer   *time.Timer
	stop    func() bool
	claimed bool
}

func (w *retryWait) claim() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.claimed {
		return false
	}
	w.claimed = true
	w.timer.Stop()
	w.stop()
	return true
}
