package dispatch_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/dispatch/dispatchtest"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
)

type rig = dispatchtest.Rig

func newRig(t *testing.T) *rig { return dispatchtest.NewRig(t) }

func hexToken(i int) string { return dispatchtest.HexToken(i) }

func message(id string, apnsTokens, fcmTokens []string) *push.Message {
	return dispatchtest.Message(id, apnsTokens, fcmTokens)
}
func TestSendDeliversAndNeverResendsACompletedMessage(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	apnsToks := []string{hexToken(1), hexToken(2), hexToken(3)}
	m := message("m1", apnsToks, []string{"fcm-a", "fcm-b"})
	d := dispatch.Delivery{Message: m}
	res, err := r.Sender.Send(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Counts[push.Delivered]; got != 5 || res.Retry != nil || len(res.Dead) != 0 {
		t.Fatalf("result = %+v, want 5 delivered and no follow-up", res)
	}
	if err := r.Sender.Complete(ctx, d); err != nil {
		t.Fatal(err)
	}
	before := r.Apple.Total() + r.Google.TotalRequests()
	again, err := r.NewSender("worker-2").Send(ctx, d)
	if err != nil || !again.AlreadyDone {
		t.Fatalf("redelivery = %+v, %v; want AlreadyDone", again, err)
	}
	if after := r.Apple.Total() + r.Google.TotalRequests(); after != before {
		t.Errorf("a completed message reached the providers again (%d -> %d requests)", before, after)
	}
	if req, ok := r.Apple.LastFor(apnsToks[0]); !ok || req.Header.Get("apns-id") != apns.NotificationID("m1", apnsToks[0]) {
		t.Errorf("apns-id not derived from (message, token): %+v", req.Header)
	}
}

func TestOutcomesAndFollowUp(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	toks := []string{hexToken(10), hexToken(11), hexToken(12)}
	r.Apple.Script(toks[1], apnstest.Response{Status: 410, Reason: "Unregistered"})
	r.Apple.Script(toks[2], apnstest.Response{Status: 503, Reason: "ServiceUnavailable"})
	r.Google.ScriptToken("fcm-quota", fcmtest.QuotaExceeded("30"))
	r.Google.ScriptToken("fcm-dead", fcmtest.Unregistered())
	r.Google.ScriptToken("fcm-bad", fcmtest.InvalidArgument("message.android.ttl", "Invalid value at 'message.android.ttl'"))
	m := message("m2", toks, []string{"fcm-ok", "fcm-quota", "fcm-dead", "fcm-bad"})
	res, err := r.Sender.Send(ctx, dispatch.Delivery{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	want := map[push.Outcome]int{push.Delivered: 2, push.InvalidToken: 2, push.Retry: 2, push.Rejected: 1}
	for k, v := range want {
		if res.Counts[k] != v {
			t.Errorf("%s = %d, want %d (counts %v)", k, res.Counts[k], v, res.Counts)
		}
	}
	if res.Retry == nil || res.Retry.Attempt != 1 || res.Retry.Delay < 30*time.Second {
		t.Fatalf("retry = %+v, want attempt 1 after at least Retry-After 30s", res.Retry)
	}
	if got := strings.Join(append(res.Retry.Message.Tokens.APNs, res.Retry.Message.Tokens.FCM...), ","); got != toks[2]+",fcm-quota" && got != "fcm-quota,"+toks[2] {
		t.Errorf("retry tokens = %s", got)
	}
	if err := res.Retry.Message.Validate(); err != nil {
		t.Errorf("the retry body is not a valid v1 message: %v", err)
	}
	if len(res.Dead) != 1 || res.Dead[0].Message.Tokens.FCM[0] != "fcm-bad" || res.Dead[0].Message.Validate() != nil {
		t.Errorf("dead = %+v", res.Dead)
	}
	r.Notes.Mu.Lock()
	defer r.Notes.Mu.Unlock()
	if len(r.Notes.Invalid[push.APNs]) != 1 || len(r.Notes.Invalid[push.FCM]) != 1 {
		t.Errorf("invalid tokens published = %v", r.Notes.Invalid)
	}
}

func TestRetriesEndInTheDeadLetterQueue(t *testing.T) {
	r := newRig(t)
	tok := hexToken(20)
	r.Apple.Script(tok, apnstest.Response{Status: 500, Reason: "InternalServerError"})
	res, err := r.Sender.Send(context.Background(), dispatch.Delivery{Message: message("m3", []string{tok}, nil), Attempt: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retry != nil || len(res.Dead) != 1 || res.Dead[0].Reason != dispatch.ReasonRetriesExhausted || res.Dead[0].Attempt != 2 {
		t.Fatalf("last attempt = %+v", res)
	}
}

// TestCredentialFaultIsIsolated: a revoked certificate suspends APNs and
// sends its tokens to the DLQ, while FCM in the same message delivers.
func TestCredentialFaultIsIsolated(t *testing.T) {
	r := newRig(t)
	r.Apple.Revoke(r.Cert.Cert)
	toks := []string{hexToken(30), hexToken(31)}
	res, err := r.Sender.Send(context.Background(), dispatch.Delivery{Message: message("m4", toks, []string{"fcm-1"})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[push.CredentialFault] != 2 || res.Counts[push.Delivered] != 1 {
		t.Fatalf("counts = %v", res.Counts)
	}
	app, err := r.Store.Get(context.Background(), "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if app.APNs.Status.State != credential.Suspended || app.FCM.Status.State != credential.OK {
		t.Errorf("status = apns %s, fcm %s", app.APNs.Status.State, app.FCM.Status.State)
	}
	if len(r.Notes.Faults) != 1 {
		t.Errorf("credential-invalid events = %v", r.Notes.Faults)
	}
	// A suspended platform is not even tried: its tokens wait in the DLQ.
	before := r.Apple.Counts().Total
	res, err = r.Sender.Send(context.Background(), dispatch.Delivery{Message: message("m5", []string{hexToken(32)}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dead) != 1 || res.Dead[0].Reason != dispatch.ReasonPlatformSuspended || r.Apple.Counts().Total != before {
		t.Errorf("suspended platform: %+v", res)
	}
}

// TestResumeSendsOnlyUnrecordedTokens: a worker died after recording one
// token's outcome; after its lease ends another worker sends the rest
// and the follow-up still counts the first.
func TestResumeSendsOnlyUnrecordedTokens(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	toks := []string{hexToken(40), hexToken(41), hexToken(42)}
	m := message("m6", toks, nil)
	key := credential.MessageKey{Tenant: "acme", MessageID: "m6"}
	if _, err := r.Store.Lease(ctx, key, "dead-worker", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := r.Store.RecordOutcome(ctx, key, "dead-worker", credential.Outcome{Platform: push.APNs, Token: toks[0], Result: push.Retry, Reason: "network_error"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(350 * time.Millisecond) // the dead worker's lease ends
	res, err := r.Sender.Send(ctx, dispatch.Delivery{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Apple.Counts(); c.ByToken[toks[0]] != 0 || c.ByToken[toks[1]] != 1 || c.ByToken[toks[2]] != 1 {
		t.Errorf("requests per token = %v", c.ByToken)
	}
	if res.Counts[push.Delivered] != 2 || res.Counts[push.Retry] != 1 || res.Retry == nil || res.Retry.Message.Tokens.APNs[0] != toks[0] {
		t.Errorf("resumed result = %+v", res)
	}
}

func TestDisabledAppIsRejected(t *testing.T) {
	r := newRig(t)
	off := false
	if _, err := r.Store.Update(context.Background(), credential.UpdateRequest{Tenant: "acme", ID: "shop", Patch: credential.Patch{Enabled: &off}}); err != nil {
		t.Fatal(err)
	}
	res, err := r.NewSender("w").Send(context.Background(), dispatch.Delivery{Message: message("m7", []string{hexToken(50)}, []string{"f"})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[push.Rejected] != 2 || len(res.Dead) != 1 || res.Dead[0].Reason != dispatch.ReasonAppDisabled || r.Apple.Total() != 0 {
		t.Errorf("disabled app = %+v", res)
	}
}

func TestFCMCallsBoundRequestsInFlight(t *testing.T) {
	tests := []struct {
		calls            int
		minPeak, maxPeak int
	}{
		{calls: 1, minPeak: 1, maxPeak: 50},   // one SendEach call: its 50 workers
		{calls: 8, minPeak: 51, maxPeak: 150}, // three messages' calls at once
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("FCMCalls=%d", tt.calls), func(t *testing.T) {
			r := newRig(t)
			r.Google.SetLatency(20 * time.Millisecond)
			s := dispatch.New(dispatch.Config{Apps: credential.NewCache(r.Store, credential.CacheConfig{}), Ledger: r.Store, Suspender: r.Store, Clients: r.Clients(), Owner: "w", FCMCalls: tt.calls})
			var wg sync.WaitGroup
			for i := range 3 {
				toks := make([]string, 120)
				for j := range toks {
					toks[j] = fmt.Sprintf("fcm-%d-%d", i, j)
				}
				wg.Go(func() {
					res, err := s.Send(context.Background(), dispatch.Delivery{Message: message(fmt.Sprintf("m%d", i), nil, toks)})
					if err != nil || res.Counts[push.Delivered] != len(toks) {
						t.Errorf("message %d: %+v, %v", i, res.Counts, err)
					}
				})
			}
			wg.Wait()
			if got := r.Google.PeakInFlight(); got < tt.minPeak || got > tt.maxPeak {
				t.Errorf("peak sends in flight = %d, want %d..%d", got, tt.minPeak, tt.maxPeak)
			}
		})
	}
}
