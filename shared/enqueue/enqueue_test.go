package enqueue_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"mobilepush/shared/enqueue"
	"mobilepush/shared/push"
)

const apnsTok = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

// failure is a scripted per-entry failure.
type failure struct {
	code        string
	senderFault bool
}

// fakeSQS is an SQS SendMessageBatch that records every call and answers
// per-entry failures scripted by message id (one per attempt; an entry
// with no script left succeeds), or fails whole calls with callErr.
type fakeSQS struct {
	mu      sync.Mutex
	calls   []*sqs.SendMessageBatchInput
	script  map[string][]failure
	callErr error
	seq     int
}

func (f *fakeSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if f.callErr != nil {
		return nil, f.callErr
	}
	if len(in.Entries) > enqueue.MaxBatch {
		return nil, &apiError{code: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", status: 400}
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		id := aws.ToString(e.Id)
		if fs := f.script[id]; len(fs) > 0 {
			f.script[id] = fs[1:]
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String(fs[0].code), Message: aws.String("scripted"), SenderFault: fs[0].senderFault})
			continue
		}
		f.seq++
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String(fmt.Sprintf("sqs-%d", f.seq))})
	}
	return out, nil
}

// entryIDs returns the entry ids of every call, in order.
func (f *fakeSQS) entryIDs() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, c := range f.calls {
		var ids []string
		for _, e := range c.Entries {
			ids = append(ids, aws.ToString(e.Id))
		}
		out = append(out, ids)
	}
	return out
}

// apiError looks like the SDK's errors: an API error code and an HTTP status.
type apiError struct {
	code   string
	status int
}

func (e *apiError) Error() string       { return "api error " + e.code }
func (e *apiError) ErrorCode() string   { return e.code }
func (e *apiError) HTTPStatusCode() int { return e.status }

