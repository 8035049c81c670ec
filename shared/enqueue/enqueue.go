// Package enqueue is the client application servers use to ask mobilepush
// to send pushes: it validates queue messages v1 (push.Message, described
// by the JSON Schema Schema returns) and puts them on the send queue with
// SQS SendMessageBatch.
//
// A message over a limit (push.MaxTokens tokens, the 4096-byte APNs
// payload, FCM's 4096-byte payload, MaxBody) is refused before any AWS
// call with an error naming the limit. Every message gets a message id
// (push.NewMessageID when it has none), the idempotency key the sender
// deduplicates on; it is also the SQS batch entry id and, on a FIFO
// queue, the deduplication id.
//
// On a standard queue every entry carries a MessageGroupId naming its
// tenant (or its app: Config.GroupBy), which makes the queue an SQS fair
// queue: when one tenant floods it, SQS hands out the quiet tenants'
// messages first. A FIFO queue keeps the app id as the group (order
// within an app).
//
// The package imports only the standard library, mobilepush/shared/push
// and the AWS SDK's SQS module, so it can be vendored into application
// servers.
package enqueue

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed" // the JSON Schema
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"mobilepush/shared/push"
)

// Limits of SQS the client enforces before calling it.
const (
	// MaxBody is the largest message body, in bytes: SQS's classic
	// limit, which every queue accepts whatever its MaximumMessageSize.
	MaxBody = 256 << 10
	// MaxBatchBytes is the most bytes (bodies and attributes) one
	// SendMessageBatch call carries.
	MaxBatchBytes = 256 << 10
	// MaxBatch is the most entries one SendMessageBatch call carries.
	MaxBatch = 10
	// MaxDelay is the longest per-message delay SQS allows.
	MaxDelay = 15 * time.Minute
	// MaxAttributes is the most message attributes SQS allows.
	MaxAttributes = 10
)

//go:embed message.schema.json
var schema []byte

// Schema returns the JSON Schema (draft 2020-12) of the queue message v1.
func Schema() []byte { return bytes.Clone(schema) }

// SQSClient is the part of the SQS API the Client uses; *sqs.Client
// implements it.
type SQSClient interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Config configures a Client.
type Config struct {
	// QueueURL is the send queue's URL (required). A URL ending in
	// ".fifo" is a FIFO queue: entries carry MessageDeduplicationId =
	// message id and MessageGroupId = app id, and cannot be delayed.
	QueueURL string
	// MaxAttempts is how many times an entry SQS failed on its own side
	// (SenderFault false) is sent before it is reported; default 3.
	// Failures of the whole call are retried by the SDK's retryer only.
	MaxAttempts int
	// Backoff is the wait before the second attempt, doubled for each
	// further one; default 200 ms.
	Backoff time.Duration
	// Concurrency is how many SendMessageBatch calls run at once;
	// default 4, and always 1 on a FIFO queue (order within an app).
	Concurrency int
	// GroupBy chooses the MessageGroupId of entries on a standard queue
	// (the fair-queue tenant): GroupByTenant (the default) or GroupByApp.
	// A FIFO queue always groups by app.
	GroupBy GroupBy
}

// GroupBy names what the fair-queue tenant of a message is.
type GroupBy string

// The GroupBy values.
const (
	GroupByTenant GroupBy = "tenant" // one group per tenant: its apps share a fair share
	GroupByApp    GroupBy = "app"    // one group per app of a tenant
)

// ParseGroupBy returns the GroupBy named s ("" is GroupByTenant).
// Errors: Invalid.
func ParseGroupBy(s string) (GroupBy, error) {
	switch g := GroupBy(s); g {
	case "":
		return GroupByTenant, nil
	case GroupByTenant, GroupByApp:
		return g, nil
	}
	return "", push.Errorf("enqueue.ParseGroupBy", push.Invalid, "group by %q: want %q or %q", s, GroupByTenant, GroupByApp)
}

// maxGroupID is the longest MessageGroupId SQS accepts.
const maxGroupID = 128

