package push

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error. The set is closed: every error a mobilepush
// package returns to its callers carries one of these kinds, and the HTTP
// API maps each kind to exactly one status code (see httpapi).
type Kind uint8

// The kinds of error. Other is the zero value: a bare error with no kind
// is treated as Internal by callers that must choose.
const (
	Other              Kind = iota // unclassified; treated as Internal
	NotFound                       // the thing does not exist (or belongs to another tenant)
	Invalid                        // the request is malformed
	Unprocessable                  // well-formed, but the credential or content is rejected
	Conflict                       // the thing already exists or changed underneath
	PreconditionFailed             // an If-Match or version precondition did not hold
	TooLarge                       // the input exceeds a size limit
	Unauthorized                   // no or bad credentials for the caller
	Transient                      // a dependency failed; retrying may succeed
	Internal                       // a bug or an unexpected failure
)

var kindNames = [...]string{
	Other:              "other",
	NotFound:           "not_found",
	Invalid:            "invalid",
	Unprocessable:      "unprocessable",
	Conflict:           "conflict",
	PreconditionFailed: "precondition_failed",
	TooLarge:           "too_large",
	Unauthorized:       "unauthorized",
	Transient:          "transient",
	Internal:           "internal",
}

// kindMessages are the fixed client messages of the kinds: what a caller
// is told when an error carries no message of its own.
var kindMessages = [...]string{
	Other:              "An internal error occurred.",
	NotFound:           "The requested resource does not exist.",
	Invalid:            "The request is not valid.",
	Unprocessable:      "The request is well-formed but cannot be processed.",
	Conflict:           "The request conflicts with the current state; read it again.",
	PreconditionFailed: "A precondition of the request did not hold; read the resource again.",
	TooLarge:           "The request is too large.",
	Unauthorized:       "The request lacks valid credentials.",
	Transient:          "A dependency is unavailable; retry later.",
	Internal:           "An internal error occurred.",
}

// String returns the kind's stable snake_case name, used as the default
// error code in API responses.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "other"
}

// Message returns the kind's fixed client message, shown for an error of
// that kind that carries no message of its own (see MessageOf).
func (k Kind) Message() string {
	if int(k) < len(kindMessages) {
		return kindMessages[k]
	}
	return kindMessages[Internal]
}

// Error is the error type of mobilepush: the operation that failed, its
// Kind, an optional stable machine-readable Code (e.g. a certinfo code),
// an optional message for the caller, and the underlying error.
//
// The two texts have different readers. Msg is for the caller (an API
// client, a CLI user): it says what is wrong with the request in the
// request's own terms, and the API shows it verbatim. Err is for the
// operator: it may quote a dependency (an SDK error, a file path) and is
// logged, never shown. An Error without a Msg is shown by its Kind's fixed
// text (Kind.Message), so a dependency's words never reach a caller by
// accident.
//
// Error never holds secret material: callers construct it from facts, not
// from the secrets themselves.
type Error struct {
	Op   string // operation, e.g. "credential.Get"
	Kind Kind   // class of failure
	Code string // optional stable code; defaults to Kind.String()
	Msg  string // optional message for the caller; see MessageOf
	Err  error  // underlying error, may be nil
}

// E builds an *Error with a cause and no client message. A nil err is
// allowed (the kind alone describes it).
func E(op string, kind Kind, err error) *Error {
	return &Error{Op: op, Kind: kind, Err: err}
}

// Errorf builds an *Error whose client message is the formatted text, and
// no cause. The arguments are the caller's own facts (field names, limits,
// ids from the request), never the text of another error: a cause goes in
// Err (see Error.WithMsg), where it is logged but not shown.
func Errorf(op string, kind Kind, format string, args ...any) *Error {
	return &Error{Op: op, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// WithMsg sets the client message of e and returns e, for an error that
// has both a cause to log and a message to show:
//
//	push.E(op, push.NotFound, sdkErr).WithMsg("the app's credential is missing")
func (e *Error) WithMsg(format string, args ...any) *Error {
	e.Msg = fmt.Sprintf(format, args...)
	return e
}

// Error renders "op: code: message: underlying" (code defaults to the
// kind's name; an empty part is left out), the whole story for a log line.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString(e.Kind.String())
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the outermost *Error in err's chain that has
// one other than Other; Internal for a non-nil error without one; Other
// for nil.
func KindOf(err error) Kind {
	if err == nil {
		return Other
	}
	for e := err; e != nil; {
		var pe *Error
		if !errors.As(e, &pe) {
			break
		}
		if pe.Kind != Other {
			return pe.Kind
		}
		e = pe.Err
	}
	return Internal
}

// CodeOf returns the stable code of the outermost *Error in err's chain
// that has one, or KindOf(err).String().
func CodeOf(err error) string {
	for e := err; e != nil; {
		var pe *Error
		if !errors.As(e, &pe) {
			break
		}
		if pe.Code != "" {
			return pe.Code
		}
		e = pe.Err
	}
	return KindOf(err).String()
}

// Is reports whether err's Kind is k.
func Is(err error, k Kind) bool { return KindOf(err) == k }

// MessageOf returns the message of err for showing to a caller: the Msg
// of the outermost *Error in err's chain that has one, provided no *Error
// before it sets a different Kind (a cause of another kind does not
// describe err); else the fixed text of err's Kind (Kind.Message). The
// text of a cause is never returned. Internal and Transient errors always
// give their kind's fixed text: what went wrong is the operator's to read
// in the log. It returns "" for nil.
func MessageOf(err error) string {
	if err == nil {
		return ""
	}
	kind := KindOf(err)
	if kind == Internal || kind == Transient {
		return kind.Message()
	}
	for e := err; e != nil; {
		var pe *Error
		if !errors.As(e, &pe) {
			break
		}
		if pe.Kind != Other && pe.Kind != kind {
			break
		}
		if pe.Msg != "" {
			return pe.Msg
		}
		e = pe.Err
	}
	return kind.Message()
}
