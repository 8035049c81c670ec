package dispatch_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"mobilepush/shared/dispatch"
	"mobilepush/shared/push"
)

func TestAttributesRoundTrip(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123)
	tests := []struct {
		name string
		a    dispatch.Attributes
		want map[string]string
	}{
		{"first attempt, time unknown", dispatch.Attributes{}, map[string]string{"attempt": "0"}},
		{"first attempt", dispatch.Attributes{EnqueuedAt: at}, map[string]string{"attempt": "0", "enqueued_at": "1700000000123"}},
		{"retry", dispatch.Attributes{Attempt: 3, EnqueuedAt: at}, map[string]string{"attempt": "3", "enqueued_at": "1700000000123"}},
		{"dead letter", dispatch.Attributes{Attempt: 1, EnqueuedAt: at, Reason: dispatch.ReasonCredentialFault},
			map[string]string{"attempt": "1", "enqueued_at": "1700000000123", "reason": "credential_fault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a.Encode()
			if !maps.Equal(got, tt.want) {
				t.Fatalf("Encode = %v, want %v", got, tt.want)
			}
			back, err := dispatch.DecodeAttributes(got)
			if err != nil {
				t.Fatal(err)
			}
			if back.Attempt != tt.a.Attempt || !back.EnqueuedAt.Equal(tt.a.EnqueuedAt) || back.Reason != tt.a.Reason {
				t.Errorf("DecodeAttributes(Encode) = %+v, want %+v", back, tt.a)
			}
		})
	}
}

// checkErr fails t unless err is an Invalid error when wantInvalid, and
// nil otherwise; it reports whether the result is there to check.
func checkErr(t *testing.T, err error, wantInvalid bool) bool {
	t.Helper()
	switch {
	case wantInvalid && !push.Is(err, push.Invalid):
		t.Fatalf("err = %v, want Invalid", err)
	case !wantInvalid && err != nil:
		t.Fatal(err)
	}
	return !wantInvalid
}

func TestDecodeAttributes(t *testing.T) {
	tests := []struct {
		name        string
		in          map[string]string
		wantAttempt int
		wantAt      time.Time
		wantInvalid bool
	}{
		{name: "none", in: nil},
		{name: "others ignored", in: map[string]string{"trace": "x"}},
		{name: "attempt", in: map[string]string{"attempt": "4"}, wantAttempt: 4},
		{name: "malformed enqueued_at is unknown", in: map[string]string{"attempt": "1", "enqueued_at": "yesterday"}, wantAttempt: 1},
		{name: "enqueued_at", in: map[string]string{"enqueued_at": "1000"}, wantAt: time.UnixMilli(1000)},
		{name: "attempt not a number", in: map[string]string{"attempt": "one"}, wantInvalid: true},
		{name: "negative attempt", in: map[string]string{"attempt": "-1"}, wantInvalid: true},
		{name: "empty attempt", in: map[string]string{"attempt": ""}, wantInvalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dispatch.DecodeAttributes(tt.in)
			if !checkErr(t, err, tt.wantInvalid) {
				return
			}
			if got.Attempt != tt.wantAttempt || !got.EnqueuedAt.Equal(tt.wantAt) {
				t.Errorf("got %+v, want attempt %d enqueued %v", got, tt.wantAttempt, tt.wantAt)
			}
		})
	}
}

func TestDecodeDelivery(t *testing.T) {
	body := []byte(`{"version":1,"tenant":"acme","app_id":"a1","message_id":"m1","tokens":{"fcm":["t1"]},"notification":{"title":"hi"}}`)
	attrAt, sentAt, now := time.UnixMilli(1000), time.UnixMilli(2000), time.UnixMilli(3000)
	tests := []struct {
		name        string
		body        []byte
		attrs       map[string]string
		sentAt      time.Time
		wantAttempt int
		wantAt      time.Time
		wantInvalid bool
	}{
		{name: "enqueued_at wins", body: body, attrs: map[string]string{"attempt": "2", "enqueued_at": "1000"}, sentAt: sentAt, wantAttempt: 2, wantAt: attrAt},
		{name: "then the queue's sent time", body: body, sentAt: sentAt, wantAt: sentAt},
		{name: "malformed enqueued_at falls back", body: body, attrs: map[string]string{"enqueued_at": "x"}, sentAt: sentAt, wantAt: sentAt},
		{name: "then now", body: body, wantAt: now},
		{name: "body not a message", body: []byte(`{"version":1`), wantInvalid: true},
		{name: "attempt not a count", body: body, attrs: map[string]string{"attempt": "x"}, wantInvalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := dispatch.DecodeDelivery(tt.body, tt.attrs, tt.sentAt, now)
			if !checkErr(t, err, tt.wantInvalid) {
				return
			}
			if d.Message.MessageID != "m1" || d.Attempt != tt.wantAttempt || !d.EnqueuedAt.Equal(tt.wantAt) {
				t.Errorf("got message %s attempt %d enqueued %v, want m1 %d %v", d.Message.MessageID, d.Attempt, d.EnqueuedAt, tt.wantAttempt, tt.wantAt)
			}
		})
	}
}

