package push

import (
	"fmt"
	"log/slog"
)

// Redacted holds secret material (a private key, a .p12 password, a
// service-account key). Every way of printing it — fmt verbs, slog,
// encoding/json — yields "[redacted]"; only Reveal returns the bytes.
type Redacted struct{ b []byte }

// NewRedacted wraps b. It keeps b (no copy); callers hand over ownership.
func NewRedacted(b []byte) Redacted { return Redacted{b: b} }

// Reveal returns the secret bytes. Call it only where the secret is used.
func (r Redacted) Reveal() []byte { return r.b }

// IsZero reports whether no secret is held.
func (r Redacted) IsZero() bool { return len(r.b) == 0 }

const redactedText = "[redacted]"

// String implements fmt.Stringer.
func (Redacted) String() string { return redactedText }

// GoString implements fmt.GoStringer (the %#v verb).
func (Redacted) GoString() string { return redactedText }

// Format implements fmt.Formatter so that every verb, %x and %q included,
// prints the placeholder.
func (Redacted) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(redactedText))
}

// LogValue implements slog.LogValuer.
func (Redacted) LogValue() slog.Value { return slog.StringValue(redactedText) }

// MarshalJSON implements json.Marshaler.
func (Redacted) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedText + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (Redacted) MarshalText() ([]byte, error) { return []byte(redactedText), nil }
