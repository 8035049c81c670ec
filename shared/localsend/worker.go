// Package localsend is the send path of `mobilepush serve` (docs/ARCHITECTURE.md, Local server):
// the worker that takes queue messages v1 off the embedded durable
// queue (localqueue.Queue) and sends them with the same dispatch use case
// the send Lambda function runs, and the HTTP endpoints application
// servers use locally instead of SQS: POST /v1/messages and
// GET /v1/messages/{id}.
//
// Per message the worker receives it, decodes it (dispatch.DecodeDelivery),
// sends it (dispatch.Sender.Send), then in one queue transaction puts the
// retry follow-up on the queue (with its back-off delay and attempt
// number), the dead follow-ups in the dead-letter queue (reason and
// attempt as attributes, the body a valid v1 message) and deletes the
// message; then it marks the attempt complete in the ledger. A crash
// before that transaction leaves the message on the queue: it comes back
// after its visibility timeout and dispatch resumes it, sending only the
// tokens without a recorded outcome. dispatch.ErrBusy and Transient
// errors leave the message for redelivery; the queue moves a message to
// the dead-letter queue after its MaxReceiveCount receives.
package localsend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"mobilepush/shared/dispatch"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/push"
)

// QueueName is the name of the send queue in the data file.
const QueueName = "send"

// DefaultVisibility is the send queue's default visibility timeout (and
// dispatch lease).
const DefaultVisibility = 5 * time.Minute

// Queue is the part of the embedded queue the worker uses;
// *localqueue.Queue implements it.
type Queue interface {
	Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]localqueue.Received, error)
	ReceiveQuiet(ctx context.Context, max int, visibility, wait time.Duration) ([]localqueue.Received, error)
	Settle(ctx context.Context, receiptHandle string, next, dead []localqueue.SendInput) error
	ChangeVisibility(ctx context.Context, receiptHandle string, d time.Duration) error
	ExpireGroups(ctx context.Context) (int, error)
}

var (
	_ Queue        = (*localqueue.Queue)(nil)
	_ Inbox        = (*localqueue.Queue)(nil)
	_ RedriveQueue = (*localqueue.Queue)(nil)
)

// Sender is the send use case; *dispatch.Sender implements it.
type Sender interface {
	Send(ctx context.Context, d dispatch.Delivery) (dispatch.Result, error)
	Complete(ctx context.Context, d dispatch.Delivery) error
}

// WorkerConfig configures a Worker. Queue and Sender are required.
type WorkerConfig struct {
	Queue  Queue
	Sender Sender
	// Workers is how many messages are sent at once; 0 means 4. One
	// more is sent by the quiet lane (see Run).
	Workers int
	// Visibility is how long a received message stays hidden: the
	// queue's visibility timeout, and the dispatch lease (configure the
	// Sender's LeaseFor to the same value). A send stops starting new
	// pushes before it ends (see dispatch Config.Reserve). 0 means 5
	// minutes.
	Visibility time.Duration
	// Grace is how long messages being sent may finish after Run's
	// context ends; 0 means 10 seconds. What is not sent by then is
	// recorded as a retry or resumed after a restart.
	Grace  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Worker sends the messages of the send queue. Build it with NewWorker.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
}

// NewWorker returns a Worker.
func NewWorker(c WorkerConfig) *Worker {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Visibility <= 0 {
		c.Visibility = DefaultVisibility
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: c, log: log}
}

// maxReceive is the most messages one receive takes (SQS's limit too).
const maxReceive = 10

