package apns_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"mobilepush/shared/apns"
	"mobilepush/shared/push"
)

// refreshThenFault stands in the table for Classify's (CredentialFault,
// refresh) answer: refresh the provider token once, then it is a
// credential fault.
const refreshThenFault push.Outcome = "refresh_then_credential_fault"

// TestClassify covers every row of the APNs column (docs/ARCHITECTURE.md, Outcomes).
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		reason    string
		confirmed bool
		want      push.Outcome
	}{
		// delivered
		{200, "", false, push.Delivered},
		{200, "", true, push.Delivered},
		// invalid_token
		{410, "Unregistered", false, push.InvalidToken},
		{410, "ExpiredToken", false, push.InvalidToken},
		{410, "SomethingNew", false, push.InvalidToken},
		{400, "BadDeviceToken", true, push.InvalidToken},
		{400, "DeviceTokenNotForTopic", true, push.InvalidToken},
		// rejected: BadDeviceToken before the environment is confirmed
		{400, "BadDeviceToken", false, push.Rejected},
		{400, "DeviceTokenNotForTopic", false, push.Rejected},
		// retry
		{429, "TooManyRequests", true, push.Retry},
		{429, "TooManyProviderTokenUpdates", true, push.Retry},
		{500, "InternalServerError", true, push.Retry},
		{503, "ServiceUnavailable", true, push.Retry},
		{503, "Shutdown", true, push.Retry},
		{502, "", true, push.Retry},
		{400, "IdleTimeout", true, push.Retry},
		// refresh once, then credential_fault
		{403, "ExpiredProviderToken", true, refreshThenFault},
		// credential_fault
		{403, "BadCertificate", true, push.CredentialFault},
		{403, "BadCertificateEnvironment", true, push.CredentialFault},
		{403, "InvalidProviderToken", true, push.CredentialFault},
		{403, "MissingProviderToken", true, push.CredentialFault},
		{403, "Forbidden", true, push.CredentialFault},
		{400, "TopicDisallowed", true, push.CredentialFault},
		{400, "BadTopic", true, push.CredentialFault},
		// rejected
		{413, "PayloadTooLarge", true, push.Rejected},
		{400, "BadExpirationDate", true, push.Rejected},
		{400, "BadPriority", true, push.Rejected},
		{400, "BadCollapseId", true, push.Rejected},
		{400, "BadMessageId", true, push.Rejected},
		{400, "InvalidPushType", true, push.Rejected},
		{400, "PayloadEmpty", true, push.Rejected},
		{400, "MissingTopic", true, push.Rejected},
		{405, "MethodNotAllowed", true, push.Rejected},
		{404, "BadPath", true, push.Rejected},
		{400, "AReasonAppleAddsLater", true, push.Rejected},
	}
	for _, tt := range tests {
		got, refresh := apns.Classify(tt.status, tt.reason, tt.confirmed)
		if refresh {
			if got != push.CredentialFault {
				t.Errorf("Classify(%d, %q) = %s with refresh, want credential_fault", tt.status, tt.reason, got)
			}
			got = refreshThenFault
		}
		if got != tt.want {
			t.Errorf("Classify(%d, %q, confirmed=%v) = %s, want %s", tt.status, tt.reason, tt.confirmed, got, tt.want)
		}
	}
}

func TestResponseOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    apns.Response
		want push.Outcome
	}{
		// Push returns ExpiredProviderToken unrefreshed only when it could
		// not sign a fresh provider token: the credential is at fault.
		{apns.Response{Status: 403, Reason: "ExpiredProviderToken"}, push.CredentialFault},
		{apns.Response{Status: 403, Reason: "ExpiredProviderToken", TokenRefreshed: true}, push.CredentialFault},
		{apns.Response{Status: 200, TokenRefreshed: true}, push.Delivered},
	}
	for _, tt := range tests {
		if got := tt.r.Outcome(true); got != tt.want {
			t.Errorf("%+v.Outcome = %s, want %s", tt.r, got, tt.want)
		}
	}
}

func TestClassifyError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want push.Outcome
	}{
		{nil, push.Delivered},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, push.CredentialFault},
		{fmt.Errorf("push: %w", errors.New("read tcp: remote error: tls: certificate expired")), push.CredentialFault},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, push.Retry},
		{context.DeadlineExceeded, push.Retry},
		{errors.New("http2: client connection lost"), push.Retry},
	}
	for _, tt := range tests {
		if got := apns.ClassifyError(tt.err); got != tt.want {
			t.Errorf("ClassifyError(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

// TestReadAnswer: the outcome and the reason the sender records, with
// and without an answer.
func TestReadAnswer(t *testing.T) {
	t.Parallel()
	tlsAlert := push.E("apns.Client.Push", push.Unprocessable, &net.OpError{Op: "remote error", Err: errors.New("tls: certificate expired")})
	tests := []struct {
		name       string
		resp       apns.Response
		err        error
		confirmed  bool
		want       push.Outcome
		wantReason string
	}{
		{"delivered", apns.Response{Status: 200}, nil, false, push.Delivered, ""},
		{"dead token", apns.Response{Status: 410, Reason: "Unregistered"}, nil, false, push.InvalidToken, "Unregistered"},
		{"bad token, environment confirmed", apns.Response{Status: 400, Reason: "BadDeviceToken"}, nil, true, push.InvalidToken, "BadDeviceToken"},
		{"bad token, environment unconfirmed", apns.Response{Status: 400, Reason: "BadDeviceToken"}, nil, false, push.Rejected, apns.TokenEnvironmentUnconfirmed},
		{"not for topic, environment unconfirmed", apns.Response{Status: 400, Reason: "DeviceTokenNotForTopic"}, nil, false, push.Rejected, apns.TokenEnvironmentUnconfirmed},
		{"other rejection, environment unconfirmed", apns.Response{Status: 400, Reason: "BadExpirationDate"}, nil, false, push.Rejected, "BadExpirationDate"},
		{"throttled", apns.Response{Status: 429, Reason: "TooManyRequests"}, nil, true, push.Retry, "TooManyRequests"},
		{"certificate refused", apns.Response{Status: 403, Reason: "BadCertificate"}, nil, true, push.CredentialFault, "BadCertificate"},
		{"TLS alert", apns.Response{}, tlsAlert, true, push.CredentialFault, "tls: certificate expired"},
		{"connection lost", apns.Response{}, push.E("apns.Client.Push", push.Transient, errors.New("http2: client connection lost")), true, push.Retry, "network_error"},
		{"refused before sending", apns.Response{}, push.Errorf("apns.Client.Push", push.Invalid, "device token: not hex"), false, push.Rejected, "network_error"},
	}
	for _, tt := range tests {
		got, reason := apns.ReadAnswer(tt.resp, tt.err, tt.confirmed)
		if got != tt.want || reason != tt.wantReason {
			t.Errorf("%s: ReadAnswer = %s %q, want %s %q", tt.name, got, reason, tt.want, tt.wantReason)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	if got, want := apns.Redact(devTok), "a1b2…8f90"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if got := apns.Redact("abc"); got != "…" {
		t.Errorf("Redact(short) = %q", got)
	}
}
