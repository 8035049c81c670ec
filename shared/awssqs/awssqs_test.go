package awssqs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/awssqs"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/dispatch/dispatchtest"
	"mobilepush/shared/enqueue"
	"mobilepush/shared/push"
)

// queues are a send queue and its DLQ in moto.
type queues struct {
	api        *sqs.Client
	send, dead string
}

func newQueues(t *testing.T) queues {
	t.Helper()
	api := sqs.NewFromConfig(dynamotest.AWSConfig(t))
	q := queues{api: api}
	for _, name := range []string{"send", "dlq"} {
		out, err := api.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(dynamotest.UniqueName("mp-" + name + "-"))})
		if err != nil {
			t.Fatal(err)
		}
		if name == "send" {
			q.send = *out.QueueUrl
		} else {
			q.dead = *out.QueueUrl
		}
	}
	return q
}

func (q queues) client(t *testing.T, url string) *enqueue.Client {
	t.Helper()
	c, err := enqueue.New(q.api, enqueue.Config{QueueURL: url})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// receive reads up to 10 messages of url as the Lambda event source
// would deliver them.
func (q queues) receive(t *testing.T, url string) []events.SQSMessage {
	t.Helper()
	out, err := q.api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	var recs []events.SQSMessage
	for _, m := range out.Messages {
		r := events.SQSMessage{MessageId: *m.MessageId, ReceiptHandle: *m.ReceiptHandle, Body: *m.Body, Attributes: m.Attributes, MessageAttributes: map[string]events.SQSMessageAttribute{}}
		for k, v := range m.MessageAttributes {
			r.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: *v.DataType}
		}
		recs = append(recs, r)
	}
	return recs
}

func TestHandleBatchWithFollowUps(t *testing.T) {
	q := newQueues(t)
	r := dispatchtest.NewRig(t)
	var metrics bytes.Buffer
	h := &awssqs.Handler{Sender: r.Sender, Retry: q.client(t, q.send), Dead: q.client(t, q.dead), Metrics: &metrics}
	ctx := context.Background()

	ok := dispatchtest.HexToken(1)
	busy := dispatchtest.HexToken(2)
	r.Apple.Script(busy, apnstest.Response{Status: 429, Reason: "TooManyRequests"})
	m1 := dispatchtest.Message("batch-1", []string{ok, busy}, []string{"fcm-1"})
	disabledApp := dispatchtest.Message("batch-2", []string{dispatchtest.HexToken(3)}, nil)
	disabledApp.AppID = "no-such-app"
	if _, err := q.client(t, q.send).Send(ctx, m1, disabledApp); err != nil {
		t.Fatal(err)
	}
	recs := q.receive(t, q.send)
	recs = append(recs, events.SQSMessage{MessageId: "poison", Body: `{"version":2}`})
	resp, err := h.Handle(ctx, events.SQSEvent{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "poison" {
		t.Fatalf("failures = %+v, want only the poison record", resp.BatchItemFailures)
	}

	retries := q.receive(t, q.send) // the retry is delayed by at least 2 s: nothing yet
	if len(retries) != 0 {
		t.Errorf("a retry was visible before its back-off: %d", len(retries))
	}
	dead := q.receive(t, q.dead)
	if len(dead) != 1 || *dead[0].MessageAttributes[dispatch.AttrReason].StringValue != "app_not_found" {
		t.Fatalf("dead letters = %+v", dead)
	}
	var body push.Message
	if err := json.Unmarshal([]byte(dead[0].Body), &body); err != nil || body.Validate() != nil || body.MessageID != "batch-2" {
		t.Errorf("the dead letter is not the valid v1 message: %v %v", err, body.Validate())
	}
	line := metrics.String()
	for _, want := range []string{`"Namespace":"mobilepush"`, `"Delivered":2`, `"Retried":1`, `"Failed":1`} {
		if !strings.Contains(line, want) {
			t.Errorf("metrics line lacks %s: %s", want, line)
		}
	}
	// Redelivering the completed records sends nothing again.
	before := r.Apple.Total()
	if resp, err := h.Handle(ctx, events.SQSEvent{Records: recs[:2]}); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("redelivery = %+v %v", resp, err)
	}
	if r.Apple.Total() != before {
		t.Error("a redelivered completed message reached Apple again")
	}
}

// failing is an Enqueuer that cannot enqueue.
type failing struct{}

func (failing) SendEntries(context.Context, []enqueue.Entry) ([]enqueue.Result, error) {
	return nil, push.E("test", push.Transient, errors.New("queue unavailable"))
}

// TestFollowUpFailureRedelivers: when the retry cannot be enqueued the
// record is reported for redelivery, and the redelivery (another worker,
// after the lease) re-enqueues the follow-up without sending again.
func TestFollowUpFailureRedelivers(t *testing.T) {
	q := newQueues(t)
	r := dispatchtest.NewRig(t)
	tok := dispatchtest.HexToken(7)
	r.Apple.Script(tok, apnstest.Response{Status: 503, Reason: "ServiceUnavailable"})
	m := dispatchtest.Message("fu-1", []string{tok}, nil)
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	rec := events.SQSMessage{MessageId: "r1", Body: string(body)}
	h := &awssqs.Handler{Sender: r.Sender, Retry: failing{}, Dead: q.client(t, q.dead)}
	resp, _ := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures = %+v, want the record back", resp.BatchItemFailures)
	}
	if got := r.Apple.Counts().ByToken[tok]; got != 1 {
		t.Fatalf("Apple saw the token %d times", got)
	}
	// The same worker retries the record (its lease is its own).
	h.Retry = q.client(t, q.send)
	resp, _ = h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("second try failures = %+v", resp.BatchItemFailures)
	}
	if got := r.Apple.Counts().ByToken[tok]; got != 1 {
		t.Errorf("the resumed record sent again: Apple saw the token %d times", got)
	}
}

