package dispatch

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// sendAPNs pushes to every pending APNs token with bounded concurrency,
// recording each answer as it arrives. The message is mapped once. A
// credential fault stops the platform: the tokens not yet sent go to the
// dead-letter queue with the fault's reason, unsent.
func (s *Sender) sendAPNs(ctx context.Context, m *push.Message, enqueued time.Time, app credential.App, tokens []string, rec *recorder) {
	app, mat, ok := s.platformReady(ctx, m, app, push.APNs, tokens, rec)
	if !ok {
		return
	}
	meta := app.APNs
	client, err := s.cfg.Clients.APNs(mat, app.Environment)
	if err != nil {
		rec.each(ctx, push.APNs, tokens, push.CredentialFault, ReasonCredentialFault)
		s.suspend(ctx, app, push.APNs, ReasonCredentialFault)
		return
	}
	msg, err := client.Prepare(m, meta.Facts.BundleID, enqueued)
	if err != nil {
		rec.each(ctx, push.APNs, tokens, push.Rejected, push.CodeOf(err))
		return
	}
	b := &apnsBatch{
		s: s, ctx: ctx, app: app, tenant: m.Tenant, order: s.started.Add(1), msg: msg, rec: rec,
		ck:  confirmKey{meta.Secret.ID, meta.Secret.VersionID, app.Environment},
		sem: make(chan struct{}, s.cfg.Concurrency),
	}
	b.confirmFn = b.isConfirmed
	starts, stop := s.startWindow(ctx)
	defer stop()
	for _, tok := range tokens {
		if f := b.fault.Load(); f != nil {
			rec.record(ctx, push.APNs, tok, push.CredentialFault, *f, 0)
			continue
		}
		// Slots: this message's pushes in flight, then the Sender's
		// (fair across tenants).
		if !s.acquire(starts, b.sem) {
			rec.record(ctx, push.APNs, tok, push.Retry, ReasonDeadline, 0)
			continue
		}
		if !s.inFlight.acquire(starts, m.Tenant, b.order) {
			<-b.sem
			rec.record(ctx, push.APNs, tok, push.Retry, ReasonDeadline, 0)
			continue
		}
		b.wg.Add(1)
		b.push(tok)
	}
	b.wg.Wait()
}

// startWindow returns a context that ends when no new push may start,
// as nearDeadline tells it on the Sender's clock: Reserve before ctx's
// deadline, or with ctx.
func (s *Sender) startWindow(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithTimeout(ctx, d.Sub(s.cfg.Now())-s.cfg.Reserve)
	}
	return context.WithCancel(ctx)
}

// acquire takes a slot of each semaphore in turn, waiting at most until
// starts ends; on false it holds none.
func (s *Sender) acquire(starts context.Context, sems ...chan struct{}) bool {
	for i, sem := range sems {
		if starts.Err() == nil {
			select {
			case sem <- struct{}{}:
				continue
			case <-starts.Done():
			}
		}
		for _, held := range sems[:i] {
			<-held
		}
		return false
	}
	return true
}

// apnsBatch is the APNs tokens of one message being pushed.
type apnsBatch struct {
	s         *Sender
	ctx       context.Context
	app       credential.App
	tenant    string // whose slots the pushes hold
	order     uint64 // the message's place among the Sender's sends
	msg       APNsMessage
	confirmFn func() bool // isConfirmed, made once (a method value allocates)
	rec       *recorder
	ck        confirmKey
	confirmed atomic.Bool // ck is known confirmed
	fault     atomic.Pointer[string]
	sem       chan struct{} // this message's pushes in flight
	wg        sync.WaitGroup
}

// push sends to tok; answered records the answer when it comes.
func (b *apnsBatch) push(tok string) {
	if f := b.fault.Load(); f != nil {
		b.rec.recordThen(b.ctx, write{p: push.APNs, token: tok, res: push.CredentialFault, reason: *f, written: b.release})
		return
	}
	b.msg.PushAsync(b.ctx, tok, b.confirmFn, func(a Answer) { b.answered(tok, a) })
}

// release frees a push's slots once its outcome is written.
func (b *apnsBatch) release() {
	b.s.inFlight.release(b.tenant)
	<-b.sem
	b.wg.Done()
}

