package localsend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"mobilepush/shared/credential"
	"mobilepush/shared/httpapi"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/push"
)

// appsOf serves the apps it holds, by "tenant/id".
type appsOf map[string]credential.App

func (a appsOf) App(_ context.Context, tenant, id string) (credential.App, error) {
	if app, ok := a[tenant+"/"+id]; ok {
		return app, nil
	}
	return credential.App{}, push.E("fake", push.NotFound, errors.New("no app"))
}

// apiClient serves api's routes and sends requests as a tenant.
func apiClient(api *API) func(t *testing.T, method, path, tenant, body string) (int, map[string]any) {
	mux := http.NewServeMux()
	for p, h := range api.Routes(httpapi.Config{Auth: tokenAuth{}}) {
		mux.Handle(p, h)
	}
	return func(t *testing.T, method, path, tenant, body string) (int, map[string]any) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tenant)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: not JSON: %s", method, path, rec.Body)
		}
		return rec.Code, out
	}
}

func queued(t *testing.T, q *localqueue.Queue) int {
	t.Helper()
	n := 0
	if err := q.Peek(context.Background(), false, func(localqueue.Message) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	return n
}

func errCode(out map[string]any) (string, string) {
	e, _ := out["error"].(map[string]any)
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	return code, msg
}

// TestMessageIDMeansOneMessage: a tenant's message id names one message.
// The same message again is answered 202 with the first one's state and
// queued once; other content under the id is 409 naming it; another
// tenant's ids are its own.
func TestMessageIDMeansOneMessage(t *testing.T) {
	st, q := newQueue(t)
	all := credential.App{Enabled: true, APNs: &credential.Meta{}, FCM: &credential.Meta{}}
	ledger := fakeLedger{}
	call := apiClient(&API{Inbox: q, Ledger: ledger, IDs: st, Apps: appsOf{"acme/shop": all, "globex/shop": all}})
	body := func(tok string) string {
		return fmt.Sprintf(`{"version":1,"message_id":"order-1","app_id":"shop","tokens":{"apns":[%q]},"notification":{"title":"Hi"}}`, tok)
	}
	other := strings.Repeat("cd", 32)
	reordered := fmt.Sprintf(`{"notification":{"title":"Hi"},"tokens":{"apns":[%q]},"app_id":"shop","message_id":"order-1","version":1}`, apnsToken)

	status, out := call(t, "POST", "/v1/messages", "acme", body(apnsToken))
	if status != 202 || out["message_id"] != "order-1" || out["state"] != StateQueued {
		t.Fatalf("first = %d %v, want 202 queued", status, out)
	}
	ledger[0] = []credential.Outcome{{Platform: push.APNs, Token: apnsToken, Result: push.Delivered}}
	for name, b := range map[string]string{"the same message again": body(apnsToken), "the same message, fields reordered": reordered} {
		status, out = call(t, "POST", "/v1/messages", "acme", b)
		counts, _ := out["counts"].(map[string]any)
		if status != 202 || out["message_id"] != "order-1" || out["state"] != StateQueued || counts["delivered"] != 1.0 {
			t.Errorf("%s = %d %v, want 202 with the first one's state and counts", name, status, out)
		}
	}
	if n := queued(t, q); n != 1 {
		t.Errorf("%d messages queued, want the first only", n)
	}
	status, out = call(t, "POST", "/v1/messages", "acme", body(other))
	if code, msg := errCode(out); status != 409 || code != "conflict" || !strings.Contains(msg, `"order-1"`) {
		t.Errorf("other content under the id = %d %v, want 409 conflict naming order-1", status, out)
	}
	if status, out = call(t, "POST", "/v1/messages", "globex", body(other)); status != 202 || out["state"] != StateQueued {
		t.Errorf("another tenant's order-1 = %d %v, want 202", status, out)
	}
	if n := queued(t, q); n != 2 {
		t.Errorf("%d messages queued, want 2 (acme's and globex's)", n)
	}
}

// TestNothingAcceptedThatCannotBeSent: a message with tokens for a
// platform the app has no credential for, or for a disabled app, is
// refused whole (422 naming the platform), and nothing is queued.
func TestNothingAcceptedThatCannotBeSent(t *testing.T) {
	st, q := newQueue(t)
	call := apiClient(&API{Inbox: q, Ledger: fakeLedger{}, IDs: st, Apps: appsOf{
		"acme/ios":  {ID: "ios", Enabled: true, APNs: &credential.Meta{}},
		"acme/off":  {ID: "off", Enabled: false, APNs: &credential.Meta{}, FCM: &credential.Meta{}},
		"acme/both": {ID: "both", Enabled: true, APNs: &credential.Meta{}, FCM: &credential.Meta{}},
	}})
	msg := func(app string, apns, fcm bool) string {
		var toks []string
		if apns {
			toks = append(toks, fmt.Sprintf(`"apns":[%q]`, apnsToken))
		}
		if fcm {
			toks = append(toks, `"fcm":["fcm-device-1"]`)
		}
		return fmt.Sprintf(`{"version":1,"app_id":%q,"tokens":{%s},"notification":{"title":"Hi"}}`, app, strings.Join(toks, ","))
	}
	for _, tc := range []struct {
		name, body  string
		status      int
		code, names string
	}{
		{"fcm tokens, no fcm credential", msg("ios", true, true), 422, "platform_unconfigured", "tokens.fcm"},
		{"only fcm tokens, no fcm credential", msg("ios", false, true), 422, "platform_unconfigured", "fcm credential"},
		{"disabled app", msg("off", true, false), 422, "app_disabled", "apns tokens"},
		{"disabled app, both platforms", msg("off", true, true), 422, "app_disabled", "apns and fcm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, "POST", "/v1/messages", "acme", tc.body)
			code, message := errCode(out)
			if status != tc.status || code != tc.code || !strings.Contains(message, tc.names) {
				t.Errorf("= %d %v, want %d %s naming %q", status, out, tc.status, tc.code, tc.names)
			}
		})
	}
	if n := queued(t, q); n != 0 {
		t.Fatalf("%d refused messages were queued", n)
	}
	for _, b := range []string{msg("ios", true, false), msg("both", true, true)} {
		if status, out := call(t, "POST", "/v1/messages", "acme", b); status != 202 {
			t.Errorf("a sendable message = %d %v, want 202", status, out)
		}
	}
}