func TestFollowUps(t *testing.T) {
	at := time.UnixMilli(5000)
	d := dispatch.Delivery{Message: &push.Message{MessageID: "m1"}, Attempt: 1, EnqueuedAt: at}
	msg := func(tokens ...string) *push.Message {
		return &push.Message{MessageID: "m1", Tokens: push.Tokens{FCM: tokens}}
	}
	type want struct {
		msg   *push.Message // nil: no follow-up
		delay time.Duration
		attrs map[string]string
	}
	tests := []struct {
		name      string
		res       dispatch.Result
		wantRetry want
		wantDead  []want
	}{
		{name: "already done", res: dispatch.Result{AlreadyDone: true, Retry: &dispatch.Retry{Message: msg("t"), Attempt: 2}}},
		{name: string(push.Delivered), res: dispatch.Result{Counts: map[push.Outcome]int{push.Delivered: 1}}},
		{name: string(push.InvalidToken), res: dispatch.Result{Counts: map[push.Outcome]int{push.InvalidToken: 1}}},
		{
			name:      string(push.Retry),
			res:       dispatch.Result{Retry: &dispatch.Retry{Message: msg("r"), Attempt: 2, Delay: 4 * time.Second}},
			wantRetry: want{msg("r"), 4 * time.Second, map[string]string{"attempt": "2", "enqueued_at": "5000"}},
		},
		{
			name:     "retries exhausted",
			res:      dispatch.Result{Dead: []dispatch.Dead{{Message: msg("x"), Reason: dispatch.ReasonRetriesExhausted, Attempt: 1}}},
			wantDead: []want{{msg: msg("x"), attrs: map[string]string{"attempt": "1", "enqueued_at": "5000", "reason": "retries_exhausted"}}},
		},
		{
			name:     string(push.CredentialFault),
			res:      dispatch.Result{Dead: []dispatch.Dead{{Message: msg("c"), Reason: dispatch.ReasonPlatformSuspended, Attempt: 1}}},
			wantDead: []want{{msg: msg("c"), attrs: map[string]string{"attempt": "1", "enqueued_at": "5000", "reason": "platform_suspended"}}},
		},
		{
			name: "retry and two rejections",
			res: dispatch.Result{
				Retry: &dispatch.Retry{Message: msg("r"), Attempt: 2, Delay: time.Minute},
				Dead: []dispatch.Dead{
					{Message: msg("a"), Reason: dispatch.ReasonNoCredential, Attempt: 1},
					{Message: msg("b"), Reason: "BadDeviceToken", Attempt: 1},
				},
			},
			wantRetry: want{msg("r"), time.Minute, map[string]string{"attempt": "2", "enqueued_at": "5000"}},
			wantDead: []want{
				{msg: msg("a"), attrs: map[string]string{"attempt": "1", "enqueued_at": "5000", "reason": "platform_unconfigured"}},
				{msg: msg("b"), attrs: map[string]string{"attempt": "1", "enqueued_at": "5000", "reason": "BadDeviceToken"}},
			},
		},
	}
	check := func(t *testing.T, what string, got dispatch.FollowUp, w want, reason string) {
		t.Helper()
		if got.Message.MessageID != w.msg.MessageID || !slices.Equal(got.Message.Tokens.FCM, w.msg.Tokens.FCM) {
			t.Errorf("%s message = %+v, want %+v", what, got.Message, w.msg)
		}
		if got.Delay != w.delay || got.Reason != reason || !maps.Equal(got.Attributes, w.attrs) {
			t.Errorf("%s = delay %v reason %q attributes %v, want %v %q %v", what, got.Delay, got.Reason, got.Attributes, w.delay, reason, w.attrs)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			retry, dead := dispatch.FollowUps(d, tt.res)
			switch {
			case tt.wantRetry.msg == nil && retry != nil:
				t.Errorf("retry = %+v, want none", retry)
			case tt.wantRetry.msg != nil && retry == nil:
				t.Errorf("no retry, want %+v", tt.wantRetry)
			case retry != nil:
				check(t, "retry", *retry, tt.wantRetry, "")
			}
			if len(dead) != len(tt.wantDead) {
				t.Fatalf("%d dead letters, want %d", len(dead), len(tt.wantDead))
			}
			for i, w := range tt.wantDead {
				check(t, "dead letter", dead[i], w, w.attrs["reason"])
			}
		})
	}
}

func TestFirstAndDeadAttributes(t *testing.T) {
	if got, want := dispatch.FirstAttributes(time.UnixMilli(42)), map[string]string{"attempt": "0", "enqueued_at": "42"}; !maps.Equal(got, want) {
		t.Errorf("FirstAttributes = %v, want %v", got, want)
	}
	in := map[string]string{"attempt": "x", "trace": "t"}
	got := dispatch.DeadAttributes(in, dispatch.ReasonInvalidMessage)
	if want := map[string]string{"attempt": "x", "trace": "t", "reason": "invalid_message"}; !maps.Equal(got, want) {
		t.Errorf("DeadAttributes = %v, want %v", got, want)
	}
	if _, ok := in["reason"]; ok {
		t.Error("DeadAttributes changed its input")
	}
}
