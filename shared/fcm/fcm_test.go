package fcm_test

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"

	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// account is a minted service account: its JSON and identity.
type account struct {
	json    []byte
	email   string
	project string
	keyID   string
}

// newAccount mints a service-account key of project with the n-th
// shared test key (n < 3).
func newAccount(t *testing.T, project string, n int, mut func(*testcred.ServiceAccount)) account {
	t.Helper()
	keys, err := testcred.RSAKeys(3)
	if err != nil {
		t.Fatal(err)
	}
	sa := testcred.ServiceAccount{
		ProjectID:    project,
		ClientEmail:  fmt.Sprintf("firebase-adminsdk-%d@%s.iam.gserviceaccount.com", n, project),
		PrivateKeyID: fmt.Sprintf("%040d", n),
		Key:          keys[n],
	}
	if mut != nil {
		mut(&sa)
	}
	b, err := sa.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return account{json: b, email: sa.ClientEmail, project: sa.ProjectID, keyID: sa.PrivateKeyID}
}

// setup starts a fake with a registered account and a client for it.
func setup(t *testing.T) (*fcmtest.Server, account, *fcm.Client) {
	t.Helper()
	srv := fcmtest.NewServer(t, fcmtest.Options{RecordMessages: true})
	acc := newAccount(t, "demo-project", 0, nil)
	if err := srv.AddServiceAccount(acc.json); err != nil {
		t.Fatal(err)
	}
	return srv, acc, newClient(t, srv, acc, nil)
}

