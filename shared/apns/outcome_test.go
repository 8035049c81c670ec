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

func TestRedact(t *testing.T) {
	t.Parallel()
	if got, want := apns.Redact(devTok), "a1b2…8f90"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	if got := apns.Redact("abc"); got != "…" {
		t.Errorf("Redact(short) = %q", got)
	}
}
