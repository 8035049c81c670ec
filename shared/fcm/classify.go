package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mobilepush/shared/push"
	"net/http"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
)

// Verdict is the classification of one send: the outcome
// (docs/ARCHITECTURE.md, Outcomes), Google's code (the FCM error code
// such as "UNREGISTERED", else the status such as "PERMISSION_DENIED",
// "invalid_grant", "network_error"), Google's message text, the HTTP
// status (0 if none) and the Retry-After delay the answer asked for (0
// if none). It never holds a device token or secret material.
//
// The outcomes: push.Delivered (FCM accepted the message); push.InvalidToken
// (UNREGISTERED, or INVALID_ARGUMENT naming the token); push.Retry
// (UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED, network; see RetryAfter);
// push.CredentialFault (SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR,
// PERMISSION_DENIED, 404 project, invalid_grant, and UNAUTHENTICATED once
// a refreshed token was refused too); push.Rejected (INVALID_ARGUMENT on a
// field other than the token, or a message the library refused).
type Verdict struct {
	Outcome    push.Outcome
	Reason     string
	Detail     string
	HTTPStatus int
	RetryAfter time.Duration
	// Refresh marks UNAUTHENTICATED: refresh the OAuth token once and
	// re-send; if that is refused again, Outcome (CredentialFault)
	// stands. Client.Send does the refresh and re-send by itself.
	Refresh bool
}

// Classify maps a send error to its Verdict; nil is Delivered.
//
// Pass the error exactly as the messaging client returned it: firebase's
// Is* helpers use type assertions, so Classify tries each error of the
// chain in turn, but a firebase error re-created by fmt.Errorf("%v")
// loses its type and classifies as Rejected. A *TokenError (the OAuth
// step) is a push.CredentialFault when Google refused the key and a push.Retry
// when it could not be reached; a context error is a Retry.
func Classify(err error) Verdict {
	if err == nil {
		return Verdict{Outcome: push.Delivered}
	}
	var te *TokenError
	if errors.As(err, &te) {
		if te.Rejected() {
			return Verdict{Outcome: push.CredentialFault, Reason: orDefault(te.Code, "oauth_error"), Detail: te.Description, HTTPStatus: te.Status}
		}
		if te.Status != 0 {
			return Verdict{Outcome: push.Retry, Reason: orDefault(te.Code, "oauth_unavailable"), Detail: te.Description, HTTPStatus: te.Status}
		}
		return Verdict{Outcome: push.Retry, Reason: "network_error", Detail: "the token endpoint could not be reached"}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if v, ok := classifyFirebase(e); ok {
			return v
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return Verdict{Outcome: push.Retry, Reason: "deadline", Detail: err.Error()}
	}
	// Not a firebase error: the library refused the message before
	// sending it (its own validation).
	return Verdict{Outcome: push.Rejected, Reason: "invalid_message", Detail: err.Error()}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// classifyFirebase classifies e if it is a firebase error itself (not a
// wrapper of one).
func classifyFirebase(e error) (Verdict, bool) {
	resp := errorutils.HTTPResponse(e)
	v := Verdict{Detail: e.Error()}
	var body []byte
	if resp != nil {
		v.HTTPStatus = resp.StatusCode
		v.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if resp.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		}
	}
	// FCM's own error codes first (details[].errorCode), then the
	// platform status.
	switch {
	case messaging.IsUnregistered(e):
		v.Outcome, v.Reason = push.InvalidToken, "UNREGISTERED"
	case messaging.IsSenderIDMismatch(e):
		v.Outcome, v.Reason = push.CredentialFault, "SENDER_ID_MISMATCH"
	case messaging.IsThirdPartyAuthError(e):
		v.Outcome, v.Reason = push.CredentialFault, "THIRD_PARTY_AUTH_ERROR"
	case messaging.IsQuotaExceeded(e):
		v.Outcome, v.Reason = push.Retry, "QUOTA_EXCEEDED"
	case messaging.IsUnavailable(e):
		v.Outcome, v.Reason = push.Retry, "UNAVAILABLE"
	case messaging.IsInternal(e):
		v.Outcome, v.Reason = push.Retry, "INTERNAL"
	case messaging.IsInvalidArgument(e), errorutils.IsInvalidArgument(e):
		v.Reason = "INVALID_ARGUMENT"
		v.Outcome = push.Rejected
		if namesToken(body) {
			v.Outcome = push.InvalidToken
		}
	case errorutils.IsUnauthenticated(e):
		v.Outcome, v.Reason, v.Refresh = push.CredentialFault, "UNAUTHENTICATED", true
	case errorutils.IsPermissionDenied(e):
		v.Outcome, v.Reason = push.CredentialFault, "PERMISSION_DENIED"
	case errorutils.IsNotFound(e):
		// NOT_FOUND without UNREGISTERED: the project does not exist.
		v.Outcome, v.Reason = push.CredentialFault, "NOT_FOUND"
	case errorutils.IsResourceExhausted(e):
		v.Outcome, v.Reason = push.Retry, "RESOURCE_EXHAUSTED"
	case errorutils.IsUnavailable(e):
		v.Outcome, v.Reason = push.Retry, "UNAVAILABLE"
		if resp == nil {
			v.Reason = "network_error"
		}
	case errorutils.IsInternal(e):
		v.Outcome, v.Reason = push.Retry, "INTERNAL"
	case errorutils.IsDeadlineExceeded(e):
		v.Outcome, v.Reason = push.Retry, "DEADLINE_EXCEEDED"
	case errorutils.IsUnknown(e), errorutils.IsAborted(e), errorutils.IsCancelled(e):
		v.Outcome, v.Reason = push.Retry, "UNKNOWN"
		if resp == nil {
			v.Reason = "network_error"
		} else if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			v.Outcome = push.Rejected
		}
	case errorutils.IsFailedPrecondition(e), errorutils.IsOutOfRange(e), errorutils.IsConflict(e), errorutils.IsAlreadyExists(e), errorutils.IsDataLoss(e):
		v.Outcome, v.Reason = push.Rejected, status(body, "FAILED_PRECONDITION")
	default:
		if resp == nil {
			return Verdict{}, false
		}
		// Some other firebase error with an HTTP answer.
		v.Outcome, v.Reason = push.Retry, status(body, "HTTP_"+strconv.Itoa(resp.StatusCode))
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			v.Outcome = push.Rejected
		}
	}
	return v, true
}

// googleError is Google's error body.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

func status(body []byte, def string) string {
	var g googleError
	if json.Unmarshal(body, &g) == nil && g.Error.Status != "" {
		return g.Error.Status
	}
	return def
}

// namesToken reports whether an INVALID_ARGUMENT body is about the
// registration token: a google.rpc.BadRequest field violation on
// "message.token", or, when FCM sends no field violations, its message
// text about the registration token. This is the one place that reads
// Google's text, because FCM gives no error code that tells a bad token
// from another bad field.
func namesToken(body []byte) bool {
	var g googleError
	if json.Unmarshal(body, &g) != nil {
		return false
	}
	sawViolation := false
	for _, d := range g.Error.Details {
		for _, fv := range d.FieldViolations {
			sawViolation = true
			if fv.Field == "message.token" {
				return true
			}
		}
	}
	if sawViolation {
		return false
	}
	return strings.Contains(strings.ToLower(g.Error.Message), "registration token")
}

// retryAfter parses a Retry-After header (delay-seconds or an HTTP date).
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
