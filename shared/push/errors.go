package push

import (
	"errors"
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

// String returns the kind's stable snake_case name, used as the default
// error code in API responses.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "other"
}

// Error is the error type of mobilepush: the operation that failed, its
// Kind, an optional stable machine-readable Code (e.g. a certinfo code),
// and the underlying error.
//
// Error never holds secret material: callers construct it from facts, not
// from the secrets themselves.
type Error struct {
	Op   string // operation, e.g. "credential.Get"
	Kind Kind   // class of failure
	Code string // optional stable code; defaults to Kind.String()
	Err  error  // underlying error, may be nil
}

// E builds an *Error. A nil err is allowed (the kind alone describes it).
func E(op string, kind Kind, err error) *Error {
	return &Error{Op: op, Kind: kind, Err: err}
}

// Error renders "op: kind: underlying".
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

// MessageOf returns the text of the underlying cause of err for showing
// to a caller: the error wrapped by the innermost *Error, without the Op
// and Kind prefixes. Callers decide whether the Kind allows showing it
// (never for Internal or Transient errors, whose causes may quote
// dependencies).
func MessageOf(err error) string {
	var inner *Error
	for e := err; e != nil; {
		var pe *Error
		if !errors.As(e, &pe) {
			break
		}
		inner = pe
		e = pe.Err
	}
	switch {
	case inner == nil && err != nil:
		return err.Error()
	case inner == nil:
		return ""
	case inner.Err != nil:
		return inner.Err.Error()
	case inner.Code != "":
		return inner.Code
	}
	return inner.Kind.String()
}
