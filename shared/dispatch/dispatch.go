// Package dispatch is the send use case of mobilepush (docs/ARCHITECTURE.md, Send path): it
// sends one queue message to its device tokens through APNs and FCM and
// records exactly one outcome per token in the message's ledger as each
// answer arrives. It does not touch a queue: it returns what must happen
// next (the tokens to re-enqueue with back-off, the tokens for the
// dead-letter queue with their reason), and the caller (the send Lambda
// function over SQS, or the local server over its embedded queue)
// performs it before acknowledging the message. The queue contract both
// callers map to their transport (message attributes, decoding a
// received message into a Delivery, the follow-ups) is declared once, in
// queue.go.
//
// Crash safety: the message is leased before anything is sent; a resumed
// message sends only tokens without an outcome and rebuilds its follow-up
// from all recorded outcomes, so a worker that dies after recording but
// before re-enqueueing loses nothing. A message completed once is never
// sent again. The resend window is bounded: a push holds its in-flight
// slot until its outcome is durably recorded, so a crash re-sends at
// most Config.MaxInFlight APNs pushes and Config.FCMCalls FCM chunks,
// and each resend carries the identity of its first push
// (push.Message.CollapseID, push.MessageIDKey), so a device shows it in
// place of the first, not beside it.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// Apps reads app metadata and secret material for the send path; the
// read-through *credential.Cache implements it.
type Apps interface {
	App(ctx context.Context, tenant, id string) (credential.App, error)
	Credential(ctx context.Context, tenant, id string, p push.Platform) (credential.App, credential.Material, error)
}

// Ledger keeps the message's claim and per-token outcomes;
// *credential.Service implements it.
type Ledger interface {
	Lease(ctx context.Context, key credential.MessageKey, owner string, leaseFor time.Duration) (credential.Claim, error)
	// RecordOutcomes records outcomes of the key's tokens, answering one
	// error per outcome (see credential.Service.RecordOutcomes).
	RecordOutcomes(ctx context.Context, key credential.MessageKey, owner string, outs []credential.Outcome) []error
	Outcomes(ctx context.Context, key credential.MessageKey) ([]credential.Outcome, error)
	Complete(ctx context.Context, key credential.MessageKey, owner string) error
}

// Suspender marks a platform credential suspended after a credential
// fault; *credential.Service implements it (SetStatus).
type Suspender interface {
	SetStatus(ctx context.Context, r credential.StatusRequest) (credential.App, error)
}

// Notifier publishes what operators and application servers must learn:
// dead device tokens (batched per app) and a credential the provider
// refused. Failures are logged by the caller's adapter, not retried here.
type Notifier interface {
	InvalidTokens(ctx context.Context, app credential.App, p push.Platform, tokens []string) error
	CredentialInvalid(ctx context.Context, app credential.App, p push.Platform, reason string) error
}

