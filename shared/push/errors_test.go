package push

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestKindOf(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"nil", nil, Other},
		{"plain error", base, Internal},
		{"direct", E("op", NotFound, base), NotFound},
		{"wrapped by fmt", fmt.Errorf("load credential x: %w", E("op", Conflict, nil)), Conflict},
		{"outer Other defers to inner", E("outer", Other, E("inner", TooLarge, nil)), TooLarge},
		{"outer wins", E("outer", Transient, E("inner", NotFound, nil)), Transient},
		{"Other all the way", E("outer", Other, base), Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{E("credential.Get", NotFound, nil), "credential.Get: not_found"},
		{E("credential.Get", NotFound, errors.New("app a1")), "credential.Get: not_found: app a1"},
		{&Error{Op: "certinfo", Kind: Unprocessable, Code: "wrong_password"}, "certinfo: wrong_password"},
		{&Error{Kind: Invalid}, "invalid"},
		{Errorf("httpapi", Invalid, "name: must be 1-%d bytes", 200), "httpapi: invalid: name: must be 1-200 bytes"},
		{E("awssecrets.ReadVersion", NotFound, errors.New("sdk text")).WithMsg("gone"), "awssecrets.ReadVersion: not_found: gone: sdk text"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestCodeOf(t *testing.T) {
	coded := &Error{Op: "x", Kind: Unprocessable, Code: "expired"}
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("ctx: %w", coded), "expired"},
		{E("outer", Other, coded), "expired"},
		{E("y", PreconditionFailed, nil), "precondition_failed"},
		{errors.New("plain"), "internal"},
	}
	for _, tt := range tests {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k := Other; k <= Internal; k++ {
		if k.String() == "" || (k != Other && k.String() == "other") {
			t.Errorf("Kind(%d) has no name", k)
		}
	}
	if got := Kind(200).String(); got != "other" {
		t.Errorf("unknown kind = %q, want other", got)
	}
}

func TestParseEnvironment(t *testing.T) {
	tests := []struct {
		in      string
		want    Environment
		wantErr bool
	}{
		{"production", Production, false},
		{"sandbox", Sandbox, false},
		{"", "", true},
		{"Production", "", true},
	}
	for _, tt := range tests {
		got, err := ParseEnvironment(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseEnvironment(%q) = %q, %v; want %q, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !Is(err, Invalid) {
			t.Errorf("ParseEnvironment(%q) kind = %v, want Invalid", tt.in, KindOf(err))
		}
	}
}

func TestMessageOf(t *testing.T) {
	sdk := errors.New("operation error Secrets Manager: GetSecretValue, https response error StatusCode: 400, RequestID: r1")
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain error is internal", errors.New("plain"), Internal.Message()},
		{"a cause is never shown", E("credential.Get", NotFound, sdk), NotFound.Message()},
		{"explicit message", Errorf("credential.Get", NotFound, "app %s does not exist", "a1"), "app a1 does not exist"},
		{"message and cause", E("awssecrets.ReadVersion", NotFound, sdk).WithMsg("the secret is gone"), "the secret is gone"},
		{"through Other and fmt wrappers",
			fmt.Errorf("register: %w", E("outer", Other, fmt.Errorf("save app x: %w", Errorf("inner", Conflict, "app x exists")))), "app x exists"},
		{"the outermost message wins", E("outer", Conflict, Errorf("inner", Conflict, "inner text")).WithMsg("outer text"), "outer text"},
		{"a message of the same kind below", E("outer", Conflict, Errorf("inner", Conflict, "inner text")), "inner text"},
		{"a cause of another kind does not describe the error", E("outer", NotFound, Errorf("inner", Invalid, "field x")), NotFound.Message()},
		{"internal hides its message", Errorf("x", Internal, "key file /etc/k has mode 0644"), Internal.Message()},
		{"transient hides its message", E("outer", Transient, Errorf("inner", Invalid, "x")), Transient.Message()},
		{"coded without a message", &Error{Op: "x", Kind: Unprocessable, Code: "expired"}, Unprocessable.Message()},
		{"kind alone", E("x", TooLarge, nil), TooLarge.Message()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MessageOf(tt.err); got != tt.want {
				t.Errorf("MessageOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestKindMessage(t *testing.T) {
	seen := map[string]Kind{}
	for k := NotFound; k <= Internal; k++ {
		m := k.Message()
		if m == "" || !strings.HasSuffix(m, ".") {
			t.Errorf("Kind %v has message %q, want a sentence", k, m)
		}
		if prev, dup := seen[m]; dup {
			t.Errorf("Kinds %v and %v share the message %q", prev, k, m)
		}
		seen[m] = k
	}
	if got := Kind(200).Message(); got != Internal.Message() {
		t.Errorf("unknown kind message = %q, want the internal one", got)
	}
}
