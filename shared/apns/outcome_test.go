package apns_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"mobilepush/shared/apns"
)

// TestClassify covers every row of the APNs column (docs/ARCHITECTURE.md, Outcomes).
func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		reason    string
		confirmed bool
		want      apns.Outcome
	}{
		// delivered
		{200, "", false, apns.Delivered},
		{200, "", true, apns.Delivered},
		// invalid_token
		{410, "Unregistered", false, apns.InvalidToken},
		{410, "ExpiredToken", false, apns.InvalidToken},
		{410, "SomethingNew", false, apns.InvalidToken},
		{400, "BadDeviceToken", true, apns.InvalidToken},
		{400, "DeviceTokenNotForTopic", true, apns.InvalidToken},
		// rejected: BadDeviceToken before the environment is confirmed
		{400, "BadDeviceToken", false, apns.Rejected},
		{400, "DeviceTokenNotForTopic", false, apns.Rejected},
		// retry
		{429, "TooManyRequests", true, apns.Retry},
		{429, "TooManyProviderTokenUpdates", true, apns.Retry},
		{500, "InternalServerError", true, apns.Retry},
		{503, "ServiceUnavailable", true, apns.Retry},
		{503, "Shutdown", true, apns.Retry},
		{502, "", true, apns.Retry},
		{400, "IdleTimeout", true, apns.Retry},
		// refresh once, then credential_fault
		{403, "ExpiredProviderToken", true, apns.RefreshThenCredentialFault},
		// credential_fault
		{403, "BadCertificate", true, apns.CredentialFault},
		{403, "BadCertificateEnvironment", true, apns.CredentialFault},
		{403, "InvalidProviderToken", true, apns.CredentialFault},
		{403, "MissingProviderToken", true, apns.CredentialFault},
		{403, "Forbidden", true, apns.CredentialFault},
		{400, "TopicDisallowed", true, apns.CredentialFault},
		{400, "BadTopic", true, apns.CredentialFault},
		// rejected
		{413, "PayloadTooLarge", true, apns.Rejected},
		{400, "BadExpirationDate", true, apns.Rejected},
		{400, "BadPriority", true, apns.Rejected},
		{400, "BadCollapseId", true, apns.Rejected},
		{400, "BadMessageId", true, apns.Rejected},
		{400, "InvalidPushType", true, apns.Rejected},
		{400, "PayloadEmpty", true, apns.Rejected},
		{400, "MissingTopic", true, apns.Rejected},
		{405, "MethodNotAllowed", true, apns.Rejected},
		{404, "BadPath", true, apns.Rejected},
		{400, "AReasonAppleAddsLater", true, apns.Rejected},
	}
	for _, tt := range tests {
		if got := apns.Classify(tt.status, tt.reason, tt.confirmed); got != tt.want {
			t.Errorf("Classify(%d, %q, confirmed=%v) = %s, want %s", tt.status, tt.reason, tt.confirmed, got, tt.want)
		}
	}
}

func TestResponseOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    apns.Response
		want apns.Outcome
	}{
		{apns.Response{Status: 403, Reason: "ExpiredProviderToken"}, apns.RefreshThenCredentialFault},
		{apns.Response{Status: 403, Reason: "ExpiredProviderToken", TokenRefreshed: true}, apns.CredentialFault},
		{apns.Response{Status: 200, TokenRefreshed: true}, apns.Delivered},
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
		want apns.Outcome
	}{
		{nil, apns.Delivered},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, apns.CredentialFault},
		{fmt.Errorf("push: %w", errors.New("read tcp: remote error: tls: certificate expired")), apns.CredentialFault},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, apns.Retry},
		{context.DeadlineExceeded, apns.Retry},
		{errors.New("http2: client connection lost"), apns.Retry},
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
