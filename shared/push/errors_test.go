package push

import (
	"errors"
	"fmt"
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
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), "plain"},
		{E("credential.Get", NotFound, errors.New("app a1 not found")), "app a1 not found"},
		{fmt.Errorf("register: %w", E("outer", Other, fmt.Errorf("save app x: %w", E("inner", Conflict, errors.New("app x exists"))))), "app x exists"},
		{&Error{Op: "x", Kind: Unprocessable, Code: "expired"}, "expired"},
		{E("x", TooLarge, nil), "too_large"},
	}
	for _, tt := range tests {
		if got := MessageOf(tt.err); got != tt.want {
			t.Errorf("MessageOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