func newClient(t *testing.T, srv *fcmtest.Server, acc account, mut func(*fcm.Config)) *fcm.Client {
	t.Helper()
	cfg := fcm.Config{Endpoint: srv.URL, TokenURL: srv.TokenURL, RootCAs: srv.RootCAs, RequestTimeout: 5 * time.Second, HTTP2Client: stack}
	if mut != nil {
		mut(&cfg)
	}
	c, err := fcm.New(context.Background(), push.NewRedacted(acc.json), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// closedURL returns an https URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr
}

func TestUploadedTokenURINeverReceivesAssertions(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"stolen","expires_in":3599,"token_type":"Bearer"}`))
	}))
	t.Cleanup(trap.Close)

	srv := fcmtest.NewServer(t, fcmtest.Options{})
	acc := newAccount(t, "ssrf-project", 0, func(sa *testcred.ServiceAccount) {
		sa.TokenURI = trap.URL + "/token"
		sa.UniverseDomain = "attacker.example"
	})
	if err := srv.AddServiceAccount(acc.json); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv, acc, nil)

	if got := c.Check(context.Background()); got.Code != push.LiveOK {
		t.Fatalf("Check = %+v, want live_ok", got)
	}
	res := c.Send(context.Background(), []*messaging.Message{{Token: "device-a"}})
	if got := res[0].Verdict.Outcome; got != push.Delivered {
		t.Fatalf("Send outcome = %v (%+v), want delivered", got, res[0].Verdict)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the key's token_uri received %d requests, want 0", n)
	}
	if n := srv.TokenRequests(); n < 1 {
		t.Errorf("configured token endpoint received %d requests, want >= 1", n)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		arrange    func(t *testing.T, srv *fcmtest.Server, acc account)
		cfg        func(*fcm.Config)
		timeout    time.Duration
		want       push.LiveCode
		wantReason string
	}{
		{name: "accepted", want: push.LiveOK, wantReason: "validate_only accepted"},
		{
			name: "test token refused as invalid",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				register(t, srv, acc)
				srv.ScriptToken(fcm.CheckToken, fcmtest.InvalidToken())
			},
			want: push.LiveOK, wantReason: "INVALID_ARGUMENT",
		},
		{
			name: "test token unregistered",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				register(t, srv, acc)
				srv.ScriptToken(fcm.CheckToken, fcmtest.Unregistered())
			},
			want: push.LiveOK, wantReason: "UNREGISTERED",
		},
		{
			name:    "key never registered",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {},
			want:    push.OAuthInvalidGrant, wantReason: "invalid_grant: Invalid grant: account not found",
		},
		{
			name: "signed by another key",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				other := newAccount(t, acc.project, 1, nil)
				srv.AddKey(acc.email, acc.project, acc.keyID, mustPub(t, other))
			},
			want: push.OAuthInvalidGrant, wantReason: "invalid_grant: Invalid JWT Signature.",
		},
		{
			name: "key deleted",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				register(t, srv, acc)
				srv.DeleteKey(acc.email, acc.keyID)
			},
			want: push.OAuthInvalidGrant, wantReason: "invalid_grant: Invalid JWT Signature.",
		},
		{
			name: "account disabled",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				register(t, srv, acc)
				srv.DisableAccount(acc.email)
			},
			want: push.OAuthInvalidGrant, wantReason: "invalid_grant: Robot is disabled.",
		},
		{
			name: "account of another project",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				srv.AddKey(acc.email, "other-project", acc.keyID, mustPub(t, acc))
			},
			want: push.PermissionDenied, wantReason: "PERMISSION_DENIED",
		},
		{
			name: "project not found",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				register(t, srv, acc)
				srv.ScriptProject(acc.project, fcmtest.ProjectNotFound())
			},
			want: push.PermissionDenied, wantReason: "NOT_FOUND",
		},
		{
			name: "sender id mismatch",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				register(t, srv, acc)
				srv.ScriptProject(acc.project, fcmtest.SenderIDMismatch())
			},
			want: push.SenderIDMismatch, wantReason: "SENDER_ID_MISMATCH",
		},
		{
			name: "fcm unavailable",
			arrange: func(t *testing.T, srv *fcmtest.Server, acc account) {
				register(t, srv, acc)
				srv.ScriptToken(fcm.CheckToken, fcmtest.Unavailable("300"))
			},
			want: push.LiveUnreachable, wantReason: "UNAVAILABLE",
		},
		{
			name:    "token endpoint unreachable",
			arrange: register,
			cfg:     func(c *fcm.Config) { c.TokenURL = closedURL(t) + "/token" },
			want:    push.LiveUnreachable, wantReason: "network error",
		},
		{
			name:    "fcm unreachable",
			arrange: register,
			cfg:     func(c *fcm.Config) { c.Endpoint = closedURL(t) },
			timeout: 500 * time.Millisecond, // firebase retries network errors for ≈7 s
			want:    push.LiveUnreachable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fcmtest.NewServer(t, fcmtest.Options{})
			acc := newAccount(t, "check-project", 0, nil)
			if tt.arrange == nil {
				register(t, srv, acc)
			} else {
				tt.arrange(t, srv, acc)
			}
			c := newClient(t, srv, acc, tt.cfg)
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			got := c.Check(ctx)
			if got.Code != tt.want {
				t.Fatalf("Check = %+v, want code %s", got, tt.want)
			}
			if !strings.HasPrefix(got.ProviderReason, tt.wantReason) {
				t.Errorf("ProviderReason = %q, want prefix %q", got.ProviderReason, tt.wantReason)
			}
			if got.Message == "" {
				t.Error("Message is empty")
			}
			assertNoSecret(t, got, acc)
		})
	}
}

func register(t *testing.T, srv *fcmtest.Server, acc account) {
	t.Helper()
	if err := srv.AddServiceAccount(acc.json); err != nil {
		t.Fatal(err)
	}
}

func mustPub(t *testing.T, acc account) *rsa.PublicKey {
	t.Helper()
	keys, err := testcred.RSAKeys(3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		if strings.HasSuffix(acc.keyID, fmt.Sprint(i)) {
			return &keys[i].PublicKey
		}
	}
	t.Fatalf("no key for %s", acc.keyID)
	return nil
}

// assertNoSecret fails if v, rendered as JSON, contains key material.
func assertNoSecret(t *testing.T, v any, acc account) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var sa struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(acc.json, &sa); err != nil {
		t.Fatal(err)
	}
	body := strings.Split(sa.PrivateKey, "\n")[1]
	for _, bad := range []string{"PRIVATE KEY", body[:32]} {
		if strings.Contains(string(b), bad) {
			t.Errorf("%s contains secret material %q", b, bad)
		}
	}
}

func TestSendClassifiesEveryRow(t *testing.T) {
	t.Parallel()
	srv, acc, c := setup(t)
	tests := []struct {
		token          string
		script         []fcmtest.Reply
		msg            *messaging.Message // default {Token: token}
		want           push.Outcome
		wantReason     string
		wantRetryAfter time.Duration
		wantRequests   int
	}{
		{token: "ok", want: push.Delivered, wantRequests: 1},
		{token: "unregistered", script: []fcmtest.Reply{fcmtest.Unregistered()}, want: push.InvalidToken, wantReason: "UNREGISTERED", wantRequests: 1},
		{token: "bad-token", script: []fcmtest.Reply{fcmtest.InvalidToken()}, want: push.InvalidToken, wantReason: "INVALID_ARGUMENT", wantRequests: 1},
		{token: "bad-field", script: []fcmtest.Reply{fcmtest.InvalidArgument("message.android.notification.color", "Invalid color value")}, want: push.Rejected, wantReason: "INVALID_ARGUMENT", wantRequests: 1},
		{token: "too-big", msg: &messaging.Message{Token: "too-big", Data: map[string]string{"k": strings.Repeat("x", 5000)}}, want: push.Rejected, wantReason: "INVALID_ARGUMENT", wantRequests: 1},
		{token: "two-targets", msg: &messaging.Message{Token: "two-targets", Topic: "news"}, want: push.Rejected, wantReason: "invalid_message", wantRequests: 0},
		{token: "quota", script: []fcmtest.Reply{fcmtest.QuotaExceeded("30")}, want: push.Retry, wantReason: "QUOTA_EXCEEDED", wantRetryAfter: 30 * time.Second, wantRequests: 1},
		{token: "unavailable", script: []fcmtest.Reply{fcmtest.Unavailable("300")}, want: push.Retry, wantReason: "UNAVAILABLE", wantRetryAfter: 300 * time.Second, wantRequests: 1},
		{token: "503-once", script: []fcmtest.Reply{fcmtest.Unavailable(""), fcmtest.OK()}, want: push.Delivered, wantRequests: 2},
		{token: "internal", script: []fcmtest.Reply{fcmtest.Internal()}, want: push.Retry, wantReason: "INTERNAL", wantRequests: 1},
		{token: "unauthenticated", script: []fcmtest.Reply{fcmtest.Unauthenticated()}, want: push.CredentialFault, wantReason: "UNAUTHENTICATED", wantRequests: 2},
		{token: "unauth-once", script: []fcmtest.Reply{fcmtest.Unauthenticated(), fcmtest.OK()}, want: push.Delivered, wantRequests: 2},
		{token: "sender-id", script: []fcmtest.Reply{fcmtest.SenderIDMismatch()}, want: push.CredentialFault, wantReason: "SENDER_ID_MISMATCH", wantRequests: 1},
		{token: "third-party", script: []fcmtest.Reply{fcmtest.ThirdPartyAuthError()}, want: push.CredentialFault, wantReason: "THIRD_PARTY_AUTH_ERROR", wantRequests: 1},
		{token: "denied", script: []fcmtest.Reply{fcmtest.PermissionDenied(acc.project)}, want: push.CredentialFault, wantReason: "PERMISSION_DENIED", wantRequests: 1},
	}
	msgs := make([]*messaging.Message, len(tests))
	for i, tt := range tests {
		if tt.script != nil {
			srv.ScriptToken(tt.token, tt.script...)
		}
		msgs[i] = tt.msg
		if msgs[i] == nil {
			msgs[i] = &messaging.Message{Token: tt.token, Data: map[string]string{"k": "v"}}
		}
	}
	res := c.Send(context.Background(), msgs)
	if len(res) != len(tests) {
		t.Fatalf("got %d results, want %d", len(res), len(tests))
	}
	for i, tt := range tests {
		got := res[i].Verdict
		if got.Outcome != tt.want || got.Reason != tt.wantReason || got.RetryAfter != tt.wantRetryAfter {
			t.Errorf("%s: verdict = {%s %q retry-after %v} (%q), want {%s %q %v}", tt.token, got.Outcome, got.Reason, got.RetryAfter, got.Detail, tt.want, tt.wantReason, tt.wantRetryAfter)
		}
		if (got.Outcome == push.Delivered) != (res[i].MessageID != "") {
			t.Errorf("%s: MessageID = %q with outcome %s", tt.token, res[i].MessageID, got.Outcome)
		}
		if n := srv.Requests(tt.token); n != tt.wantRequests {
			t.Errorf("%s: fake received %d requests, want %d", tt.token, n, tt.wantRequests)
		}
	}
}

func TestSendWithRefusedKeyContactsNoFCM(t *testing.T) {
	t.Parallel()
	srv := fcmtest.NewServer(t, fcmtest.Options{})
	acc := newAccount(t, "gone-project", 0, nil)
	register(t, srv, acc)
	srv.DeleteAccount(acc.email)
	c := newClient(t, srv, acc, nil)

	res := c.Send(context.Background(), []*messaging.Message{{Token: "a"}, {Token: "b"}})
	for i, r := range res {
		if r.Verdict.Outcome != push.CredentialFault || r.Verdict.Reason != "invalid_grant" {
			t.Errorf("result %d = %+v, want credential_fault invalid_grant", i, r.Verdict)
		}
	}
	if n := srv.TotalRequests(); n != 0 {
		t.Errorf("FCM received %d requests, want 0", n)
	}
}

func TestSendRefreshesRevokedTokenOnce(t *testing.T) {
	t.Parallel()
	srv, _, c := setup(t)
	if r := c.Send(context.Background(), []*messaging.Message{{Token: "x"}}); r[0].Verdict.Outcome != push.Delivered {
		t.Fatalf("first send = %+v", r[0].Verdict)
	}
	before := srv.TokenRequests()
	srv.RevokeAccessTokens()
	r := c.Send(context.Background(), []*messaging.Message{{Token: "x"}})
	if r[0].Verdict.Outcome != push.Delivered || !r[0].Refreshed {
		t.Fatalf("send after revocation = %+v refreshed=%v, want delivered after a refresh", r[0].Verdict, r[0].Refreshed)
	}
	if got := srv.TokenRequests() - before; got != 1 {
		t.Errorf("token requests after revocation = %d, want 1", got)
	}
}

func TestSendLargeBatchWarmsOneConnection(t *testing.T) {
	t.Parallel()
	srv, _, c := setup(t)
	const n = 1234
	msgs := make([]*messaging.Message, n)
	for i := range msgs {
		msgs[i] = &messaging.Message{
			Token:        fmt.Sprintf("tok-%04d", i),
			Notification: &messaging.Notification{Title: "t", Body: "b"},
			Android:      &messaging.AndroidConfig{Priority: "high", TTL: ptr(time.Hour)},
		}
	}
	res := c.Send(context.Background(), msgs)
	for i, r := range res {
		if r.Verdict.Outcome != push.Delivered {
			t.Fatalf("message %d: %+v", i, r.Verdict)
		}
	}
	if got := srv.TotalRequests(); got != n+1 { // +1: the warm-up
		t.Errorf("fake received %d sends, want %d", got, n+1)
	}
	// One connection to the token endpoint, and for the sends as many as
	// 8 SendEach calls of 50 requests in flight need under the fake's
	// limit of 250 streams per connection: 2. A cold burst would dial one
	// per concurrent request.
	if got := srv.Connections(); got > 3 {
		t.Errorf("client opened %d connections, want at most 3 (1 token + 2 send)", got)
	}
	m, ok := srv.MessageFor("tok-0007")
	if !ok {
		t.Fatal("no message recorded for tok-0007")
	}
	var got struct {
		Android struct {
			TTL      string `json:"ttl"`
			Priority string `json:"priority"`
		} `json:"android"`
	}
	if err := m.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Android.TTL != "3600s" || got.Android.Priority != "high" || m.ValidateOnly {
		t.Errorf("recorded message = %+v validate_only=%v", got, m.ValidateOnly)
	}
}

func TestNewRefusesBadKeysWithoutQuotingThem(t *testing.T) {
	t.Parallel()
	acc := newAccount(t, "p-project", 0, nil)
	var m map[string]any
	if err := json.Unmarshal(acc.json, &m); err != nil {
		t.Fatal(err)
	}
	noEmail := clone(m)
	delete(noEmail, "client_email")
	wrongType := clone(m)
	wrongType["type"] = "authorized_user"
	badKey := clone(m)
	badKey["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
	tests := []struct {
		name string
		in   []byte
	}{
		{"not json", []byte("{" + string(acc.json))},
		{"missing client_email", marshal(t, noEmail)},
		{"wrong type", marshal(t, wrongType)},
		{"unparsable key", marshal(t, badKey)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := fcm.New(context.Background(), push.NewRedacted(tt.in), fcm.Config{})
			if !push.Is(err, push.Unprocessable) {
				t.Fatalf("New error = %v, want Unprocessable", err)
			}
			if strings.Contains(err.Error(), "AAAA") || strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