// TestStatusReasons: GET /v1/messages/{id} gives the reasons behind its
// counts, by result, from each token's final outcome.
func TestStatusReasons(t *testing.T) {
	_, q := newQueue(t)
	ledger := fakeLedger{}
	api := &API{Inbox: q, Ledger: ledger}
	call := apiClient(api)
	status, out := call(t, "POST", "/v1/messages", "acme", fmt.Sprintf(`{"version":1,"message_id":"m-r","app_id":"shop","tokens":{"apns":[%q],"fcm":["f1","f2","f3"]},"notification":{"title":"Hi"}}`, apnsToken))
	if status != 202 {
		t.Fatalf("post = %d %v", status, out)
	}
	if _, ok := out["reasons"]; ok {
		t.Errorf("a queued message has reasons: %v", out)
	}
	ledger[0] = []credential.Outcome{
		{Platform: push.APNs, Token: apnsToken, Result: push.Retry, Reason: "network_error"},
		{Platform: push.FCM, Token: "f1", Result: push.Rejected, Reason: "platform_unconfigured"},
		{Platform: push.FCM, Token: "f2", Result: push.Rejected, Reason: "platform_unconfigured"},
		{Platform: push.FCM, Token: "f3", Result: push.InvalidToken, Reason: "UNREGISTERED"},
	}
	ledger[1] = []credential.Outcome{{Platform: push.APNs, Token: apnsToken, Result: push.Delivered}}
	status, out = call(t, "GET", "/v1/messages/m-r", "acme", "")
	got, _ := json.Marshal(out["reasons"])
	if want := `{"invalid_token":{"UNREGISTERED":1},"rejected":{"platform_unconfigured":2}}`; status != 200 || string(got) != want {
		t.Errorf("reasons = %d %s, want %s (a retried then delivered token has no reason left)", status, got, want)
	}
	counts, _ := out["counts"].(map[string]any)
	if counts["rejected"] != 2.0 || counts["delivered"] != 1.0 || counts["invalid_token"] != 1.0 {
		t.Errorf("counts = %v", counts)
	}
}
