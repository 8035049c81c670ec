package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestRunReportsMissingConfiguration: with nothing configured, run fails
// at init (before serving) and names every missing variable.
func TestRunReportsMissingConfiguration(t *testing.T) {
	env := map[string]string{"APNS_PRODUCTION_URL": "not a url"}
	err := run(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("run succeeded without configuration")
	}
	for _, want := range []string{"TABLE_NAME is not set", "APNS_PRODUCTION_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
