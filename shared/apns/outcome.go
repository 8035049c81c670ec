package apns

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/sideshow/apns2"
)

// Outcome is what the sender does with a push's answer (docs/ARCHITECTURE.md, Outcomes).
type Outcome string

// The outcomes of a push. Their names are those of the outcome ledger,
// except RefreshThenCredentialFault, which Client.Push resolves.
const (
	Delivered       Outcome = "delivered"        // accepted; confirms the environment
	InvalidToken    Outcome = "invalid_token"    // the device token is dead: report it
	Retry           Outcome = "retry"            // transient: re-enqueue with back-off
	Rejected        Outcome = "rejected"         // this notification is wrong: DLQ with the reason
	CredentialFault Outcome = "credential_fault" // the credential is refused: suspend the platform
	// RefreshThenCredentialFault is 403 ExpiredProviderToken: refresh the
	// provider token once and re-send; if that is refused again, it is a
	// credential fault. Client.Push already does the refresh and re-send;
	// see Response.Outcome.
	RefreshThenCredentialFault Outcome = "refresh_then_credential_fault"
)

// TokenEnvironmentUnconfirmed is the reason a sender records for a
// Rejected BadDeviceToken/DeviceTokenNotForTopic seen before any push of
// the credential was delivered in that environment: the token may belong
// to the other environment rather than be dead.
const TokenEnvironmentUnconfirmed = "token_environment_unconfirmed"

// Classify maps an APNs answer to an Outcome. envConfirmed says whether a
// push with this credential has been delivered in this environment (only
// then is a BadDeviceToken a dead token). It is a pure function of its
// arguments; reasons Apple adds later fall to Rejected (4xx) or Retry
// (5xx).
func Classify(status int, reason string, envConfirmed bool) Outcome {
	switch {
	case status >= 200 && status < 300:
		return Delivered
	case status >= 500:
		return Retry
	}
	switch reason {
	case apns2.ReasonUnregistered, apns2.ReasonExpiredToken:
		return InvalidToken
	case apns2.ReasonBadDeviceToken, apns2.ReasonDeviceTokenNotForTopic:
		if envConfirmed {
			return InvalidToken
		}
		return Rejected
	case apns2.ReasonTooManyRequests, apns2.ReasonIdleTimeout,
		apns2.ReasonInternalServerError, apns2.ReasonServiceUnavailable, apns2.ReasonShutdown:
		return Retry
	case apns2.ReasonExpiredProviderToken:
		return RefreshThenCredentialFault
	case apns2.ReasonBadCertificate, apns2.ReasonBadCertificateEnvironment,
		apns2.ReasonInvalidProviderToken, apns2.ReasonMissingProviderToken, apns2.ReasonForbidden,
		apns2.ReasonTopicDisallowed, apns2.ReasonBadTopic:
		return CredentialFault
	case apns2.ReasonTooManyProviderTokenUpdates:
		// Our own token refresh was too eager; the token still works soon.
		return Retry
	}
	if status == http.StatusTooManyRequests {
		return Retry
	}
	if status == http.StatusGone {
		return InvalidToken
	}
	return Rejected
}

// Outcome classifies r with Classify, resolving RefreshThenCredentialFault:
// after Client.Push's refresh and re-send (TokenRefreshed) a second
// ExpiredProviderToken is a CredentialFault.
func (r Response) Outcome(envConfirmed bool) Outcome {
	o := Classify(r.Status, r.Reason, envConfirmed)
	if o == RefreshThenCredentialFault && r.TokenRefreshed {
		return CredentialFault
	}
	return o
}

// ClassifyError maps a Push error (no answer) to an Outcome: a TLS alert
// from the gateway (the client certificate was rejected in the handshake:
// expired, revoked, unknown) is a CredentialFault; everything else —
// connection failures, resets, timeouts, cancellation — is Retry.
func ClassifyError(err error) Outcome {
	if err == nil {
		return Delivered
	}
	if _, ok := TLSAlert(err); ok {
		return CredentialFault
	}
	return Retry
}

// TLSAlert reports whether err is (or wraps) a TLS alert the server sent,
// and returns its text, e.g. "tls: bad certificate".
func TLSAlert(err error) (string, bool) {
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return ae.Error(), true
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" && oe.Err != nil {
		return oe.Err.Error(), true
	}
	// HTTP/2 may flatten the connection's error into text.
	if msg := err.Error(); strings.Contains(msg, "remote error: tls: ") {
		i := strings.Index(msg, "remote error: ")
		alert := msg[i+len("remote error: "):]
		if j := strings.IndexAny(alert, ";\n"); j >= 0 {
			alert = alert[:j]
		}
		return alert, true
	}
	return "", false
}
