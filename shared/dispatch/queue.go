package dispatch

import (
	"errors"
	"maps"
	"strconv"
	"time"

	"mobilepush/shared/push"
)

// The queue contract (docs/ARCHITECTURE.md, Delivery): what a queue
// message carries besides its body, how a received one becomes a
// Delivery and what is enqueued after a Send. The transports (awssqs on
// SQS, localsend on the embedded queue) map it to their own messages and
// declare none of it themselves.

// Message attributes of the queue contract: string attributes, under the
// same names on SQS and on the embedded queue.
const (
	AttrAttempt    = "attempt"     // the retry count: 0 for the message the application server sent
	AttrEnqueuedAt = "enqueued_at" // unix milliseconds of attempt 0
	AttrReason     = "reason"      // why a message is in the dead-letter queue
)

// ReasonInvalidMessage is the dead-letter reason of a queue message whose
// body is not a valid v1 message (the local worker dead-letters it at
// once; SQS's redrive policy does after its receives).
const ReasonInvalidMessage = "invalid_message"

// Attributes are the contract's message attributes of one queue message.
type Attributes struct {
	// Attempt counts re-enqueues (see Delivery.Attempt).
	Attempt int
	// EnqueuedAt is when attempt 0 was enqueued; zero when unknown.
	EnqueuedAt time.Time
	// Reason is why a dead letter is in the dead-letter queue; "" on
	// the send queue.
	Reason string
}

// Encode returns a's message attributes: attempt always, enqueued_at
// (unix milliseconds) when known, reason when set.
func (a Attributes) Encode() map[string]string {
	m := map[string]string{AttrAttempt: strconv.Itoa(a.Attempt)}
	if !a.EnqueuedAt.IsZero() {
		m[AttrEnqueuedAt] = strconv.FormatInt(a.EnqueuedAt.UnixMilli(), 10)
	}
	if a.Reason != "" {
		m[AttrReason] = a.Reason
	}
	return m
}

// DecodeAttributes reads the contract's attributes from a queue
// message's attributes; others are ignored. A missing attempt is 0; a
// missing or malformed enqueued_at is zero (unknown).
// Errors: Invalid (an attempt that is not a count).
func DecodeAttributes(m map[string]string) (Attributes, error) {
	var a Attributes
	if v, ok := m[AttrAttempt]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Attributes{}, push.E("dispatch.DecodeAttributes", push.Invalid, errors.New("attempt attribute is not a count"))
		}
		a.Attempt = n
	}
	if v, ok := m[AttrEnqueuedAt]; ok {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			a.EnqueuedAt = time.UnixMilli(ms)
		}
	}
	a.Reason = m[AttrReason]
	return a, nil
}

// DecodeDelivery turns a received queue message into a Delivery: body
// is a queue message v1, attrs its string message attributes, sentAt
// when the queue accepted this message (SQS SentTimestamp; zero when
// unknown). EnqueuedAt is the enqueued_at attribute, else sentAt, else
// now, so the follow-ups always carry it.
// Errors: Invalid (the body, or the attempt attribute), TooLarge.
func DecodeDelivery(body []byte, attrs map[string]string, sentAt, now time.Time) (Delivery, error) {
	m, err := push.DecodeMessage(body)
	if err != nil {
		return Delivery{}, err
	}
	a, err := DecodeAttributes(attrs)
	if err != nil {
		return Delivery{}, err
	}
	d := Delivery{Message: m, Attempt: a.Attempt, EnqueuedAt: a.EnqueuedAt}
	if d.EnqueuedAt.IsZero() {
		d.EnqueuedAt = sentAt
	}
	if d.EnqueuedAt.IsZero() {
		d.EnqueuedAt = now
	}
	return d, nil
}

// FirstAttributes are the attributes of a message the application server
// sent, enqueued at at.
func FirstAttributes(at time.Time) map[string]string {
	return Attributes{EnqueuedAt: at}.Encode()
}

// DeadAttributes are attrs (a received message's attributes, kept as
// they are) with reason set: the attributes of a message dead-lettered
// whole, e.g. one that does not decode.
func DeadAttributes(attrs map[string]string, reason string) map[string]string {
	out := make(map[string]string, len(attrs)+1)
	maps.Copy(out, attrs)
	out[AttrReason] = reason
	return out
}

// FollowUp is one message to enqueue after a Send, before the received
// message is acknowledged: the retry on the send queue, or a dead letter
// on its dead-letter queue.
type FollowUp struct {
	Message *push.Message
	// Delay is the retry's back-off; 0 for a dead letter. A transport
	// with a longest delay clamps it.
	Delay time.Duration
	// Reason is the dead letter's reason; "" for the retry.
	Reason string
	// Attributes are the message attributes to send with it.
	Attributes map[string]string
}

// FollowUps returns what must be enqueued for delivery d after Send
// answered res: the retry (nil when no token is retried) with its
// attempt, and one dead letter per reason with the attempt that failed;
// all carry d's EnqueuedAt. An AlreadyDone result has none.
func FollowUps(d Delivery, res Result) (retry *FollowUp, dead []FollowUp) {
	if res.AlreadyDone {
		return nil, nil
	}
	if r := res.Retry; r != nil {
		retry = &FollowUp{Message: r.Message, Delay: r.Delay,
			Attributes: Attributes{Attempt: r.Attempt, EnqueuedAt: d.EnqueuedAt}.Encode()}
	}
	for _, dl := range res.Dead {
		dead = append(dead, FollowUp{Message: dl.Message, Reason: dl.Reason,
			Attributes: Attributes{Attempt: dl.Attempt, EnqueuedAt: d.EnqueuedAt, Reason: dl.Reason}.Encode()})
	}
	return retry, dead
}