func newClient(t *testing.T, api enqueue.SQSClient, queueURL string) *enqueue.Client {
	t.Helper()
	c, err := enqueue.New(api, enqueue.Config{QueueURL: queueURL, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func message(id string) *push.Message {
	m := enqueue.NewMessage("acme", "app1")
	m.MessageID = id
	m.Tokens.APNs = []string{apnsTok}
	m.Notification.Title = "Hello " + id
	return m
}

const queueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/send"

func TestSendGroupsByTen(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{}
	c := newClient(t, f, queueURL)
	var msgs []*push.Message
	for i := range 25 {
		m := message("")
		m.Notification.Body = fmt.Sprint(i)
		msgs = append(msgs, m)
	}
	res, err := c.Send(context.Background(), msgs...)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	var sizes []int
	for _, ids := range f.entryIDs() {
		sizes = append(sizes, len(ids))
	}
	slices.Sort(sizes) // batches run concurrently
	if !reflect.DeepEqual(sizes, []int{5, 10, 10}) {
		t.Errorf("batch sizes %v, want 10, 10 and 5", sizes)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	bodies := map[string]string{}
	for _, call := range f.calls {
		if aws.ToString(call.QueueUrl) != queueURL {
			t.Errorf("queue %q", aws.ToString(call.QueueUrl))
		}
		for _, e := range call.Entries {
			bodies[aws.ToString(e.Id)] = aws.ToString(e.MessageBody)
			if e.MessageDeduplicationId != nil {
				t.Error("a deduplication id on a standard queue")
			}
			if got := aws.ToString(e.MessageGroupId); got != "acme" {
				t.Errorf("MessageGroupId %q on a standard queue, want the tenant %q (a fair queue)", got, "acme")
			}
		}
	}
	for i, r := range res {
		if r.Err != nil || r.SQSMessageID == "" || r.Attempts != 1 || !uuid.MatchString(r.MessageID) {
			t.Errorf("result %d: %+v", i, r)
		}
		if msgs[i].MessageID != "" {
			t.Errorf("message %d was modified: id %q", i, msgs[i].MessageID)
		}
		got, err := push.DecodeMessage([]byte(bodies[r.MessageID]))
		if err != nil {
			t.Fatalf("body of %s: %v", r.MessageID, err)
		}
		want := *msgs[i]
		want.MessageID = r.MessageID
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("body %d = %+v, want %+v", i, *got, want)
		}
	}
}

func TestSendRetriesOnlyFailedRetryableEntries(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{script: map[string][]failure{
		"flaky":  {{code: "InternalError"}},                                               // retried once, then enqueued
		"bad":    {{code: "InvalidMessageContents", senderFault: true}},                   // never retried
		"broken": {{code: "ServiceUnavailable"}, {code: "InternalError"}, {code: "Boom"}}, // fails every attempt
	}}
	c := newClient(t, f, queueURL)
	res, err := c.Send(context.Background(), message("ok1"), message("flaky"), message("bad"), message("broken"), message("ok2"))

	wantCalls := [][]string{{"ok1", "flaky", "bad", "broken", "ok2"}, {"flaky", "broken"}, {"broken"}}
	if got := f.entryIDs(); !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("calls %v, want %v", got, wantCalls)
	}
	type outcome struct {
		Attempts int
		Kind     push.Kind
		Enqueued bool
	}
	want := []outcome{{1, push.Other, true}, {2, push.Other, true}, {1, push.Invalid, false}, {3, push.Transient, false}, {1, push.Other, true}}
	for i, r := range res {
		got := outcome{r.Attempts, push.KindOf(r.Err), r.SQSMessageID != ""}
		if got != want[i] {
			t.Errorf("result %d (%s) = %+v, want %+v (err %v)", i, r.MessageID, got, want[i], r.Err)
		}
	}
	if !strings.Contains(res[2].Err.Error(), "InvalidMessageContents") || !strings.Contains(res[3].Err.Error(), "3 times, last: Boom") {
		t.Errorf("errors do not say why: %v / %v", res[2].Err, res[3].Err)
	}
	// The call's error: the first failure's kind, every failure inside.
	if err == nil || push.KindOf(err) != push.Invalid {
		t.Fatalf("Send error = %v, want Invalid", err)
	}
	if !errors.Is(err, res[2].Err) || !errors.Is(err, res[3].Err) {
		t.Error("the call's error does not wrap the entries' errors")
	}
	if !strings.Contains(err.Error(), "2 of 5 messages not enqueued") {
		t.Errorf("error %q", err)
	}
}

func TestSendRefusesBeforeAnyCall(t *testing.T) {
	t.Parallel()
	tooMany := message("too-many")
	for i := range push.MaxTokens {
		tooMany.Tokens.FCM = append(tooMany.Tokens.FCM, fmt.Sprintf("fcm-token-%d", i))
	}
	bigAPNs := message("big-apns")
	bigAPNs.Data = map[string]string{"blob": strings.Repeat("x", 4090)}
	bigFCM := message("big-fcm")
	bigFCM.Tokens = push.Tokens{FCM: []string{"t"}}
	bigFCM.Data = map[string]string{"blob": strings.Repeat("x", 4090)}
	bigBody := message("big-body")
	bigBody.Tokens = push.Tokens{}
	for i := range 1000 {
		bigBody.Tokens.FCM = append(bigBody.Tokens.FCM, fmt.Sprintf("%0300d", i))
	}
	longCollapse := message("collapse")
	longCollapse.CollapseKey = strings.Repeat("k", 65)
	noVersion := message("no-version")
	noVersion.Version = 0
	badToken := message("bad-token")
	badToken.Tokens.APNs = []string{apnsTok[:60] + "zzzz"}

	tests := []struct {
		name string
		m    *push.Message
		kind push.Kind
		text string
	}{
		{"1001 tokens", tooMany, push.TooLarge, "1001 tokens, at most 1000 per message"},
		{"APNs payload", bigAPNs, push.TooLarge, "the APNs payload is 41"},
		{"FCM payload", bigFCM, push.TooLarge, "the FCM payload is 4"},
		{"SQS body", bigBody, push.TooLarge, "at most 262144 per SQS message"},
		{"collapse key", longCollapse, push.TooLarge, "collapse_key: 65 bytes, at most 64"},
		{"version", noVersion, push.Invalid, "version: 0 is not supported, want 1"},
		{"token", badToken, push.Invalid, "tokens.apns[0]: not an APNs device token"},
		{"nil", nil, push.Invalid, "nil message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSQS{}
			c := newClient(t, f, queueURL)
			res, err := c.Send(context.Background(), tt.m)
			if len(f.calls) != 0 {
				t.Errorf("%d SQS calls, want none", len(f.calls))
			}
			if push.KindOf(res[0].Err) != tt.kind || push.KindOf(err) != tt.kind {
				t.Errorf("kinds %v / %v, want %v (%v)", push.KindOf(res[0].Err), push.KindOf(err), tt.kind, res[0].Err)
			}
			if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), tt.text) {
				t.Errorf("error %v does not contain %q", res[0].Err, tt.text)
			}
			if res[0].Attempts != 0 {
				t.Errorf("attempts %d", res[0].Attempts)
			}
			if tt.m != nil && strings.Contains(res[0].Err.Error(), apnsTok) {
				t.Error("the error quotes a device token")
			}
		})
	}

	// A refused message does not stop the others.
	f := &fakeSQS{}
	c := newClient(t, f, queueURL)
	res, err := c.Send(context.Background(), message("good"), tooMany)
	if res[0].Err != nil || res[1].Err == nil || push.KindOf(err) != push.TooLarge {
		t.Errorf("mixed call: %+v, %v", res, err)
	}
	if got := f.entryIDs(); !reflect.DeepEqual(got, [][]string{{"good"}}) {
		t.Errorf("calls %v", got)
	}
}