// GroupID returns the MessageGroupId of m on a standard queue: its
// tenant (GroupByTenant) or its tenant and app id joined by "/"
// (GroupByApp). A name SQS would refuse (over 128 characters, or
// characters other than ASCII letters, digits and punctuation) is
// replaced by "sha256:" and the first 40 hex digits of its SHA-256, so
// every tenant still gets one stable group of its own.
func GroupID(m *push.Message, by GroupBy) string {
	id := m.Tenant
	if by == GroupByApp {
		id = m.Tenant + "/" + m.AppID
	}
	if len(id) <= maxGroupID && strings.IndexFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) < 0 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:20])
}

// Client enqueues messages. It is safe for concurrent use.
type Client struct {
	sqs  SQSClient
	cfg  Config
	fifo bool
}

// New returns a Client sending through api to cfg.QueueURL. It fails
// with Invalid when api is nil or the queue URL is empty.
func New(api SQSClient, cfg Config) (*Client, error) {
	const op = "enqueue.New"
	if api == nil {
		return nil, push.E(op, push.Invalid, errors.New("no SQS client"))
	}
	if cfg.QueueURL == "" {
		return nil, push.E(op, push.Invalid, errors.New("no queue URL"))
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	by, err := ParseGroupBy(string(cfg.GroupBy))
	if err != nil {
		return nil, push.E(op, push.Invalid, err)
	}
	cfg.GroupBy = by
	c := &Client{sqs: api, cfg: cfg, fifo: strings.HasSuffix(cfg.QueueURL, ".fifo")}
	if c.fifo {
		c.cfg.Concurrency = 1
	}
	return c, nil
}

// NewMessage returns a v1 message for an app of a tenant, to be completed
// with tokens and content.
func NewMessage(tenant, appID string) *push.Message {
	return &push.Message{Version: push.MessageVersion, Tenant: tenant, AppID: appID}
}

// Entry is a message to enqueue with its SQS options.
type Entry struct {
	Message *push.Message
	// Delay postpones delivery (0 to MaxDelay, whole seconds; not on a
	// FIFO queue).
	Delay time.Duration
	// Attributes are SQS string message attributes (at most
	// MaxAttributes), e.g. the sender's attempt count.
	Attributes map[string]string
}

// Result is what happened to one message.
type Result struct {
	// MessageID is the message's id: its own, or the one generated.
	MessageID string
	// SQSMessageID is the id SQS gave the enqueued message.
	SQSMessageID string
	// Attempts is how many SendMessageBatch calls carried the message
	// (0 when it was refused before any).
	Attempts int
	// Err is nil when the message is on the queue. Otherwise a
	// *push.Error: Invalid or TooLarge (refused before any AWS call, or
	// by SQS as the sender's fault), Conflict (its message id repeats an
	// earlier entry of the same call), Transient (SQS failed after
	// retries; it may or may not be on the queue when the call itself
	// failed), NotFound (no such queue), Unauthorized (credentials or
	// permissions).
	Err error
}

// Send validates and enqueues msgs; it is SendEntries without options.
func (c *Client) Send(ctx context.Context, msgs ...*push.Message) ([]Result, error) {
	entries := make([]Entry, len(msgs))
	for i, m := range msgs {
		entries[i].Message = m
	}
	return c.send(ctx, "enqueue.Client.Send", entries)
}

// SendEntries validates and enqueues entries and returns one Result per
// entry, in order. Invalid entries are refused before any AWS call and do
// not stop the others. Valid entries go in SendMessageBatch calls of at
// most MaxBatch entries and MaxBatchBytes; SQS's per-entry failures are
// checked, and those on SQS's side are retried alone (MaxAttempts, with
// back-off). Messages are not modified: a generated message id is in the
// Result.
//
// The error is nil when every entry was enqueued. Otherwise it is a
// *push.Error with the Kind of the first failure, wrapping every failed
// entry's error (errors.Is and errors.As see them all).
func (c *Client) SendEntries(ctx context.Context, entries []Entry) ([]Result, error) {
	return c.send(ctx, "enqueue.Client.SendEntries", entries)
}

// pending is a prepared entry.
type pending struct {
	idx   int // position in the call
	entry types.SendMessageBatchRequestEntry
	size  int
}

func (c *Client) send(ctx context.Context, op string, entries []Entry) ([]Result, error) {
	results := make([]Result, len(entries))
	var ready []pending
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		p, id, err := c.prepare(op, e)
		results[i].MessageID = id
		if err != nil {
			results[i].Err = err
			continue
		}
		if j, dup := seen[id]; dup {
			results[i].Err = push.Errorf(op, push.Conflict, "message %s: message_id repeats entry %d of the same call", id, j)
			continue
		}
		seen[id] = i
		p.idx = i
		ready = append(ready, p)
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, c.cfg.Concurrency)
	for _, batch := range batches(ready) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.sendBatch(ctx, op, batch, results)
		})
	}
	wg.Wait()

	var errs []error
	kind := push.Other
	for _, r := range results {
		if r.Err != nil {
			if kind == push.Other {
				kind = push.KindOf(r.Err)
			}
			errs = append(errs, r.Err)
		}
	}
	if len(errs) == 0 {
		return results, nil
	}
	return results, push.E(op, kind, fmt.Errorf("%d of %d messages not enqueued: %w", len(errs), len(entries), errors.Join(errs...)))
}

