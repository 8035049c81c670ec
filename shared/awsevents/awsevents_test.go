package awsevents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"mobilepush/shared/alert"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/awsevents"
	"mobilepush/shared/awsevents/eventstest"
	"mobilepush/shared/push"
)

// fakeAPI answers PutEvents with the entries' fates chosen by detail-type.
type fakeAPI struct {
	calls  [][]ebtypes.PutEventsRequestEntry
	failOn map[string]string // detail-type -> error code of its entry
	err    error             // the whole call fails
}

func (f *fakeAPI) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.calls = append(f.calls, in.Entries)
	if f.err != nil {
		return nil, f.err
	}
	out := &eventbridge.PutEventsOutput{}
	for i, e := range in.Entries {
		if code, ok := f.failOn[aws.ToString(e.DetailType)]; ok {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("no")})
			continue
		}
		out.Entries = append(out.Entries, ebtypes.PutEventsResultEntry{EventId: aws.String(fmt.Sprint(i))})
	}
	return out, nil
}

func events(n int) []alert.Event {
	var out []alert.Event
	for i := range n {
		out = append(out, alert.Event{Type: alert.Type(fmt.Sprintf("type-%d", i)), Detail: alert.Detail{AppID: fmt.Sprint(i)}})
	}
	return out
}

func TestPublishReportsEachFailedEntry(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		failOn    map[string]string
		callErr   error
		wantCalls []int       // entries per call
		wantKinds []push.Kind // per event; Other = published
	}{
		{"all published, batched by 10", 12, nil, nil, []int{10, 2}, slices.Repeat([]push.Kind{push.Other}, 12)},
		{"a throttled entry is transient", 3, map[string]string{"type-1": "ThrottlingException"}, nil, []int{3},
			[]push.Kind{push.Other, push.Transient, push.Other}},
		{"a malformed entry is internal", 2, map[string]string{"type-0": "MalformedDetail"}, nil, []int{2},
			[]push.Kind{push.Internal, push.Other}},
		{"a failed call fails its events", 2, nil, errors.New("connection reset"), []int{2},
			[]push.Kind{push.Transient, push.Transient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{failOn: tt.failOn, err: tt.callErr}
			errs := awsevents.New(api, "bus").Publish(context.Background(), events(tt.n))
			var calls []int
			for _, c := range api.calls {
				calls = append(calls, len(c))
				for _, e := range c {
					if aws.ToString(e.Source) != alert.Source || aws.ToString(e.EventBusName) != "bus" || !json.Valid([]byte(aws.ToString(e.Detail))) {
						t.Errorf("entry = %+v", e)
					}
				}
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("calls = %v, want %v", calls, tt.wantCalls)
			}
			var kinds []push.Kind
			for _, err := range errs {
				kinds = append(kinds, push.KindOf(err))
			}
			if !slices.Equal(kinds, tt.wantKinds) {
				t.Errorf("kinds = %v, want %v (%v)", kinds, tt.wantKinds, errs)
			}
			for i, err := range errs {
				if tt.failOn[fmt.Sprintf("type-%d", i)] != "" && !errors.Is(err, awsevents.ErrEntryFailed) {
					t.Errorf("event %d: %v does not wrap ErrEntryFailed", i, err)
				}
			}
		})
	}
}

// TestPublishOnMoto puts events on a custom bus whose rule (the alert
// rule's pattern) targets an SQS queue: moto answers PutEvents with HTTP
// 500 when a matching rule targets SNS, so the test taps the rule with
// SQS; template_test checks the SNS routing statically.
func TestPublishOnMoto(t *testing.T) {
	cfg := dynamotest.AWSConfig(t)
	ctx := context.Background()
	eb := eventbridge.NewFromConfig(cfg)
	q := sqs.NewFromConfig(cfg)
	bus, queueURL := eventstest.Tap(t, eb, q)
	pub := awsevents.New(eb, bus)
	days := 29
	evs := []alert.Event{
		{Type: alert.CredentialExpiring, Detail: alert.Detail{Tenant: "t", AppID: "a", AppName: "A", Platform: push.APNs, BundleID: "com.x", DaysLeft: &days, Reason: "expiring_soon", Action: "renew"}},
		{Type: alert.TokensInvalid, Detail: alert.Detail{Tenant: "t", AppID: "a", Tokens: 3}}, // not a credential event: not routed
	}
	for i, err := range pub.Publish(ctx, evs) {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	got := eventstest.Receive(t, q, queueURL, 1, 5*time.Second)
	if got[0].DetailType != string(alert.CredentialExpiring) || got[0].Source != "mobilepush" || got[0].Detail.BundleID != "com.x" || got[0].Detail.DaysLeft == nil || *got[0].Detail.DaysLeft != 29 {
		t.Fatalf("received %+v", got[0])
	}
	if more := eventstest.Receive(t, q, queueURL, 0, time.Second); len(more) != 0 {
		t.Fatalf("the rule routed %+v", more)
	}
}
