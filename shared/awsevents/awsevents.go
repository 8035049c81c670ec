// Package awsevents is the alert.Publisher on Amazon EventBridge: it puts
// mobilepush events on the system's own event bus (docs/ARCHITECTURE.md, Events), where a
// rule routes the credential events to the SNS alert topic.
//
// PutEvents answers 200 even when entries fail: the adapter checks
// FailedEntryCount and every entry, and reports each failed event
// separately, so the caller retries only those.
package awsevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"mobilepush/shared/alert"
	"mobilepush/shared/push"
)

// API is the part of the EventBridge client the Publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// MaxBatch is how many entries one PutEvents call takes.
const MaxBatch = 10

// Publisher puts events on one bus.
type Publisher struct {
	client API
	bus    string
	now    func() time.Time
}

var _ alert.Publisher = (*Publisher)(nil)

// New returns a Publisher putting events on bus (a name or ARN) through
// client.
func New(client API, bus string) *Publisher {
	return &Publisher{client: client, bus: bus, now: time.Now}
}

// Publish implements alert.Publisher: PutEvents in batches of MaxBatch,
// source alert.Source, detail-type the event's Type, detail its Detail
// as JSON. A failed entry is Transient for EventBridge's throttling and
// internal failures, Internal otherwise; a failed call fails its batch.
func (p *Publisher) Publish(ctx context.Context, events []alert.Event) []error {
	const op = "awsevents.Publish"
	out := make([]error, len(events))
	for start := 0; start < len(events); start += MaxBatch {
		batch := events[start:min(start+MaxBatch, len(events))]
		entries := make([]types.PutEventsRequestEntry, len(batch))
		for i, e := range batch {
			detail, err := json.Marshal(e.Detail)
			if err != nil {
				out[start+i] = push.E(op, push.Internal, fmt.Errorf("encode detail: %w", err))
				continue
			}
			at := e.Time
			if at.IsZero() {
				at = p.now()
			}
			entries[i] = types.PutEventsRequestEntry{
				EventBusName: aws.String(p.bus), Source: aws.String(alert.Source),
				DetailType: aws.String(string(e.Type)), Detail: aws.String(string(detail)), Time: aws.Time(at),
			}
		}
		p.put(ctx, op, entries, out[start:start+len(batch)])
	}
	return out
}

// put sends one batch and fills errs (same length) with its failures;
// entries whose errs slot is already set are not sent.
func (p *Publisher) put(ctx context.Context, op string, entries []types.PutEventsRequestEntry, errs []error) {
	var send []types.PutEventsRequestEntry
	var index []int
	for i, e := range entries {
		if errs[i] == nil {
			send = append(send, e)
			index = append(index, i)
		}
	}
	if len(send) == 0 {
		return
	}
	res, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: send})
	if err == nil && len(res.Entries) != len(send) {
		err = push.E(op, push.Internal, fmt.Errorf("PutEvents answered %d entries for %d", len(res.Entries), len(send)))
	}
	if err != nil {
		kind := push.Transient // the SDK already retried what it could
		if pe := (*push.Error)(nil); errors.As(err, &pe) {
			kind = push.Other // ours: keep its kind
		}
		for _, i := range index {
			errs[i] = push.E(op, kind, fmt.Errorf("put events on %s: %w", p.bus, err))
		}
		return
	}
	if res.FailedEntryCount == 0 {
		return
	}
	for j, r := range res.Entries {
		if r.ErrorCode == nil && r.EventId != nil {
			continue
		}
		code, msg := aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage)
		errs[index[j]] = push.E(op, entryKind(code), fmt.Errorf("event %s rejected by %s: %s: %s: %w", aws.ToString(send[j].DetailType), p.bus, code, msg, ErrEntryFailed))
	}
}

// ErrEntryFailed is wrapped by the error of an event PutEvents refused
// (a failed entry of an answer that was otherwise a success).
var ErrEntryFailed = errors.New("event entry failed")

// entryKind classifies a failed entry's error code.
func entryKind(code string) push.Kind {
	switch code {
	case "InternalFailure", "InternalException", "ThrottlingException":
		return push.Transient
	}
	return push.Internal
}