// prepare validates e and builds its batch entry.
func (c *Client) prepare(op string, e Entry) (pending, string, error) {
	if e.Message == nil {
		return pending{}, "", push.Errorf(op, push.Invalid, "nil message")
	}
	m := *e.Message // a shallow copy: the caller's message is not modified
	if m.MessageID == "" {
		m.MessageID = push.NewMessageID()
	}
	id := m.MessageID
	if err := m.Validate(); err != nil {
		return pending{}, id, push.E(op, push.KindOf(err), fmt.Errorf("message %s: %w", id, err))
	}
	body, err := Encode(&m)
	if err != nil {
		return pending{}, id, push.E(op, push.KindOf(err), fmt.Errorf("message %s: %w", id, err))
	}
	entry := types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(body)}
	size := len(body)
	switch {
	case e.Delay < 0 || e.Delay > MaxDelay:
		return pending{}, id, push.Errorf(op, push.Invalid, "message %s: delay %s, want 0 to %s", id, e.Delay, MaxDelay)
	case e.Delay > 0 && c.fifo:
		return pending{}, id, push.Errorf(op, push.Invalid, "message %s: a FIFO queue cannot delay single messages", id)
	case e.Delay > 0:
		entry.DelaySeconds = int32((e.Delay + time.Second - 1) / time.Second)
	}
	if len(e.Attributes) > MaxAttributes {
		return pending{}, id, push.Errorf(op, push.Invalid, "message %s: %d attributes, at most %d", id, len(e.Attributes), MaxAttributes)
	}
	if len(e.Attributes) > 0 {
		entry.MessageAttributes = make(map[string]types.MessageAttributeValue, len(e.Attributes))
		for k, v := range e.Attributes {
			if k == "" || v == "" {
				return pending{}, id, push.Errorf(op, push.Invalid, "message %s: attribute %q: empty name or value", id, k)
			}
			entry.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
			size += len(k) + len("String") + len(v)
		}
	}
	if size > MaxBody {
		return pending{}, id, push.Errorf(op, push.TooLarge, "message %s: %d bytes, at most %d per SQS message", id, size, MaxBody)
	}
	if c.fifo {
		entry.MessageDeduplicationId = aws.String(id)
		entry.MessageGroupId = aws.String(m.AppID)
	} else {
		entry.MessageGroupId = aws.String(GroupID(&m, c.cfg.GroupBy))
	}
	return pending{entry: entry, size: size}, id, nil
}

// Encode returns the queue body of m: its JSON without HTML escaping,
// with U+FFFE and U+FFFF (which SQS refuses) escaped. It does not
// validate m.
func Encode(m *push.Message) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", push.E("enqueue.Encode", push.Invalid, err)
	}
	s := strings.TrimSuffix(b.String(), "\n")
	if strings.ContainsAny(s, "\uFFFE\uFFFF") {
		s = strings.NewReplacer("\uFFFE", `\ufffe`, "\uFFFF", `\uffff`).Replace(s)
	}
	return s, nil
}