// Run receives and sends messages, at most Workers at once, until ctx
// ends, then lets the messages being sent finish for at most Grace and
// returns. One receive takes as many messages as there are free workers
// (up to 10), in one queue transaction.
//
// Beside the workers a quiet lane sends one message at a time, taken
// only from quiet tenants: none in flight, or fewer than the busiest
// tenant (Queue.ReceiveQuiet). When one tenant's backlog keeps every
// worker busy, another tenant's message starts at once instead of
// waiting for a worker to finish.
func (w *Worker) Run(ctx context.Context) {
	// Sends run under their own context: ctx ending stops receiving,
	// and Grace later stops the sends.
	sendCtx, stopSends := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSends()
	go func() {
		<-ctx.Done()
		t := time.NewTimer(w.cfg.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			stopSends()
		case <-sendCtx.Done():
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() { w.expireGroups(ctx) })
	wg.Go(func() { w.quietLane(ctx, sendCtx) })
	free := make(chan struct{}, w.cfg.Workers) // a token per busy worker
	failures := 0
	for ctx.Err() == nil {
		// Wait for a free worker, then take every other free one.
		select {
		case free <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		n := 1
	take:
		for n < maxReceive {
			select {
			case free <- struct{}{}:
				n++
			default:
				break take
			}
		}
		msgs, err := w.cfg.Queue.Receive(ctx, n, w.cfg.Visibility, 5*time.Second)
		for range n - len(msgs) {
			<-free
		}
		if err != nil {
			failures++
			w.log.Error("receive_failed", "err", err)
			sleep(ctx, min(time.Duration(failures)*time.Second, 30*time.Second))
			continue
		}
		failures = 0
		for _, m := range msgs {
			wg.Go(func() {
				defer func() { <-free }()
				w.handle(sendCtx, m)
			})
		}
	}
	wg.Wait()
}

// quietLane sends the messages of quiet tenants, one at a time, until
// ctx ends.
func (w *Worker) quietLane(ctx, sendCtx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		msgs, err := w.cfg.Queue.ReceiveQuiet(ctx, 1, w.cfg.Visibility, 5*time.Second)
		if err != nil {
			failures++
			w.log.Error("receive_failed", "lane", "quiet", "err", err)
			sleep(ctx, min(time.Duration(failures)*time.Second, 30*time.Second))
			continue
		}
		failures = 0
		for _, m := range msgs {
			w.handle(sendCtx, m)
		}
	}
}

// expireGroups drops the stats of long-finished messages once an hour.
func (w *Worker) expireGroups(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := w.cfg.Queue.ExpireGroups(ctx); err != nil {
			w.log.Warn("expire_groups_failed", "err", err)
		} else if n > 0 {
			w.log.Info("groups_expired", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// handle sends one received message and settles it.
func (w *Worker) handle(ctx context.Context, rm localqueue.Received) {
	log := w.log.With("queue_message_id", rm.ID, "receive_count", rm.ReceiveCount)
	d, err := dispatch.DecodeDelivery(rm.Body, rm.Attributes, rm.SentAt, w.cfg.Now())
	if err != nil {
		log.Warn("message_invalid", "err", err)
		w.settle(ctx, log, rm, nil, []localqueue.SendInput{deadInput(rm, dispatch.ReasonInvalidMessage)})
		return
	}
	log = log.With("tenant", d.Message.Tenant, "app_id", d.Message.AppID, "message_id", d.Message.MessageID, "attempt", d.Attempt)

	// Stop starting pushes well before the visibility timeout ends, so
	// the message is settled before another worker may receive it.
	margin := min(w.cfg.Visibility/10, 5*time.Second)
	sctx, cancel := context.WithDeadline(ctx, w.cfg.Now().Add(w.cfg.Visibility-margin))
	defer cancel()
	start := time.Now()
	res, err := w.cfg.Sender.Send(sctx, d)
	switch {
	case errors.Is(err, dispatch.ErrBusy):
		// Another worker holds the lease (e.g. this message came back
		// while its previous receiver still sends): look again soon.
		log.Info("message_busy")
		w.retryLater(ctx, log, rm, min(w.cfg.Visibility/4, 5*time.Second))
		return
	case push.Is(err, push.Invalid) || push.Is(err, push.TooLarge):
		log.Warn("message_unsendable", "err", err)
		w.settle(ctx, log, rm, nil, []localqueue.SendInput{deadInput(rm, dispatch.ReasonMessageUnsendable)})
		return
	case err != nil:
		// Transient or internal: redelivered after a back-off, and moved
		// to the dead-letter queue by the queue after MaxReceiveCount.
		log.Warn("send_failed", "err", err)
		w.retryLater(ctx, log, rm, min(time.Second<<min(rm.ReceiveCount, 8), w.cfg.Visibility))
		return
	case res.AlreadyDone:
		log.Info("message_already_done")
		w.settle(ctx, log, rm, nil, nil)
		return
	}
	next, dead, err := followUps(rm, d, res)
	if err != nil {
		log.Error("follow_up_failed", "err", err)
		return // redelivered and resumed after the visibility timeout
	}
	if !w.settle(ctx, log, rm, next, dead) {
		return
	}
	if err := w.cfg.Sender.Complete(context.WithoutCancel(ctx), d); err != nil {
		// The message and its follow-ups are settled already: nothing
		// can be lost or sent twice from the queue; log only.
		log.Warn("complete_failed", "err", err)
	}
	log.Info("message_sent", "tokens", d.Message.Tokens.Len(),
		"delivered", res.Counts[push.Delivered], "invalid_token", res.Counts[push.InvalidToken],
		"retry", res.Counts[push.Retry], "credential_fault", res.Counts[push.CredentialFault],
		"rejected", res.Counts[push.Rejected], "dead_letters", len(dead), "retry_queued", len(next) > 0,
		"duration_ms", time.Since(start).Milliseconds())
}

// settle acknowledges rm with its follow-ups in one transaction and
// reports whether it did.
func (w *Worker) settle(ctx context.Context, log *slog.Logger, rm localqueue.Received, next, dead []localqueue.SendInput) bool {
	err := w.cfg.Queue.Settle(context.WithoutCancel(ctx), rm.ReceiptHandle, next, dead)
	switch {
	case errors.Is(err, localqueue.ErrStaleReceipt):
		// The visibility timeout passed and the message was received
		// again: its new receiver resumes it and settles it.
		log.Warn("settle_stale")
		return false
	case err != nil:
		log.Error("settle_failed", "err", err)
		return false
	}
	return true
}

func (w *Worker) retryLater(ctx context.Context, log *slog.Logger, rm localqueue.Received, d time.Duration) {
	if err := w.cfg.Queue.ChangeVisibility(context.WithoutCancel(ctx), rm.ReceiptHandle, d); err != nil && !errors.Is(err, localqueue.ErrStaleReceipt) {
		log.Warn("change_visibility_failed", "err", err)
	}
}

// followUps maps a send result's follow-ups to the queue's retry and
// dead-letter inputs, in the message's group.
func followUps(rm localqueue.Received, d dispatch.Delivery, res dispatch.Result) (next, dead []localqueue.SendInput, err error) {
	retry, dls := dispatch.FollowUps(d, res)
	if retry != nil {
		body, err := Encode(retry.Message)
		if err != nil {
			return nil, nil, err
		}
		next = append(next, localqueue.SendInput{Body: body, Group: rm.Group, Tenant: rm.Tenant, Delay: retry.Delay, Attributes: retry.Attributes})
	}
	for _, dl := range dls {
		body, err := Encode(dl.Message)
		if err != nil {
			return nil, nil, err
		}
		dead = append(dead, localqueue.SendInput{Body: body, Group: rm.Group, Tenant: rm.Tenant, Reason: dl.Reason, Attributes: dl.Attributes})
	}
	return next, dead, nil
}

// firstInput is the queue input of m, a message the application server
// sent (its queue body), enqueued at at.
func firstInput(m *push.Message, body []byte, at time.Time) localqueue.SendInput {
	return localqueue.SendInput{Body: body, Group: Group(m.Tenant, m.MessageID), Tenant: m.Tenant, Attributes: dispatch.FirstAttributes(at)}
}

// deadInput is rm as it is, dead-lettered for reason.
func deadInput(rm localqueue.Received, reason string) localqueue.SendInput {
	return localqueue.SendInput{Body: rm.Body, Group: rm.Group, Tenant: rm.Tenant, Reason: reason, Attributes: dispatch.DeadAttributes(rm.Attributes, reason)}
}

// Encode returns the queue body of m: its JSON without HTML escaping.
// Errors: Invalid.
func Encode(m *push.Message) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, push.E("localsend.Encode", push.Invalid, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Group is the queue group of a message: every attempt, retry and dead
// letter of (tenant, message id) shares it.
func Group(tenant, messageID string) string { return messageID + " " + tenant }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
