package fcm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"

	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

func TestClassifyWithoutFirebase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		want       push.Outcome
		wantReason string
	}{
		{"nil", nil, push.Delivered, ""},
		{"invalid_grant", &TokenError{Status: 400, Code: "invalid_grant", Description: "Invalid JWT Signature."}, push.CredentialFault, "invalid_grant"},
		{"invalid_grant wrapped", push.E("x", push.Unprocessable, fmt.Errorf("mint: %w", &TokenError{Status: 400, Code: "invalid_grant"})), push.CredentialFault, "invalid_grant"},
		{"token endpoint 503", &TokenError{Status: 503}, push.Retry, "oauth_unavailable"},
		{"token endpoint unreachable", &TokenError{Err: errors.New("dial tcp: refused")}, push.Retry, "network_error"},
		{"deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), push.Retry, "deadline"},
		{"library validation", errors.New("exactly one of token, topic or condition must be specified"), push.Rejected, "invalid_message"},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got.Outcome != tt.want || got.Reason != tt.wantReason {
			t.Errorf("%s: Classify = %+v, want %s %q", tt.name, got, tt.want, tt.wantReason)
		}
	}
}

// TestClassifySeesThroughWrapping: firebase's Is* helpers fail on a
// wrapped error; Classify walks the chain, so wrapping does not change
// the verdict.
func TestClassifySeesThroughWrapping(t *testing.T) {
	t.Parallel()
	srv := fcmtest.NewServer(t, fcmtest.Options{})
	keys, err := testcred.RSAKeys(1)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{ProjectID: "wrap-project", Key: keys[0]}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddServiceAccount(sa); err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), push.NewRedacted(sa), Config{Endpoint: srv.URL, TokenURL: srv.TokenURL, RootCAs: srv.RootCAs})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv.ScriptToken("dead", fcmtest.Unregistered())
	_, raw := c.msg.Send(context.Background(), &messaging.Message{Token: "dead"})
	if !messaging.IsUnregistered(raw) {
		t.Fatalf("raw error %v is not UNREGISTERED", raw)
	}
	wrapped := push.E("dispatch.send", push.Transient, fmt.Errorf("token: %w", raw))
	if messaging.IsUnregistered(wrapped) {
		t.Fatal("firebase's helper now sees through wrapping; simplify Classify")
	}
	for _, e := range []error{raw, wrapped} {
		if got := Classify(e); got.Outcome != push.InvalidToken || got.Reason != "UNREGISTERED" || got.HTTPStatus != http.StatusNotFound {
			t.Errorf("Classify(%v) = %+v, want invalid_token UNREGISTERED 404", e, got)
		}
	}
}

func TestNamesToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"field violation on token", string(fcmtest.InvalidToken().Body()), true},
		{"field violation elsewhere", string(fcmtest.InvalidArgument("message.android.ttl", "bad ttl").Body()), false},
		{"message text only", `{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT"}}`, true},
		{"other message text", `{"error":{"code":400,"message":"Invalid value at 'message.data[0].value'","status":"INVALID_ARGUMENT"}}`, false},
		{"not json", `<html>`, false},
	}
	for _, tt := range tests {
		if got := namesToken([]byte(tt.body)); got != tt.want {
			t.Errorf("%s: namesToken = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"30", 30 * time.Second},
		{"-3", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
