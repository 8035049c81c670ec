package clientpool_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
)

func TestSenderChunkIsFirebaseBatch(t *testing.T) {
	if dispatch.FCMChunk != fcm.MaxBatch {
		t.Errorf("dispatch.FCMChunk = %d, fcm.MaxBatch = %d: a chunk must be one SendEach call", dispatch.FCMChunk, fcm.MaxBatch)
	}
}

// TestSenderAnswers: the pool as dispatch.Clients pushes a prepared
// message and reads each answer as the ledger records it, asking
// whether the environment is confirmed only when Apple answered.
func TestSenderAnswers(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	m := &push.Message{Version: 1, Tenant: "acme", AppID: "shop", MessageID: "m1", Notification: push.Notification{Title: "Hi"}}

	c, err := w.pool.APNs(certMaterial(t, mustIssue(t, w.ca)), push.Production)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Prepare(m, "", time.Time{}); !push.Is(err, push.Invalid) {
		t.Errorf("Prepare without a bundle id = %v, want Invalid", err)
	}
	msg, err := c.Prepare(m, "com.example.app", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ok, dead, bad := strings.Repeat("a1", 32), strings.Repeat("b2", 32), strings.Repeat("c3", 32)
	w.prod.Script(dead, apnstest.Response{Status: 410, Reason: "Unregistered"})
	w.prod.Script(bad, apnstest.Response{Status: 400, Reason: "BadDeviceToken"}, apnstest.Response{Status: 400, Reason: "BadDeviceToken"})
	tests := []struct {
		name      string
		token     string
		confirmed bool
		want      dispatch.Answer
		wantAsked bool
	}{
		{"delivered", ok, false, dispatch.Answer{Outcome: push.Delivered}, true},
		{"dead token", dead, false, dispatch.Answer{Outcome: push.InvalidToken, Reason: "Unregistered"}, true},
		{"bad token, environment unconfirmed", bad, false, dispatch.Answer{Outcome: push.Rejected, Reason: "token_environment_unconfirmed"}, true},
		{"bad token, environment confirmed", bad, true, dispatch.Answer{Outcome: push.InvalidToken, Reason: "BadDeviceToken"}, true},
		{"malformed token, refused unsent", "zz", false, dispatch.Answer{Outcome: push.Rejected, Reason: "network_error"}, false},
	}
	for _, tt := range tests {
		asked := false
		got := make(chan dispatch.Answer, 1)
		msg.PushAsync(ctx, tt.token, func() bool { asked = true; return tt.confirmed }, func(a dispatch.Answer) { got <- a })
		if a := <-got; a != tt.want || asked != tt.wantAsked {
			t.Errorf("%s: answer %+v (asked confirmed: %v), want %+v (%v)", tt.name, a, asked, tt.want, tt.wantAsked)
		}
	}

	sa, saJSON := saMaterial(t, "acme-push")
	if err := w.google.AddServiceAccount(saJSON); err != nil {
		t.Fatal(err)
	}
	w.google.ScriptToken("fcm-quota", fcmtest.QuotaExceeded("30"))
	w.google.ScriptToken("fcm-dead", fcmtest.Unregistered())
	f, err := w.pool.FCM(ctx, sa)
	if err != nil {
		t.Fatal(err)
	}
	answers := f.Prepare(m, time.Time{}).SendChunk(ctx, []string{"fcm-ok", "fcm-quota", "fcm-dead"})
	want := []dispatch.Answer{
		{Outcome: push.Delivered},
		{Outcome: push.Retry, Reason: "QUOTA_EXCEEDED", RetryAfter: 30 * time.Second},
		{Outcome: push.InvalidToken, Reason: "UNREGISTERED"},
	}
	if len(answers) != len(want) {
		t.Fatalf("SendChunk answered %d tokens, want %d", len(answers), len(want))
	}
	for i := range want {
		if answers[i] != want[i] {
			t.Errorf("token %d: %+v, want %+v", i, answers[i], want[i])
		}
	}
}
