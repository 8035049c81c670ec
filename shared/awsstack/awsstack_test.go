package awsstack

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestLoadReportsEveryProblem: with nothing configured, Load fails before
// touching AWS and names every missing or malformed variable at once (the
// register and validate functions call it at init).
func TestLoadReportsEveryProblem(t *testing.T) {
	env := map[string]string{EnvAPNsProductionURL: "not a url", EnvFCMURL: "ftp://x", EnvHTTP2Client: "fast"}
	_, err := Load(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("Load succeeded without configuration")
	}
	for _, want := range []string{EnvTable + " is not set", EnvAPNsProductionURL, EnvFCMURL, EnvHTTP2Client} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestLoadBuildsTheStack(t *testing.T) {
	env := map[string]string{EnvTable: "t", "AWS_REGION": "us-east-1"}
	t.Setenv("AWS_REGION", "us-east-1")
	st, err := Load(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if st.Registry == nil || st.Registry.Prover == nil || st.Registry.Pusher == nil || st.TenantClaim != "tenant" {
		t.Errorf("stack = %+v", st)
	}
}
