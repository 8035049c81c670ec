package dispatch_test

import (
	"context"
	"encoding/json"
	"testing"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
)

// TestRetryCarriesTheFirstPushsIdentity: a token answered "try again" is
// sent again by the retry attempt with exactly the identity of its first
// push (apns-collapse-id, apns-id, the message id in the payload; on FCM
// the Android tag, the APNs block's collapse id, the web push tag and
// the data key), so the device shows the repeat in place of the first.
func TestRetryCarriesTheFirstPushsIdentity(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tok := hexToken(77)
	r.Apple.Script(tok, apnstest.Response{Status: 503, Reason: "ServiceUnavailable"})
	r.Google.ScriptToken("fcm-again", fcmtest.QuotaExceeded("1"), fcmtest.OK())
	m := message("identity-1", []string{tok}, []string{"fcm-again"})
	res, err := r.Sender.Send(ctx, dispatch.Delivery{Message: m})
	if err != nil || res.Retry == nil {
		t.Fatalf("first attempt = %+v, %v; want a retry", res, err)
	}
	again, err := r.Sender.Send(ctx, dispatch.Delivery{Message: res.Retry.Message, Attempt: res.Retry.Attempt})
	if err != nil || again.Counts[push.Delivered] != 2 {
		t.Fatalf("retry = %+v, %v; want 2 delivered", again.Counts, err)
	}
	want := push.DeriveCollapseID(m.Tenant, m.MessageID)

	var pushes []apnstest.Request
	for _, q := range r.Apple.Requests() {
		if q.Token == tok {
			pushes = append(pushes, q)
		}
	}
	if len(pushes) != 2 {
		t.Fatalf("APNs pushes to the token = %d, want the first and its repeat", len(pushes))
	}
	for i, q := range pushes {
		var payload map[string]any
		if err := json.Unmarshal(q.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		if q.CollapseID != want || payload[push.MessageIDKey] != m.MessageID || q.Header.Get("apns-id") != pushes[0].Header.Get("apns-id") {
			t.Errorf("APNs push %d: collapse id %q, %s %v, apns-id %q; want %q, %q and the first push's apns-id",
				i, q.CollapseID, push.MessageIDKey, payload[push.MessageIDKey], q.Header.Get("apns-id"), want, m.MessageID)
		}
	}

	var sends []fcmtest.Sent
	for _, s := range r.Google.Sent() {
		if s.Token == "fcm-again" {
			sends = append(sends, s)
		}
	}
	wantSent := fcmtest.Sent{Token: "fcm-again", AndroidTag: want, APNsCollapseID: want, WebpushTag: want, MessageID: m.MessageID}
	if len(sends) != 2 || sends[0] != wantSent || sends[1] != wantSent {
		t.Errorf("FCM sends to the token = %+v, want twice %+v", sends, wantSent)
	}
}
