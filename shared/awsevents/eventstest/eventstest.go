// Package eventstest helps tests check the events mobilepush publishes on
// EventBridge in an emulator (moto_server): a bus whose rule has the alert
// rule's pattern and an SQS target (moto answers PutEvents with HTTP 500
// when a matching rule targets SNS), and a reader of that queue.
package eventstest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"mobilepush/shared/alert"
	"mobilepush/shared/awsdynamo/dynamotest"
)

// Tap makes a bus with a unique name and a rule with the alert rule's
// pattern targeting a new SQS queue; it removes them when the test ends.
func Tap(t testing.TB, eb *eventbridge.Client, q *sqs.Client) (bus, queueURL string) {
	t.Helper()
	ctx := context.Background()
	bus = dynamotest.UniqueName("mobilepush-test-bus-")
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(dynamotest.UniqueName("mobilepush-test-tap-"))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	queueURL = aws.ToString(qo.QueueUrl)
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qo.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("queue arn: %v", err)
	}
	var types []string
	for _, ty := range alert.CredentialTypes() {
		types = append(types, string(ty))
	}
	pattern, _ := json.Marshal(map[string]any{"source": []string{alert.Source}, "detail-type": types})
	rule := "credential-alerts"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("tap"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	t.Cleanup(func() {
		_, _ = eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus), Ids: []string{"tap"}})
		_, _ = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus)})
		_, _ = eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
		_, _ = q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)})
	})
	return bus, queueURL
}

// Received is an event as the tap queue holds it.
type Received struct {
	DetailType string       `json:"detail-type"`
	Source     string       `json:"source"`
	Detail     alert.Detail `json:"detail"`
}

// Receive reads want events from the queue, waiting at most wait.
func Receive(t testing.TB, q *sqs.Client, queueURL string, want int, wait time.Duration) []Received {
	t.Helper()
	var out []Received
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && (want == 0 || len(out) < want) {
		res, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range res.Messages {
			var r Received
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &r); err != nil {
				t.Fatalf("message %q: %v", aws.ToString(m.Body), err)
			}
			out = append(out, r)
			_, _ = q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if want > 0 && len(out) < want {
		t.Fatalf("received %d events, want %d", len(out), want)
	}
	return out
}