func TestSendRefusesRepeatedMessageIDs(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{}
	c := newClient(t, f, queueURL)
	res, err := c.Send(context.Background(), message("same"), message("other"), message("same"))
	if res[0].Err != nil || res[1].Err != nil || push.KindOf(res[2].Err) != push.Conflict || push.KindOf(err) != push.Conflict {
		t.Errorf("results %+v, err %v", res, err)
	}
	if got := f.entryIDs(); !reflect.DeepEqual(got, [][]string{{"same", "other"}}) {
		t.Errorf("calls %v", got)
	}
}

func TestSendWholeCallErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want push.Kind
	}{
		{"no queue", &apiError{"AWS.SimpleQueueService.NonExistentQueue", 400}, push.NotFound},
		{"denied", &apiError{"AccessDenied", 403}, push.Unauthorized},
		{"throttled", &apiError{"RequestThrottled", 400}, push.Transient},
		{"server", &apiError{"InternalError", 500}, push.Transient},
		{"bad request", &apiError{"InvalidParameterValue", 400}, push.Invalid},
		{"network", errors.New("dial tcp: connection refused"), push.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSQS{callErr: fmt.Errorf("operation error SQS: SendMessageBatch: %w", tt.err)}
			c := newClient(t, f, queueURL)
			res, err := c.Send(context.Background(), message("a"), message("b"))
			for i, r := range res {
				if push.KindOf(r.Err) != tt.want || r.Attempts != 1 {
					t.Errorf("result %d: kind %v attempts %d, want %v (%v)", i, push.KindOf(r.Err), r.Attempts, tt.want, r.Err)
				}
				if !errors.Is(r.Err, tt.err) {
					t.Errorf("result %d does not wrap the SDK error", i)
				}
			}
			if push.KindOf(err) != tt.want || len(f.calls) != 1 {
				t.Errorf("err %v, %d calls", err, len(f.calls))
			}
		})
	}
}