// batches groups entries by MaxBatch and MaxBatchBytes, in order.
func batches(ps []pending) [][]pending {
	var out [][]pending
	var cur []pending
	size := 0
	for _, p := range ps {
		if len(cur) == MaxBatch || (len(cur) > 0 && size+p.size > MaxBatchBytes) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, p)
		size += p.size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// sendBatch sends one batch, retrying entries SQS failed on its side, and
// records every entry's result.
func (c *Client) sendBatch(ctx context.Context, op string, batch []pending, results []Result) {
	wait := c.cfg.Backoff
	for attempt := 1; ; attempt++ {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(c.cfg.QueueURL), Entries: make([]types.SendMessageBatchRequestEntry, len(batch))}
		byID := make(map[string]pending, len(batch))
		for i, p := range batch {
			in.Entries[i] = p.entry
			byID[*p.entry.Id] = p
			results[p.idx].Attempts = attempt
		}
		out, err := c.sqs.SendMessageBatch(ctx, in)
		if err != nil {
			kind, why := callError(ctx, err)
			for _, p := range batch {
				results[p.idx].Err = push.E(op, kind, fmt.Errorf("message %s: SendMessageBatch %s: %w", *p.entry.Id, why, err))
			}
			return
		}
		for _, s := range out.Successful {
			if p, ok := byID[aws.ToString(s.Id)]; ok {
				results[p.idx].SQSMessageID = aws.ToString(s.MessageId)
				delete(byID, *p.entry.Id)
			}
		}
		var retry []pending
		last := attempt >= c.cfg.MaxAttempts
		for _, f := range out.Failed {
			p, ok := byID[aws.ToString(f.Id)]
			if !ok {
				continue
			}
			delete(byID, *p.entry.Id)
			code, msg := aws.ToString(f.Code), aws.ToString(f.Message)
			switch {
			case f.SenderFault:
				results[p.idx].Err = push.E(op, push.Invalid, fmt.Errorf("message %s: SQS refused it: %s: %s", *p.entry.Id, code, msg))
			case last:
				results[p.idx].Err = push.E(op, push.Transient, fmt.Errorf("message %s: SQS failed it %d times, last: %s: %s", *p.entry.Id, attempt, code, msg))
			default:
				retry = append(retry, p)
			}
		}
		// An entry the answer does not mention was not enqueued.
		for _, p := range byID {
			if last {
				results[p.idx].Err = push.E(op, push.Transient, fmt.Errorf("message %s: missing from SQS's answer %d times", *p.entry.Id, attempt))
			} else {
				retry = append(retry, p)
			}
		}
		if len(retry) == 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			for _, p := range retry {
				results[p.idx].Err = push.E(op, push.Transient, fmt.Errorf("message %s: not retried: %w", *p.entry.Id, ctx.Err()))
			}
			return
		case <-t.C:
		}
		wait *= 2
		slices.SortFunc(retry, func(a, b pending) int { return cmp.Compare(a.idx, b.idx) })
		batch = retry
	}
}

// callError classifies a failed SendMessageBatch call (after the SDK's
// own retries) by the API error code and HTTP status it carries, read
// through interfaces so as not to import smithy.
func callError(ctx context.Context, err error) (push.Kind, string) {
	if ctx.Err() != nil {
		return push.Transient, "interrupted"
	}
	var api interface{ ErrorCode() string }
	var status interface{ HTTPStatusCode() int }
	code := ""
	if errors.As(err, &api) {
		code = api.ErrorCode()
	}
	st := 0
	if errors.As(err, &status) {
		st = status.HTTPStatusCode()
	}
	switch code {
	case "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist":
		return push.NotFound, "failed: no such queue"
	case "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "SignatureDoesNotMatch",
		"UnrecognizedClientException", "ExpiredToken", "ExpiredTokenException", "InvalidSecurity",
		"MissingAuthenticationToken", "KmsAccessDenied", "KMSAccessDenied":
		return push.Unauthorized, "failed: not allowed"
	}
	switch {
	case st == 0 && code == "", st >= 500, st == 429, strings.Contains(code, "Throttl"), strings.Contains(code, "Unavailable"), strings.Contains(code, "Internal"):
		return push.Transient, "failed"
	case st >= 400:
		return push.Invalid, "refused"
	}
	return push.Transient, "failed"
}
