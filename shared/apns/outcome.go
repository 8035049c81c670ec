package apns

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/sideshow/apns2"

	"mobilepush/shared/push"
)

// TokenEnvironmentUnconfirmed is the reason a sender records for a
// Rejected BadDeviceToken/DeviceTokenNotForTopic seen before any push of
// the credential was delivered in that environment: the token may belong
// to the other environment rather than be dead.
const TokenEnvironmentUnconfirmed = "token_environment_unconfirmed"

// Classify maps an APNs answer to a push.Outcome. envConfirmed says
// whether a push with this credential has been delivered in this
// environment (only then is a BadDeviceToken a dead token). refresh
// reports 403 ExpiredProviderToken, whose outcome is CredentialFault only
// once a refreshed provider token was refused too: Client.Push refreshes
// and re-sends by itself, so its answers are classified by
// Response.Outcome. It is a pure function of its arguments; reasons Apple
// adds later fall to Rejected (4xx) or Retry (5xx).
func Classify(status int, reason string, envConfirmed bool) (o push.Outcome, refresh bool) {
	switch {
	case status >= 200 && status < 300:
		return push.Delivered, false
	case status >= 500:
		return push.Retry, false
	}
	switch reason {
	case apns2.ReasonUnregistered, apns2.ReasonExpiredToken:
		return push.InvalidToken, false
	case apns2.ReasonBadDeviceToken, apns2.ReasonDeviceTokenNotForTopic:
		if envConfirmed {
			return push.InvalidToken, false
		}
		return push.Rejected, false
	case apns2.ReasonTooManyRequests, apns2.ReasonIdleTimeout,
		apns2.ReasonInternalServerError, apns2.ReasonServiceUnavailable, apns2.ReasonShutdown:
		return push.Retry, false
	case apns2.ReasonExpiredProviderToken:
		return push.CredentialFault, true
	case apns2.ReasonBadCertificate, apns2.ReasonBadCertificateEnvironment,
		apns2.ReasonInvalidProviderToken, apns2.ReasonMissingProviderToken, apns2.ReasonForbidden,
		apns2.ReasonTopicDisallowed, apns2.ReasonBadTopic:
		return push.CredentialFault, false
	case apns2.ReasonTooManyProviderTokenUpdates:
		// Our own token refresh was too eager; the token still works soon.
		return push.Retry, false
	}
	if status == http.StatusTooManyRequests {
		return push.Retry, false
	}
	if status == http.StatusGone {
		return push.InvalidToken, false
	}
	return push.Rejected, false
}

// Outcome classifies an answer of Client.Push with Classify. Push has
// already answered ExpiredProviderToken by refreshing the provider token
// and re-sending once (TokenRefreshed), or could not sign a fresh one:
// either way the ExpiredProviderToken it returns is a CredentialFault.
func (r Response) Outcome(envConfirmed bool) push.Outcome {
	o, _ := Classify(r.Status, r.Reason, envConfirmed)
	return o
}

// ReadAnswer reads the result of a push (Client.Push's response and
// error) as the sender records it: the outcome (Response.Outcome, or
// ClassifyError when there was no answer) and its reason. The reason is
// Apple's reason; without an answer, the TLS alert the gateway sent
// (e.g. "tls: bad certificate") or "network_error"; and
// TokenEnvironmentUnconfirmed for a BadDeviceToken or
// DeviceTokenNotForTopic while envConfirmed is false, since the token
// may belong to the other environment.
func ReadAnswer(resp Response, err error, envConfirmed bool) (push.Outcome, string) {
	if err != nil {
		reason := "network_error"
		if alert, ok := TLSAlert(err); ok {
			reason = alert
		}
		return ClassifyError(err), reason
	}
	out, reason := resp.Outcome(envConfirmed), resp.Reason
	if out == push.Rejected && !envConfirmed && (reason == apns2.ReasonBadDeviceToken || reason == apns2.ReasonDeviceTokenNotForTopic) {
		reason = TokenEnvironmentUnconfirmed
	}
	return out, reason
}

// ClassifyError maps a Push error (no answer) to a push.Outcome: a TLS
// alert from the gateway (the client certificate was rejected in the
// handshake: expired, revoked, unknown) is a CredentialFault; a push
// refused before it was sent (Invalid: a malformed device token or header)
// is Rejected; everything else — connection failures, resets, timeouts,
// cancellation — is Retry.
func ClassifyError(err error) push.Outcome {
	if err == nil {
		return push.Delivered
	}
	if push.Is(err, push.Invalid) {
		return push.Rejected
	}
	if _, ok := TLSAlert(err); ok {
		return push.CredentialFault
	}
	return push.Retry
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