// Config configures a Sender. Apps, Ledger, Suspender and Clients are
// required.
type Config struct {
	Apps      Apps
	Ledger    Ledger
	Suspender Suspender
	Clients   Clients
	Notifier  Notifier // nil: nothing is published
	// Owner names this worker in leases (e.g. the Lambda request id's
	// log stream, or a per-process random id).
	Owner string
	// LeaseFor is how long a message stays leased: the queue's visibility
	// timeout. Default 5 minutes.
	LeaseFor time.Duration
	// Concurrency bounds the APNs pushes in flight per message, so that
	// one message of a batch cannot take every push slot; default 1000
	// (the streams Apple allows on one HTTP/2 connection).
	Concurrency int
	// MaxInFlight bounds the APNs pushes in flight across all the
	// messages a Sender sends at once. A push holds its slot from the
	// moment it is sent until its outcome is durably recorded, so it also
	// bounds the resend window: a crash re-sends at most MaxInFlight APNs
	// pushes (those sent without a recorded outcome). A push in flight
	// costs a few hundred bytes and no goroutine (answers are handled as
	// they arrive). Default 2000: two connections' worth, enough to hide
	// 20 ms of gateway latency at well over 20,000 pushes/s. The slots
	// are shared fairly across tenants: while tenants wait for one, a
	// freed slot goes to the waiting tenant holding the fewest; a tenant
	// alone may hold them all. FCMCalls are shared the same way.
	MaxInFlight int
	// FCMCalls bounds the firebase SendEach calls (each a chunk of up to
	// 500 tokens with 50 requests in flight) across all the messages a
	// Sender sends at once; it bounds memory and the resend window
	// (FCMCalls x 500 tokens: a call's slot is freed once its outcomes
	// are recorded) as MaxInFlight does for APNs. Default 8: 400 requests in flight, enough to hide 20 ms of
	// latency at the rate two cores can send.
	FCMCalls int
	// MaxAttempts is how many attempts a token gets before the
	// dead-letter queue; default 5.
	MaxAttempts int
	// Reserve is the time kept before the context's deadline: no new push
	// starts later than that, the rest is retried. Default 2 s.
	Reserve time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Sender sends queue messages. It is safe for concurrent use.
type Sender struct {
	cfg Config
	log *slog.Logger

	// The Sender's slots, shared fairly across tenants (fair.go).
	inFlight *fairSlots    // MaxInFlight slots: an APNs push waiting for its answer
	fcmCalls *fairSlots    // FCMCalls slots
	started  atomic.Uint64 // numbers the platform sends in start order (their slot order)

	mu        sync.Mutex
	confirmed map[confirmKey]bool // APNs environments a credential has delivered to
}

type confirmKey struct {
	secret, version string
	env             push.Environment
}

// New returns a Sender.
func New(cfg Config) *Sender {
	if cfg.LeaseFor <= 0 {
		cfg.LeaseFor = 5 * time.Minute
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1000
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 2000
	}
	if cfg.FCMCalls <= 0 {
		cfg.FCMCalls = 8
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Reserve <= 0 {
		cfg.Reserve = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{
		cfg: cfg, log: log, inFlight: newFairSlots(cfg.MaxInFlight),
		fcmCalls:  newFairSlots(cfg.FCMCalls),
		confirmed: map[confirmKey]bool{},
	}
}

// Follow-up reasons for tokens that were not sent.
const (
	ReasonAppNotFound       = "app_not_found"
	ReasonAppDisabled       = "app_disabled"
	ReasonPlatformSuspended = "platform_suspended"
	ReasonNoCredential      = "platform_unconfigured"
	ReasonDeadline          = "deadline"
	ReasonRetriesExhausted  = "retries_exhausted"
	ReasonCredentialFault   = "credential_fault"
	ReasonMessageUnsendable = "message_unsendable"
)

// Retry is a follow-up message for the tokens that got a retry outcome:
// the same message (same message_id) holding only those tokens, as
// attempt Attempt, to be enqueued after Delay.
type Retry struct {
	Message *push.Message
	Attempt int
	Delay   time.Duration
}

// Dead is a follow-up message for the dead-letter queue: a valid v1
// message holding only the affected tokens; Reason and Attempt go into
// message attributes so a redrive works after the fix.
type Dead struct {
	Message *push.Message
	Reason  string
	Attempt int
}

// Result is what sending one message (one attempt) did and what must
// happen next.
type Result struct {
	// AlreadyDone: the attempt was completed before (a redelivery): nothing
	// was sent and nothing must be enqueued.
	AlreadyDone bool
	// Counts of recorded outcomes by result, over the whole attempt.
	Counts map[push.Outcome]int
	Retry  *Retry
	Dead   []Dead
}

// Delivery is one attempt of a queue message as the queue delivered it.
type Delivery struct {
	Message *push.Message
	// Attempt counts re-enqueues: 0 for the message the application
	// server sent, n for the n-th retry of its failed tokens.
	Attempt int
	// EnqueuedAt is when the first attempt was enqueued (SQS SentTimestamp
	// of attempt 0, carried by retries), so retries do not extend the
	// message's time to live; zero means now.
	EnqueuedAt time.Time
}

// ErrBusy is wrapped when another worker holds a live lease on the
// message: leave it on the queue; it comes back after the visibility
// timeout.
var ErrBusy = errors.New("message is being sent by another worker")

// Send sends one delivery. The caller enqueues r.Retry and r.Dead, then
// calls Complete, then acknowledges the queue message; a failure before
// Complete leaves the message to be redelivered and resumed.
// Errors: Invalid (m does not validate), Conflict wrapping ErrBusy,
// Transient (the ledger is unavailable), Internal.
func (s *Sender) Send(ctx context.Context, d Delivery) (Result, error) {
	const op = "dispatch.Send"
	m, attempt := d.Message, d.Attempt
	if d.EnqueuedAt.IsZero() {
		d.EnqueuedAt = s.cfg.Now()
	}
	if err := m.Validate(); err != nil {
		return Result{}, err
	}
	if m.MessageID == "" {
		return Result{}, push.E(op, push.Invalid, errors.New("message_id is required on the send path (the client sets one)"))
	}
	key := credential.MessageKey{Tenant: m.Tenant, MessageID: m.MessageID, Attempt: attempt}
	if _, err := s.cfg.Ledger.Lease(ctx, key, s.cfg.Owner, s.cfg.LeaseFor); err != nil {
		switch {
		case errors.Is(err, credential.ErrMessageDone):
			return Result{AlreadyDone: true}, nil
		case errors.Is(err, credential.ErrLeaseHeld):
			return Result{}, push.E(op, push.Conflict, fmt.Errorf("message %s attempt %d: %w", m.MessageID, attempt, ErrBusy))
		}
		return Result{}, fmt.Errorf("lease message %s: %w", m.MessageID, err)
	}
	done, err := s.cfg.Ledger.Outcomes(ctx, key)
	if err != nil {
		return Result{}, fmt.Errorf("read outcomes of message %s: %w", m.MessageID, err)
	}
	rec := newRecorder(s, key, m.Tokens.Len(), done)
	rec.start(ctx)
	defer rec.flush() // on the early returns; flushing twice is harmless

	app, err := s.cfg.Apps.App(ctx, m.Tenant, m.AppID)
	switch {
	case push.Is(err, push.NotFound):
		rec.all(ctx, m, push.Rejected, ReasonAppNotFound)
	case err != nil:
		return Result{}, fmt.Errorf("load app %s: %w", m.AppID, err)
	case !app.Enabled:
		rec.all(ctx, m, push.Rejected, ReasonAppDisabled)
	default:
		var wg sync.WaitGroup
		if pending := rec.pending(push.APNs, m.Tokens.APNs); len(pending) > 0 {
			wg.Go(func() { s.sendAPNs(ctx, m, d.EnqueuedAt, app, pending, rec) })
		}
		if pending := rec.pending(push.FCM, m.Tokens.FCM); len(pending) > 0 {
			wg.Go(func() { s.sendFCM(ctx, m, d.EnqueuedAt, app, pending, rec) })
		}
		wg.Wait()
	}
	rec.flush()
	if app.ID != "" {
		s.publishInvalid(ctx, app, push.APNs, rec)
		s.publishInvalid(ctx, app, push.FCM, rec)
	}
	if err := rec.err(); err != nil {
		return Result{}, err // the lease stays: a redelivery resumes
	}
	return s.followUp(m, attempt, rec), nil
}

// Complete marks the delivery done after the caller enqueued its
// follow-up; a redelivery of it is then not sent again.
// Errors: PreconditionFailed (the lease was lost), Transient, Internal.
func (s *Sender) Complete(ctx context.Context, d Delivery) error {
	key := credential.MessageKey{Tenant: d.Message.Tenant, MessageID: d.Message.MessageID, Attempt: d.Attempt}
	return s.cfg.Ledger.Complete(ctx, key, s.cfg.Owner)
}

// platformReady returns the material of p, or records every token of p
// with the reason the platform cannot send.
func (s *Sender) platformReady(ctx context.Context, m *push.Message, app credential.App, p push.Platform, tokens []string, rec *recorder) (credential.App, credential.Material, bool) {
	meta := app.Meta(p)
	switch {
	case meta == nil:
		rec.each(ctx, p, tokens, push.Rejected, ReasonNoCredential)
		return app, credential.Material{}, false
	case meta.Status.State == credential.Suspended:
		rec.each(ctx, p, tokens, push.CredentialFault, ReasonPlatformSuspended)
		return app, credential.Material{}, false
	}
	a, mat, err := s.cfg.Apps.Credential(ctx, m.Tenant, m.AppID, p)
	if err != nil {
		rec.fail(fmt.Errorf("load %s credential of app %s: %w", p, m.AppID, err))
		return app, credential.Material{}, false
	}
	return a, mat, true
}

// suspend marks p suspended and publishes "Push Credential Invalid"; a
// failure is logged (the tokens are in the DLQ either way).
func (s *Sender) suspend(ctx context.Context, app credential.App, p push.Platform, reason string) {
	ctx = context.WithoutCancel(ctx)
	meta := app.Meta(p)
	if meta == nil {
		return
	}
	_, err := s.cfg.Suspender.SetStatus(ctx, credential.StatusRequest{
		Tenant: app.Tenant, ID: app.ID, Platform: p, VersionID: meta.Secret.VersionID, Actor: "sender",
		Status: credential.Status{State: credential.Suspended, Reason: reason, Message: "Sending stopped: the provider refused the credential (" + reason + "). Upload a working credential or re-validate it; queued pushes wait in the dead-letter queue for a redrive."},
	})
	if err != nil && !errors.Is(err, credential.ErrStaleCredential) {
		s.log.Error("suspend_failed", "tenant", app.Tenant, "app_id", app.ID, "platform", p, "err", err)
	}
	if s.cfg.Notifier != nil {
		if err := s.cfg.Notifier.CredentialInvalid(ctx, app, p, reason); err != nil {
			s.log.Error("publish_failed", "event", "credential_invalid", "app_id", app.ID, "err", err)
		}
	}
}

// nearDeadline reports whether no new push may start.
func (s *Sender) nearDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && s.cfg.Now().Add(s.cfg.Reserve).After(d)
}

// followUp turns every recorded outcome of the attempt into the retry and
// dead-letter messages and publishes the dead tokens.
func (s *Sender) followUp(m *push.Message, attempt int, rec *recorder) Result {
	res := Result{Counts: map[push.Outcome]int{}}
	retry := push.Tokens{}
	var delay time.Duration
	dead := map[string]*push.Tokens{}
	for _, o := range rec.outcomes() {
		res.Counts[o.Result]++
		switch o.Result {
		case push.Retry:
			if attempt+1 >= s.cfg.MaxAttempts {
				add(dead, ReasonRetriesExhausted, o)
				continue
			}
			appendToken(&retry, o.Platform, o.Token)
			if d := rec.retryAfter(o.Token); d > delay {
				delay = d
			}
		case push.CredentialFault, push.Rejected:
			add(dead, o.Reason, o)
		}
	}
	if retry.Len() > 0 {
		if back := backoff(attempt); back > delay {
			delay = back
		}
		res.Retry = &Retry{Message: withTokens(m, retry), Attempt: attempt + 1, Delay: delay}
	}
	for reason, toks := range dead {
		res.Dead = append(res.Dead, Dead{Message: withTokens(m, *toks), Reason: reason, Attempt: attempt})
	}
	return res
}

func add(dead map[string]*push.Tokens, reason string, o credential.Outcome) {
	if reason == "" {
		reason = string(o.Result)
	}
	t := dead[reason]
	if t == nil {
		t = &push.Tokens{}
		dead[reason] = t
	}
	appendToken(t, o.Platform, o.Token)
}

func appendToken(t *push.Tokens, p push.Platform, token string) {
	if p == push.APNs {
		t.APNs = append(t.APNs, token)
	} else {
		t.FCM = append(t.FCM, token)
	}
}

// withTokens is a copy of m holding only tokens.
func withTokens(m *push.Message, tokens push.Tokens) *push.Message {
	c := *m
	c.Tokens = tokens
	return &c
}

// backoff is the delay before attempt+1: 2, 4, 8, ... seconds, at most
// 15 minutes (SQS's longest message delay).
func backoff(attempt int) time.Duration {
	d := 2 * time.Second << min(attempt, 9)
	return min(d, 15*time.Minute)
}
