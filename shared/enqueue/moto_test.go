package enqueue_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"mobilepush/shared/enqueue"
	"mobilepush/shared/push"
)

// motoSQS returns an SQS client for the moto_server at AWS_ENDPOINT_URL
// and a counter of the SendMessageBatch calls it makes (an SDK
// middleware). Without AWS_ENDPOINT_URL the test is skipped, or fails
// when CI=true.
func motoSQS(t *testing.T) (*sqs.Client, *atomic.Int64) {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		const how = "AWS_ENDPOINT_URL is not set: start `moto_server -H 127.0.0.1 -p 5188` and export AWS_ENDPOINT_URL=http://127.0.0.1:5188 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x"
		if os.Getenv("CI") == "true" {
			t.Fatal(how)
		}
		t.Skip("SKIPPED, NOT RUN against SQS: " + how)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	calls := new(atomic.Int64)
	count := middleware.InitializeMiddlewareFunc("countSendMessageBatch", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if _, ok := in.Parameters.(*sqs.SendMessageBatchInput); ok {
			calls.Add(1)
		}
		return next.HandleInitialize(ctx, in)
	})
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error { return st.Initialize.Add(count, middleware.Before) })
	})
	return client, calls
}

// createQueue makes a queue with a name unique to the test run.
func createQueue(t *testing.T, api *sqs.Client, fifo bool) string {
	t.Helper()
	name := fmt.Sprintf("enqueue-%s-%d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), time.Now().UnixNano())
	if len(name) > 70 {
		name = name[len(name)-70:]
	}
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if fifo {
		in.QueueName = aws.String(name + ".fifo")
		in.Attributes = map[string]string{"FifoQueue": "true"}
	}
	out, err := api.CreateQueue(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	t.Cleanup(func() { _, _ = api.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	return aws.ToString(out.QueueUrl)
}

type receivedMessage struct {
	sqsID      string
	body       string
	attributes map[string]string
	// groupID is the MessageGroupId system attribute SQS returned.
	groupID string
}

// receiveAll receives until want messages arrived or wait passed,
// deleting them.
func receiveAll(t *testing.T, api *sqs.Client, queueURL string, want int, wait time.Duration) map[string]receivedMessage {
	t.Helper()
	got := map[string]receivedMessage{}
	deadline := time.Now().Add(wait)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		for _, m := range out.Messages {
			attrs := map[string]string{}
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
			}
			got[aws.ToString(m.MessageId)] = receivedMessage{
				sqsID: aws.ToString(m.MessageId), body: aws.ToString(m.Body), attributes: attrs,
				groupID: m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)],
			}
			if _, err := api.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
	return got
}

func TestMotoSendReceive(t *testing.T) {
	t.Parallel()
	api, calls := motoSQS(t)
	queue := createQueue(t, api, false)
	c, err := enqueue.New(api, enqueue.Config{QueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}

	var entries []enqueue.Entry
	for i := range 22 {
		m := enqueue.NewMessage("acme", "app1")
		m.Tokens.APNs = []string{apnsTok}
		m.Tokens.FCM = []string{fmt.Sprintf("fcm-%d", i)}
		m.Notification = push.Notification{Title: "Hi <b>&", Body: fmt.Sprint(i), Badge: new(0)}
		m.TTLSeconds = new(0)
		m.Link = "app://x/" + fmt.Sprint(i)
		entries = append(entries, enqueue.Entry{Message: m, Attributes: map[string]string{"attempt": "1"}})
	}
	over := enqueue.NewMessage("acme", "app1")
	over.Tokens.FCM = []string{"t"}
	over.Data = map[string]string{"blob": strings.Repeat("x", push.MaxFCMPayload)}
	entries = append(entries, enqueue.Entry{Message: over})

	res, err := c.SendEntries(context.Background(), entries)
	if push.KindOf(err) != push.TooLarge || push.KindOf(res[22].Err) != push.TooLarge {
		t.Fatalf("error %v, last result %+v; want the over-limit message refused", err, res[22])
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d SendMessageBatch calls, want 3 (10 + 10 + 2)", n)
	}

	got := receiveAll(t, api, queue, 22, 10*time.Second)
	if len(got) != 22 {
		t.Fatalf("received %d messages, want 22", len(got))
	}
	for i, r := range res[:22] {
		if r.Err != nil {
			t.Fatalf("result %d: %v", i, r.Err)
		}
		rec, ok := got[r.SQSMessageID]
		if !ok {
			t.Fatalf("message %s (SQS %s) not received", r.MessageID, r.SQSMessageID)
		}
		m, err := push.DecodeMessage([]byte(rec.body))
		if err != nil {
			t.Fatalf("received body: %v", err)
		}
		want := *entries[i].Message
		want.MessageID = r.MessageID
		if !reflect.DeepEqual(*m, want) {
			t.Errorf("received %+v\nwant %+v", *m, want)
		}
		if rec.attributes["attempt"] != "1" {
			t.Errorf("attributes %v", rec.attributes)
		}
		if rec.groupID != "acme" {
			t.Errorf("message %s: MessageGroupId %q, want the tenant %q (a fair queue)", r.MessageID, rec.groupID, "acme")
		}
	}
}

// TestMotoFairQueueGroups sends the messages of two tenants and two
// apps to a standard queue and reads back the MessageGroupId SQS keeps
// on each: the tenant by default, tenant/app with GroupByApp.
func TestMotoFairQueueGroups(t *testing.T) {
	t.Parallel()
	api, _ := motoSQS(t)
	for _, tt := range []struct {
		by   enqueue.GroupBy
		want map[string]string // app id -> group id
	}{
		{enqueue.GroupByTenant, map[string]string{"a1": "tenant-a", "a2": "tenant-a", "b1": "tenant-b"}},
		{enqueue.GroupByApp, map[string]string{"a1": "tenant-a/a1", "a2": "tenant-a/a2", "b1": "tenant-b/b1"}},
	} {
		t.Run(string(tt.by), func(t *testing.T) {
			t.Parallel()
			queue := createQueue(t, api, false)
			c, err := enqueue.New(api, enqueue.Config{QueueURL: queue, GroupBy: tt.by})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []*push.Message
			for _, ref := range [][2]string{{"tenant-a", "a1"}, {"tenant-a", "a2"}, {"tenant-b", "b1"}} {
				m := enqueue.NewMessage(ref[0], ref[1])
				m.Tokens.APNs = []string{apnsTok}
				m.Notification.Title = "x"
				msgs = append(msgs, m)
			}
			if _, err := c.Send(context.Background(), msgs...); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, rec := range receiveAll(t, api, queue, len(msgs), 10*time.Second) {
				m, err := push.DecodeMessage([]byte(rec.body))
				if err != nil {
					t.Fatal(err)
				}
				got[m.AppID] = rec.groupID
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("group ids by app %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMotoRefusedMessageMakesNoCall(t *testing.T) {
	t.Parallel()
	api, calls := motoSQS(t)
	queue := createQueue(t, api, false)
	c, err := enqueue.New(api, enqueue.Config{QueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}
	m := enqueue.NewMessage("acme", "app1")
	for i := range push.MaxTokens + 1 {
		m.Tokens.FCM = append(m.Tokens.FCM, fmt.Sprintf("t%d", i))
	}
	m.Notification.Title = "x"
	res, err := c.Send(context.Background(), m)
	if push.KindOf(err) != push.TooLarge || !strings.Contains(res[0].Err.Error(), "at most 1000 per message") {
		t.Errorf("Send = %v", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d SendMessageBatch calls, want none", n)
	}
}

func TestMotoFIFODeduplicatesByMessageID(t *testing.T) {
	t.Parallel()
	api, _ := motoSQS(t)
	queue := createQueue(t, api, true)
	c, err := enqueue.New(api, enqueue.Config{QueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}
	m := enqueue.NewMessage("acme", "app1")
	m.MessageID = "order-4711"
	m.Tokens.APNs = []string{apnsTok}
	m.Notification.Title = "once"
	for range 2 {
		if _, err := c.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := receiveAll(t, api, queue, 1, 10*time.Second)
	for id, m := range receiveAll(t, api, queue, 1, 2*time.Second) {
		got[id] = m
	}
	if len(got) != 1 {
		t.Errorf("received %d copies, want 1", len(got))
	}
}

func TestMotoNoSuchQueue(t *testing.T) {
	t.Parallel()
	api, _ := motoSQS(t)
	queue := createQueue(t, api, false)
	c, err := enqueue.New(api, enqueue.Config{QueueURL: queue + "-missing"})
	if err != nil {
		t.Fatal(err)
	}
	m := enqueue.NewMessage("acme", "app1")
	m.Tokens.APNs = []string{apnsTok}
	m.Notification.Title = "x"
	res, err := c.Send(context.Background(), m)
	if push.KindOf(err) != push.NotFound || push.KindOf(res[0].Err) != push.NotFound {
		t.Errorf("Send to a missing queue: %v", err)
	}
}