// answered records the answer to tok's push (the recorder's writers
// write it, then free the push's slots; recordThen only queues it): a
// delivery confirms the credential's environment, a credential fault
// stops the platform. It runs on the APNs client's goroutine, so what
// takes time (suspending the platform in the store) runs on another.
func (b *apnsBatch) answered(tok string, a Answer) {
	s, ctx := b.s, b.ctx
	if a.Outcome == push.Delivered && !b.confirmed.Load() {
		s.confirm(b.ck)
		b.confirmed.Store(true)
	}
	if a.Outcome == push.CredentialFault && b.fault.CompareAndSwap(nil, &a.Reason) {
		b.wg.Go(func() { s.suspend(ctx, b.app, push.APNs, a.Reason) })
	}
	b.rec.recordThen(ctx, write{p: push.APNs, token: tok, res: a.Outcome, reason: a.Reason, written: b.release})
}

// isConfirmed reports whether the credential has delivered to the
// environment (a confirmation is never withdrawn, so it is cached).
func (b *apnsBatch) isConfirmed() bool {
	if b.confirmed.Load() {
		return true
	}
	if b.s.isConfirmed(b.ck) {
		b.confirmed.Store(true)
		return true
	}
	return false
}

// sendFCM sends every pending FCM token, a chunk of FCMChunk tokens per
// call, the chunks of all messages sharing the Sender's FCMCalls slots
// (fairly across tenants), and records each answer.
func (s *Sender) sendFCM(ctx context.Context, m *push.Message, enqueued time.Time, app credential.App, tokens []string, rec *recorder) {
	app, mat, ok := s.platformReady(ctx, m, app, push.FCM, tokens, rec)
	if !ok {
		return
	}
	if s.nearDeadline(ctx) {
		rec.each(ctx, push.FCM, tokens, push.Retry, ReasonDeadline)
		return
	}
	client, err := s.cfg.Clients.FCM(ctx, mat)
	if err != nil {
		rec.each(ctx, push.FCM, tokens, push.CredentialFault, ReasonCredentialFault)
		s.suspend(ctx, app, push.FCM, ReasonCredentialFault)
		return
	}
	msg := client.Prepare(m, enqueued)
	order := s.started.Add(1)
	var fault atomic.Pointer[string]
	var wg sync.WaitGroup
	starts, stop := s.startWindow(ctx)
	defer stop()
	for start := 0; start < len(tokens); start += FCMChunk {
		chunk := tokens[start:min(start+FCMChunk, len(tokens))]
		if !s.fcmCalls.acquire(starts, m.Tenant, order) {
			rec.each(ctx, push.FCM, chunk, push.Retry, ReasonDeadline)
			continue
		}
		if f := fault.Load(); f != nil { // an earlier chunk found the key refused
			s.fcmCalls.release(m.Tenant)
			rec.each(ctx, push.FCM, chunk, push.CredentialFault, *f)
			continue
		}
		wg.Go(func() {
			// The slot is freed once the chunk's outcomes are written, so
			// a crash re-sends at most FCMCalls chunks.
			var written sync.WaitGroup
			defer func() { written.Wait(); s.fcmCalls.release(m.Tenant) }()
			answers := msg.SendChunk(ctx, chunk)
			i := slices.IndexFunc(answers, func(a Answer) bool { return a.Outcome == push.CredentialFault })
			if i >= 0 && fault.CompareAndSwap(nil, &answers[i].Reason) {
				s.suspend(ctx, app, push.FCM, answers[i].Reason)
			}
			written.Add(len(answers))
			for i, a := range answers {
				rec.recordThen(ctx, write{p: push.FCM, token: chunk[i], res: a.Outcome, reason: a.Reason, retryAfter: a.RetryAfter, written: written.Done})
			}
		})
	}
	wg.Wait()
}

// publishInvalid reports the platform's dead tokens of this attempt in
// one event.
func (s *Sender) publishInvalid(ctx context.Context, app credential.App, p push.Platform, rec *recorder) {
	if s.cfg.Notifier == nil {
		return
	}
	var dead []string
	for _, o := range rec.outcomes() {
		if o.Platform == p && o.Result == push.InvalidToken {
			dead = append(dead, o.Token)
		}
	}
	if len(dead) == 0 {
		return
	}
	if err := s.cfg.Notifier.InvalidTokens(context.WithoutCancel(ctx), app, p, dead); err != nil {
		s.log.Error("publish_failed", "event", "invalid_tokens", "app_id", app.ID, "count", len(dead), "err", err)
	}
}

func (s *Sender) isConfirmed(k confirmKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed[k]
}

func (s *Sender) confirm(k confirmKey) {
	s.mu.Lock()
	s.confirmed[k] = true
	s.mu.Unlock()
}
