// Command send sends the pushes application servers put on the SQS send
// queue (docs/ARCHITECTURE.md, Send path): one SQS batch per invocation with a partial batch
// response (ReportBatchItemFailures), retries re-enqueued on the send
// queue with back-off, the rest dead-lettered with their reason.
//
// Configuration: shared/awsstack's variables (TABLE_NAME, EVENT_BUS_NAME
// for the Device Tokens Invalid and Push Credential Invalid events, ...) plus
// SEND_QUEUE_URL, DEAD_LETTER_QUEUE_URL, LEASE_SECONDS (the queue's
// visibility timeout) and SEND_GROUP_BY (the MessageGroupId of retries
// and dead letters on a standard queue, which makes it an SQS fair
// queue: "tenant", the default, or "app"; enqueue.GroupBy). Built as a provided.al2023 bootstrap by
// make build-SendFunction.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"mobilepush/shared/awssqs"
	"mobilepush/shared/awsstack"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/enqueue"
	"mobilepush/shared/envconfig"
)

func main() { awsstack.Main(os.Stderr, os.Getenv, run) }

// run builds the clients once, at init, and serves SQS batches.
func run(ctx context.Context, getenv func(string) string, log *slog.Logger) error {
	env := envconfig.New(getenv)
	sendURL := env.Required("SEND_QUEUE_URL")
	deadURL := env.Required("DEAD_LETTER_QUEUE_URL")
	lease := time.Duration(env.Int("LEASE_SECONDS", 180, 10, 43200)) * time.Second
	groupBy := env.Optional("SEND_GROUP_BY", string(enqueue.GroupByTenant))
	if err := env.Err(); err != nil {
		return err
	}
	by, err := enqueue.ParseGroupBy(groupBy)
	if err != nil {
		return fmt.Errorf("SEND_GROUP_BY: %w", err)
	}
	stack, err := awsstack.Load(ctx, getenv, log)
	if err != nil {
		return err
	}
	api := sqs.NewFromConfig(stack.AWS)
	retry, err := enqueue.New(api, enqueue.Config{QueueURL: sendURL, GroupBy: by})
	if err != nil {
		return err
	}
	dead, err := enqueue.New(api, enqueue.Config{QueueURL: deadURL, GroupBy: by})
	if err != nil {
		return err
	}
	var notifier dispatch.Notifier
	if stack.Events != nil {
		notifier = dispatch.AlertNotifier(stack.Events)
	}
	sender := dispatch.New(dispatch.Config{
		Notifier:  notifier,
		Apps:      credential.NewCache(stack.Credentials, credential.CacheConfig{}),
		Ledger:    stack.Credentials,
		Suspender: stack.Credentials,
		Clients:   stack.Clients,
		Owner:     owner(getenv),
		LeaseFor:  lease,
		Logger:    log,
	})
	h := &awssqs.Handler{Sender: sender, Retry: retry, Dead: dead, Log: log, Metrics: os.Stdout}
	awsstack.Start(ctx, h.Handle)
	return nil
}

// owner names this execution environment in message leases.
func owner(getenv func(string) string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return getenv("AWS_LAMBDA_LOG_STREAM_NAME") + "/" + hex.EncodeToString(b[:])
}