// recorder is an Enqueuer that keeps what it would enqueue.
type recorder struct{ entries []enqueue.Entry }

func (r *recorder) SendEntries(_ context.Context, es []enqueue.Entry) ([]enqueue.Result, error) {
	r.entries = append(r.entries, es...)
	return make([]enqueue.Result, len(es)), nil
}

// TestCredentialFaultIsolatedToItsApp: in one batch, an app whose
// certificate Apple revoked is suspended and dead-lettered, while another
// app's message is delivered in full.
func TestCredentialFaultIsolatedToItsApp(t *testing.T) {
	r := dispatchtest.NewRig(t)
	_, revoked := r.AddApp(t, "revoked")
	r.Apple.Revoke(revoked.Cert)
	good := dispatchtest.Message("good-1", []string{dispatchtest.HexToken(80), dispatchtest.HexToken(81)}, []string{"f-1"})
	bad := dispatchtest.Message("bad-1", []string{dispatchtest.HexToken(82)}, nil)
	bad.AppID = "revoked"
	var recs []events.SQSMessage
	for i, m := range []*push.Message{bad, good} {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, events.SQSMessage{MessageId: fmt.Sprint("r", i), Body: string(b)})
	}
	dead := &recorder{}
	h := &awssqs.Handler{Sender: r.Sender, Retry: &recorder{}, Dead: dead}
	resp, err := h.Handle(context.Background(), events.SQSEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batch = %+v %v", resp, err)
	}
	c := r.Apple.Counts()
	if c.ByToken[dispatchtest.HexToken(80)] != 1 || c.ByToken[dispatchtest.HexToken(81)] != 1 || r.Google.Requests("f-1") != 1 {
		t.Errorf("the good app was not delivered in full: %v", c.ByToken)
	}
	if len(dead.entries) != 1 || dead.entries[0].Message.AppID != "revoked" || dead.entries[0].Attributes[dispatch.AttrReason] == "" {
		t.Errorf("dead letters = %+v", dead.entries)
	}
	app, err := r.Store.Get(context.Background(), "acme", "revoked")
	if err != nil || app.APNs.Status.State != "suspended" {
		t.Errorf("revoked app status = %+v %v", app.APNs.Status, err)
	}
	if good, _ := r.Store.Get(context.Background(), "acme", "shop"); good.APNs.Status.State != "ok" {
		t.Errorf("the good app's status = %+v", good.APNs.Status)
	}
}

// TestFollowUpsCarryTheTenantGroup: on a standard queue every message
// carries MessageGroupId = the tenant (an SQS fair queue): the one the
// application server enqueued, the retry the handler re-enqueues and the
// dead letter; moto keeps the group id and returns it.
func TestFollowUpsCarryTheTenantGroup(t *testing.T) {
	q := newQueues(t)
	r := dispatchtest.NewRig(t)
	h := &awssqs.Handler{Sender: r.Sender, Retry: q.client(t, q.send), Dead: q.client(t, q.dead)}
	ctx := context.Background()

	busy := dispatchtest.HexToken(7)
	r.Apple.Script(busy, apnstest.Response{Status: 429, Reason: "TooManyRequests"})
	retried := dispatchtest.Message("group-1", []string{busy}, nil)
	dead := dispatchtest.Message("group-2", []string{dispatchtest.HexToken(8)}, nil)
	dead.AppID = "no-such-app"
	if _, err := q.client(t, q.send).Send(ctx, retried, dead); err != nil {
		t.Fatal(err)
	}
	group := func(rec events.SQSMessage) string {
		return rec.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
	}
	var recs []events.SQSMessage
	for deadline := time.Now().Add(5 * time.Second); len(recs) < 2 && time.Now().Before(deadline); {
		recs = append(recs, q.receive(t, q.send)...)
	}
	if len(recs) != 2 {
		t.Fatalf("received %d enqueued messages, want 2", len(recs))
	}
	for _, rec := range recs {
		if g := group(rec); g != "acme" {
			t.Errorf("enqueued message: MessageGroupId %q, want the tenant %q", g, "acme")
		}
	}
	if resp, err := h.Handle(ctx, events.SQSEvent{Records: recs}); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle = %+v, %v", resp, err)
	}
	dl := q.receive(t, q.dead)
	if len(dl) != 1 || group(dl[0]) != "acme" {
		t.Errorf("dead letters %d, group %q; want 1 in the tenant's group", len(dl), groupOf(dl, group))
	}
	var retries []events.SQSMessage // visible after the back-off (2 s)
	for deadline := time.Now().Add(8 * time.Second); len(retries) == 0 && time.Now().Before(deadline); {
		retries = q.receive(t, q.send)
	}
	if len(retries) != 1 || group(retries[0]) != "acme" || *retries[0].MessageAttributes[dispatch.AttrAttempt].StringValue != "1" {
		t.Errorf("retries %d, group %q; want attempt 1 in the tenant's group", len(retries), groupOf(retries, group))
	}
}

func groupOf(recs []events.SQSMessage, group func(events.SQSMessage) string) string {
	if len(recs) == 0 {
		return ""
	}
	return group(recs[0])
}
