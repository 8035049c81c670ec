// Package awssqs runs the send use case (shared/dispatch) on SQS: it
// handles a batch of queue messages from the Lambda SQS event source with
// a partial batch response, re-enqueues the tokens to retry (with their
// attempt and back-off) and dead-letters the others, and writes one
// CloudWatch embedded-metric-format line per batch.
package awssqs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"mobilepush/shared/dispatch"
	"mobilepush/shared/enqueue"
	"mobilepush/shared/push"
)

// Sender is the send use case; *dispatch.Sender implements it.
type Sender interface {
	Send(ctx context.Context, d dispatch.Delivery) (dispatch.Result, error)
	Complete(ctx context.Context, d dispatch.Delivery) error
}

// Enqueuer puts follow-up messages on a queue; *enqueue.Client implements it.
type Enqueuer interface {
	SendEntries(ctx context.Context, entries []enqueue.Entry) ([]enqueue.Result, error)
}

// Handler handles SQS batches. Sender, Retry (the send queue) and Dead
// (its dead-letter queue) are required.
type Handler struct {
	Sender Sender
	Retry  Enqueuer
	Dead   Enqueuer
	// Concurrency bounds the records handled at once; 0 means 10.
	Concurrency int
	Log         *slog.Logger
	// Metrics receives the embedded-metric-format lines (stdout in Lambda);
	// nil drops them.
	Metrics io.Writer
	Now     func() time.Time
}

// Handle sends every record and reports the ones to redeliver: a record
// whose message is being sent by another worker, whose follow-up could not
// be enqueued, or whose ledger was unavailable. A record never fails the
// whole batch. A body that is not a valid v1 message is reported too, so
// the queue's redrive policy moves it to the dead-letter queue.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	start := h.now()
	limit := h.Concurrency
	if limit <= 0 {
		limit = 10
	}
	var (
		mu     sync.Mutex
		resp   events.SQSEventResponse
		counts = map[push.Outcome]int{}
		wg     sync.WaitGroup
		sem    = make(chan struct{}, limit)
	)
	for _, rec := range ev.Records {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := h.record(ctx, rec)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				h.log().Warn("record_failed", "sqs_message_id", rec.MessageId, "err", err)
				return
			}
			for k, v := range res.Counts {
				counts[k] += v
			}
		})
	}
	wg.Wait()
	h.metrics(len(ev.Records), len(resp.BatchItemFailures), counts, h.now().Sub(start))
	return resp, nil
}

func (h *Handler) record(ctx context.Context, rec events.SQSMessage) (dispatch.Result, error) {
	attrs := make(map[string]string, len(rec.MessageAttributes))
	for k, v := range rec.MessageAttributes {
		if v.StringValue != nil {
			attrs[k] = *v.StringValue
		}
	}
	var sentAt time.Time
	if ms, err := strconv.ParseInt(rec.Attributes["SentTimestamp"], 10, 64); err == nil {
		sentAt = time.UnixMilli(ms)
	}
	d, err := dispatch.DecodeDelivery([]byte(rec.Body), attrs, sentAt, h.now())
	if err != nil {
		return dispatch.Result{}, fmt.Errorf("decode message: %w", err)
	}
	res, err := h.Sender.Send(ctx, d)
	if err != nil {
		return res, err
	}
	if !res.AlreadyDone {
		if err := h.followUp(ctx, d, res); err != nil {
			return res, err
		}
		if err := h.Sender.Complete(ctx, d); err != nil {
			return res, fmt.Errorf("complete message %s: %w", d.Message.MessageID, err)
		}
	}
	return res, nil
}

// followUp enqueues the retry and dead-letter messages of one delivery:
// the retry's delay in whole seconds, at most SQS's longest.
func (h *Handler) followUp(ctx context.Context, d dispatch.Delivery, res dispatch.Result) error {
	retry, dead := dispatch.FollowUps(d, res)
	if retry != nil {
		delay := min(retry.Delay.Round(time.Second), enqueue.MaxDelay)
		_, err := h.Retry.SendEntries(ctx, []enqueue.Entry{{Message: retry.Message, Delay: delay, Attributes: retry.Attributes}})
		if err != nil {
			return fmt.Errorf("re-enqueue %d tokens of message %s: %w", retry.Message.Tokens.Len(), retry.Message.MessageID, err)
		}
	}
	if len(dead) == 0 {
		return nil
	}
	entries := make([]enqueue.Entry, len(dead))
	for i, dl := range dead {
		entries[i] = enqueue.Entry{Message: dl.Message, Attributes: dl.Attributes}
	}
	if _, err := h.Dead.SendEntries(ctx, entries); err != nil {
		return fmt.Errorf("dead-letter message %s: %w", d.Message.MessageID, err)
	}
	return nil
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}

// metrics writes one embedded-metric-format line: CloudWatch turns it into
// metrics without an API call.
func (h *Handler) metrics(records, failed int, c map[push.Outcome]int, took time.Duration) {
	if h.Metrics == nil {
		return
	}
	sent := 0
	for _, v := range c {
		sent += v
	}
	names := []string{"Sent", "Delivered", "Invalid", "Retried", "Failed", "RecordsFailed", "LatencyMs"}
	defs := make([]map[string]string, len(names))
	for i, n := range names {
		unit := "Count"
		if n == "LatencyMs" {
			unit = "Milliseconds"
		}
		defs[i] = map[string]string{"Name": n, "Unit": unit}
	}
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp":         h.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{"Namespace": "mobilepush", "Dimensions": [][]string{{}}, "Metrics": defs}},
		},
		"Sent":          sent,
		"Delivered":     c[push.Delivered],
		"Invalid":       c[push.InvalidToken],
		"Retried":       c[push.Retry],
		"Failed":        c[push.CredentialFault] + c[push.Rejected],
		"RecordsFailed": failed,
		"LatencyMs":     took.Milliseconds(),
		"records":       records,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	_, _ = h.Metrics.Write(append(b, '\n'))
}