func TestSendSplitsBatchesBySize(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{}
	c := newClient(t, f, queueURL)
	var msgs []*push.Message
	for i := range 5 {
		m := message(fmt.Sprintf("m%d", i))
		m.Tokens = push.Tokens{}
		for j := range 400 {
			m.Tokens.FCM = append(m.Tokens.FCM, fmt.Sprintf("%0200d", j)) // ≈ 81 KB per message
		}
		msgs = append(msgs, m)
	}
	if _, err := c.Send(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	for i, call := range f.calls {
		total := 0
		for _, e := range call.Entries {
			total += len(aws.ToString(e.MessageBody))
		}
		if total > enqueue.MaxBatchBytes {
			t.Errorf("call %d carries %d bytes, more than %d", i, total, enqueue.MaxBatchBytes)
		}
	}
	if len(f.calls) != 2 {
		t.Errorf("%d calls, want 2 (3 + 2 messages of ≈81 KB)", len(f.calls))
	}
}

func TestSendEntriesOptions(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{}
	c := newClient(t, f, queueURL)
	res, err := c.SendEntries(context.Background(), []enqueue.Entry{
		{Message: message("delayed"), Delay: 90*time.Second + time.Millisecond, Attributes: map[string]string{"attempt": "2"}},
		{Message: message("too-late"), Delay: 16 * time.Minute},
		{Message: message("empty-attr"), Attributes: map[string]string{"reason": ""}},
	})
	if err == nil || res[0].Err != nil || push.KindOf(res[1].Err) != push.Invalid || push.KindOf(res[2].Err) != push.Invalid {
		t.Fatalf("results %+v, err %v", res, err)
	}
	e := f.calls[0].Entries[0]
	if e.DelaySeconds != 91 {
		t.Errorf("DelaySeconds %d, want 91 (rounded up)", e.DelaySeconds)
	}
	if a := e.MessageAttributes["attempt"]; aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != "2" {
		t.Errorf("attribute %+v", a)
	}
}

func TestSendFIFO(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{}
	c := newClient(t, f, queueURL+".fifo")
	res, err := c.SendEntries(context.Background(), []enqueue.Entry{{Message: message("m1")}, {Message: message("m2"), Delay: time.Second}})
	if res[0].Err != nil || push.KindOf(res[1].Err) != push.Invalid || err == nil {
		t.Fatalf("results %+v", res)
	}
	e := f.calls[0].Entries[0]
	if aws.ToString(e.MessageDeduplicationId) != "m1" || aws.ToString(e.MessageGroupId) != "app1" {
		t.Errorf("dedup %q group %q", aws.ToString(e.MessageDeduplicationId), aws.ToString(e.MessageGroupId))
	}
}

func TestSendStopsRetryingWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{script: map[string][]failure{"m": {{code: "InternalError"}, {code: "InternalError"}}}}
	c, err := enqueue.New(f, enqueue.Config{QueueURL: queueURL, Backoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res, _ := c.Send(ctx, message("m"))
	if push.KindOf(res[0].Err) != push.Transient || !errors.Is(res[0].Err, context.DeadlineExceeded) || len(f.calls) != 1 {
		t.Errorf("result %+v after %d calls", res[0], len(f.calls))
	}
}

func TestNew(t *testing.T) {
	if _, err := enqueue.New(nil, enqueue.Config{QueueURL: queueURL}); push.KindOf(err) != push.Invalid {
		t.Errorf("nil client: %v", err)
	}
	if _, err := enqueue.New(&fakeSQS{}, enqueue.Config{}); push.KindOf(err) != push.Invalid {
		t.Errorf("no queue URL: %v", err)
	}
}

func TestEncode(t *testing.T) {
	m := message("m")
	m.Notification.Body = "a<b>&c \uFFFF \uFFFE"
	body, err := enqueue.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(body, "\uFFFE\uFFFF") || !strings.Contains(body, `a<b>&c \uffff \ufffe`) {
		t.Errorf("body %s", body)
	}
	got, err := push.DecodeMessage([]byte(body))
	if err != nil || got.Notification.Body != m.Notification.Body {
		t.Errorf("round trip: %v, %q", err, got.Notification.Body)
	}
}

func TestGroupID(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("t", 129)
	tests := []struct {
		name, tenant, app string
		by                enqueue.GroupBy
		want              string
	}{
		{"tenant", "acme", "app1", enqueue.GroupByTenant, "acme"},
		{"default is tenant", "acme", "app1", "", "acme"},
		{"app", "acme", "app1", enqueue.GroupByApp, "acme/app1"},
		{"punctuation kept", "acme:eu-1!", "app1", enqueue.GroupByTenant, "acme:eu-1!"},
		{"128 characters kept", long[:128], "app1", enqueue.GroupByTenant, long[:128]},
		{"too long is hashed", long, "app1", enqueue.GroupByTenant, "sha256:" + sha256Hex(long)[:40]},
		{"space is hashed", "acme corp", "app1", enqueue.GroupByTenant, "sha256:" + sha256Hex("acme corp")[:40]},
		{"non-ASCII is hashed", "café", "app1", enqueue.GroupByTenant, "sha256:" + sha256Hex("café")[:40]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := enqueue.GroupID(enqueue.NewMessage(tt.tenant, tt.app), tt.by); got != tt.want {
				t.Errorf("GroupID(%q, %q, %q) = %q, want %q", tt.tenant, tt.app, tt.by, got, tt.want)
			}
		})
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSendGroupsByApp(t *testing.T) {
	t.Parallel()
	f := &fakeSQS{}
	c, err := enqueue.New(f, enqueue.Config{QueueURL: queueURL, GroupBy: enqueue.GroupByApp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(context.Background(), message("m1")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := aws.ToString(f.calls[0].Entries[0].MessageGroupId); got != "acme/app1" {
		t.Errorf("MessageGroupId %q, want %q", got, "acme/app1")
	}
	if _, err := enqueue.New(f, enqueue.Config{QueueURL: queueURL, GroupBy: "region"}); !push.Is(err, push.Invalid) {
		t.Errorf("New with GroupBy %q: %v, want Invalid", "region", err)
	}
}
