package fcmtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

// Reply is one scripted answer of the send endpoint: an HTTP status,
// Google's status name (Code, e.g. "NOT_FOUND"), FCM's own error code
// (FCMCode, e.g. "UNREGISTERED", sent as an FcmError detail), the
// message text, an optional google.rpc.BadRequest field violation
// (Field) and an optional Retry-After header. Status 200 lets the
// message through.
type Reply struct {
	Status     int
	Code       string
	FCMCode    string
	Message    string
	Field      string
	RetryAfter string
}

// OK lets the message through (for sequences such as "503 once, then
// success").
func OK() Reply { return Reply{Status: http.StatusOK} }

// Unregistered is 404 UNREGISTERED: the app was uninstalled or the
// token expired.
func Unregistered() Reply {
	return Reply{Status: http.StatusNotFound, Code: "NOT_FOUND", FCMCode: "UNREGISTERED", Message: "Requested entity was not found."}
}

// InvalidToken is 400 INVALID_ARGUMENT about the registration token.
func InvalidToken() Reply {
	return invalidArgument("message.token", "The registration token is not a valid FCM registration token")
}

// InvalidArgument is 400 INVALID_ARGUMENT about another field.
func InvalidArgument(field, message string) Reply { return invalidArgument(field, message) }

func invalidArgument(field, message string) Reply {
	return Reply{Status: http.StatusBadRequest, Code: "INVALID_ARGUMENT", FCMCode: "INVALID_ARGUMENT", Message: message, Field: field}
}

// QuotaExceeded is 429 QUOTA_EXCEEDED with a Retry-After of the given
// seconds ("" for none).
func QuotaExceeded(retryAfter string) Reply {
	return Reply{Status: http.StatusTooManyRequests, Code: "RESOURCE_EXHAUSTED", FCMCode: "QUOTA_EXCEEDED", Message: "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per minute'.", RetryAfter: retryAfter}
}

// Unavailable is 503 UNAVAILABLE. Note that firebase-admin-go retries
// 503 by itself (immediately, then after 1, 2, 4 s) unless Retry-After
// exceeds two minutes.
func Unavailable(retryAfter string) Reply {
	return Reply{Status: http.StatusServiceUnavailable, Code: "UNAVAILABLE", FCMCode: "UNAVAILABLE", Message: "The service is currently unavailable.", RetryAfter: retryAfter}
}

// Internal is 500 INTERNAL.
func Internal() Reply {
	return Reply{Status: http.StatusInternalServerError, Code: "INTERNAL", FCMCode: "INTERNAL", Message: "Internal error encountered."}
}

// SenderIDMismatch is 403 SENDER_ID_MISMATCH: the token belongs to
// another Firebase project than the sender's.
func SenderIDMismatch() Reply {
	return Reply{Status: http.StatusForbidden, Code: "PERMISSION_DENIED", FCMCode: "SENDER_ID_MISMATCH", Message: "SenderId mismatch"}
}

// ThirdPartyAuthError is 401 THIRD_PARTY_AUTH_ERROR: the project's APNs
// certificate or key (or web push credential) was refused.
func ThirdPartyAuthError() Reply {
	return Reply{Status: http.StatusUnauthorized, Code: "UNAUTHENTICATED", FCMCode: "THIRD_PARTY_AUTH_ERROR", Message: "Auth error from APNS or Web Push Service"}
}

// PermissionDenied is 403 PERMISSION_DENIED for a project the caller may
// not send for (or that does not exist).
func PermissionDenied(project string) Reply {
	return Reply{Status: http.StatusForbidden, Code: "PERMISSION_DENIED", Message: "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/" + url.PathEscape(project) + "' (or it may not exist)."}
}

// ProjectNotFound is 404 NOT_FOUND without an FCM error code.
func ProjectNotFound() Reply {
	return Reply{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "Requested entity was not found."}
}

// Unauthenticated is 401 UNAUTHENTICATED: the bearer token is missing,
// expired or revoked.
func Unauthenticated() Reply {
	return Reply{Status: http.StatusUnauthorized, Code: "UNAUTHENTICATED", Message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."}
}

// Body returns the reply's JSON body in Google's error format.
func (r Reply) Body() []byte {
	type violation struct {
		Field       string `json:"field"`
		Description string `json:"description"`
	}
	var details []map[string]any
	if r.FCMCode != "" {
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": r.FCMCode})
	}
	if r.Field != "" {
		details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": []violation{{Field: r.Field, Description: r.Message}}})
	}
	e := map[string]any{"code": r.Status, "message": r.Message, "status": r.Code}
	if details != nil {
		e["details"] = details
	}
	b, _ := json.Marshal(map[string]any{"error": e})
	return b
}

func writeGoogleError(w http.ResponseWriter, r Reply) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	if r.RetryAfter != "" {
		w.Header().Set("Retry-After", r.RetryAfter)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(r.Body())))
	w.WriteHeader(r.Status)
	_, _ = w.Write(r.Body())
}
