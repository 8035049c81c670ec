package dispatch_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/gateway"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// notes is a fake Notifier that records what would be published.
type notes struct {
	mu      sync.Mutex
	invalid map[push.Platform][]string
	faults  []string
}

func (n *notes) InvalidTokens(_ context.Context, _ credential.App, p push.Platform, tokens []string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.invalid[p] = append(n.invalid[p], tokens...)
	return nil
}

func (n *notes) CredentialInvalid(_ context.Context, _ credential.App, p push.Platform, reason string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = append(n.faults, string(p)+":"+reason)
	return nil
}

// rig is a sender over a bbolt store, with a fake Apple (strict trust)
// and a fake Google, and one app holding a certificate and a key.
type rig struct {
	store  *credential.Service
	apple  *apnstest.Server
	google *fcmtest.Server
	sender *dispatch.Sender
	notes  *notes
	app    credential.App
	cert   *testcred.Identity
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "d.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &rig{store: credential.NewService(credential.Config{Meta: st, Secrets: st}), notes: &notes{invalid: map[push.Platform][]string{}}}
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	trust := x509.NewCertPool()
	trust.AddCert(ca.Root())
	trust.AddCert(ca.Cert)
	if r.apple, err = apnstest.NewServer(apnstest.ServerConfig{Config: apnstest.Config{Environment: push.Production, ClientCAs: trust}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.apple.Close() })
	r.google = fcmtest.NewServer(t, fcmtest.Options{RecordMessages: true})
	gw := gateway.New(gateway.Config{
		APNs: apns.Config{ProductionURL: r.apple.URL, SandboxURL: r.apple.URL, RootCAs: r.apple.RootCAs},
		FCM:  fcm.Config{Endpoint: r.google.URL, TokenURL: r.google.TokenURL, RootCAs: r.google.RootCAs},
	})
	t.Cleanup(gw.Close)

	if r.cert, err = ca.IssuePush(testcred.PushCert{BundleID: "com.acme.app"}); err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, c := range append([]*x509.Certificate{r.cert.Cert}, r.cert.Chain...) {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(r.cert.Key)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{ProjectID: "acme-push"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.google.AddServiceAccount(sa); err != nil {
		t.Fatal(err)
	}
	r.app, err = r.store.Create(context.Background(), credential.CreateRequest{
		Tenant: "acme", ID: "shop", Name: "Shop", Enabled: true, Environment: push.Production,
		APNs: &credential.Upload{
			Material: credential.Material{Kind: credential.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))},
			Facts:    credential.Facts{BundleID: "com.acme.app", NotAfter: r.cert.Cert.NotAfter},
		},
		FCM: &credential.Upload{Material: credential.Material{Kind: credential.FCMJSON, ServiceAccountJSON: push.NewRedacted(sa)}, Facts: credential.Facts{ProjectID: "acme-push"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.sender = r.newSender("worker-1")
	return r
}

func (r *rig) newSender(owner string) *dispatch.Sender {
	cache := credential.NewCache(r.store, credential.CacheConfig{TTL: time.Millisecond})
	gw := gateway.New(gateway.Config{
		APNs: apns.Config{ProductionURL: r.apple.URL, SandboxURL: r.apple.URL, RootCAs: r.apple.RootCAs},
		FCM:  fcm.Config{Endpoint: r.google.URL, TokenURL: r.google.TokenURL, RootCAs: r.google.RootCAs},
	})
	return dispatch.New(dispatch.Config{Apps: cache, Ledger: r.store, Suspender: r.store, Clients: gw, Notifier: r.notes, Owner: owner, LeaseFor: time.Minute, MaxAttempts: 3})
}

func hexToken(i int) string { return fmt.Sprintf("%064x", i+1) }

func message(id string, apnsTokens, fcmTokens []string) *push.Message {
	return &push.Message{Version: 1, Tenant: "acme", AppID: "shop", MessageID: id,
		Tokens:       push.Tokens{APNs: apnsTokens, FCM: fcmTokens},
		Notification: push.Notification{Title: "Sale", Body: "50% off"}}
}

func TestSendDeliversAndNeverResendsACompletedMessage(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	apnsToks := []string{hexToken(1), hexToken(2), hexToken(3)}
	m := message("m1", apnsToks, []string{"fcm-a", "fcm-b"})
	d := dispatch.Delivery{Message: m}
	res, err := r.sender.Send(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Counts[credential.Delivered]; got != 5 || res.Retry != nil || len(res.Dead) != 0 {
		t.Fatalf("result = %+v, want 5 delivered and no follow-up", res)
	}
	if err := r.sender.Complete(ctx, d); err != nil {
		t.Fatal(err)
	}
	before := r.apple.Total() + r.google.TotalRequests()
	again, err := r.newSender("worker-2").Send(ctx, d)
	if err != nil || !again.AlreadyDone {
		t.Fatalf("redelivery = %+v, %v; want AlreadyDone", again, err)
	}
	if after := r.apple.Total() + r.google.TotalRequests(); after != before {
		t.Errorf("a completed message reached the providers again (%d -> %d requests)", before, after)
	}
	if req, ok := r.apple.LastFor(apnsToks[0]); !ok || req.Header.Get("apns-id") != apns.NotificationID("m1", apnsToks[0]) {
		t.Errorf("apns-id not derived from (message, token): %+v", req.Header)
	}
}

func TestOutcomesAndFollowUp(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	toks := []string{hexToken(10), hexToken(11), hexToken(12)}
	r.apple.Script(toks[1], apnstest.Response{Status: 410, Reason: "Unregistered"})
	r.apple.Script(toks[2], apnstest.Response{Status: 503, Reason: "ServiceUnavailable"})
	r.google.ScriptToken("fcm-quota", fcmtest.QuotaExceeded("30"))
	r.google.ScriptToken("fcm-dead", fcmtest.Unregistered())
	r.google.ScriptToken("fcm-bad", fcmtest.InvalidArgument("message.android.ttl", "Invalid value at 'message.android.ttl'"))
	m := message("m2", toks, []string{"fcm-ok", "fcm-quota", "fcm-dead", "fcm-bad"})
	res, err := r.sender.Send(ctx, dispatch.Delivery{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	want := map[credential.Result]int{credential.Delivered: 2, credential.InvalidToken: 2, credential.Retry: 2, credential.Rejected: 1}
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
	r.notes.mu.Lock()
	defer r.notes.mu.Unlock()
	if len(r.notes.invalid[push.APNs]) != 1 || len(r.notes.invalid[push.FCM]) != 1 {
		t.Errorf("invalid tokens published = %v", r.notes.invalid)
	}
}

func TestRetriesEndInTheDeadLetterQueue(t *testing.T) {
	r := newRig(t)
	tok := hexToken(20)
	r.apple.Script(tok, apnstest.Response{Status: 500, Reason: "InternalServerError"})
	res, err := r.sender.Send(context.Background(), dispatch.Delivery{Message: message("m3", []string{tok}, nil), Attempt: 2})
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
	r.apple.Revoke(r.cert.Cert)
	toks := []string{hexToken(30), hexToken(31)}
	res, err := r.sender.Send(context.Background(), dispatch.Delivery{Message: message("m4", toks, []string{"fcm-1"})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[credential.CredentialFault] != 2 || res.Counts[credential.Delivered] != 1 {
		t.Fatalf("counts = %v", res.Counts)
	}
	app, err := r.store.Get(context.Background(), "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if app.APNs.Status.State != credential.Suspended || app.FCM.Status.State != credential.OK {
		t.Errorf("status = apns %s, fcm %s", app.APNs.Status.State, app.FCM.Status.State)
	}
	if len(r.notes.faults) != 1 {
		t.Errorf("credential-invalid events = %v", r.notes.faults)
	}
	// A suspended platform is not even tried: its tokens wait in the DLQ.
	before := r.apple.Counts().Total
	res, err = r.sender.Send(context.Background(), dispatch.Delivery{Message: message("m5", []string{hexToken(32)}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dead) != 1 || res.Dead[0].Reason != dispatch.ReasonPlatformSuspended || r.apple.Counts().Total != before {
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
	if _, err := r.store.Lease(ctx, key, "dead-worker", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := r.store.RecordOutcome(ctx, key, "dead-worker", credential.Outcome{Platform: push.APNs, Token: toks[0], Result: credential.Retry, Reason: "network_error"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	res, err := r.sender.Send(ctx, dispatch.Delivery{Message: m})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.apple.Counts(); c.ByToken[toks[0]] != 0 || c.ByToken[toks[1]] != 1 || c.ByToken[toks[2]] != 1 {
		t.Errorf("requests per token = %v", c.ByToken)
	}
	if res.Counts[credential.Delivered] != 2 || res.Counts[credential.Retry] != 1 || res.Retry == nil || res.Retry.Message.Tokens.APNs[0] != toks[0] {
		t.Errorf("resumed result = %+v", res)
	}
}

func TestDisabledAppIsRejected(t *testing.T) {
	r := newRig(t)
	off := false
	if _, err := r.store.Update(context.Background(), credential.UpdateRequest{Tenant: "acme", ID: "shop", Patch: credential.Patch{Enabled: &off}}); err != nil {
		t.Fatal(err)
	}
	res, err := r.newSender("w").Send(context.Background(), dispatch.Delivery{Message: message("m7", []string{hexToken(50)}, []string{"f"})})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[credential.Rejected] != 2 || len(res.Dead) != 1 || res.Dead[0].Reason != dispatch.ReasonAppDisabled || r.apple.Total() != 0 {
		t.Errorf("disabled app = %+v", res)
	}
}
