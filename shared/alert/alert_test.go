package alert_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"mobilepush/shared/alert"
)

// failing fails the events whose index is in fail.
type failing struct{ fail map[int]bool }

func (f failing) Publish(_ context.Context, events []alert.Event) []error {
	out := make([]error, len(events))
	for i := range events {
		if f.fail[i] {
			out[i] = errors.New("down")
		}
	}
	return out
}

func TestTeeFailsAnEventWhenAnyPublisherDoes(t *testing.T) {
	var buf bytes.Buffer
	tee := alert.Tee{alert.Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}, failing{map[int]bool{1: true}}}
	errs := tee.Publish(context.Background(), []alert.Event{{Type: alert.CredentialExpired}, {Type: alert.CredentialInvalid}})
	got := []bool{errs[0] != nil, errs[1] != nil}
	if want := []bool{false, true}; got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("failed = %v, want %v", got, want)
	}
	if n := strings.Count(buf.String(), `"msg":"alert"`); n != 2 {
		t.Errorf("logged %d alerts, want 2: %s", n, buf.String())
	}
}
