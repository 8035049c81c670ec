package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cli runs the mobilepush command line in-process.
func cli(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

// TestTokensBesideServe: token, token list and token revoke work while
// serve holds the data directory, through its admin socket; a revocation
// takes effect at once, and the audit actor is the token's name.
func TestTokensBesideServe(t *testing.T) {
	base, _, data := startServer(t)
	if fi, err := os.Stat(filepath.Join(data, adminSocketName)); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("admin socket: %v %v, want a socket of mode 0600", fi, err)
	}

	code, out, errs := cli("token", "--data", data, "--tenant", "acme", "--name", "ci-deploy", "--ttl", "30d")
	if code != 0 {
		t.Fatalf("token beside serve: exit %d: %s", code, errs)
	}
	secret := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(secret, "mpt_") || strings.ContainsAny(secret, " \n") {
		t.Fatalf("stdout = %q, want the secret alone on one line", out)
	}
	if !strings.Contains(errs, `"ci-deploy"`) || !strings.Contains(errs, "expires") || strings.Contains(errs, secret) {
		t.Errorf("notes on stderr = %q", errs)
	}
	if code, _, errs := cli("token", "--data", data, "--tenant", "other", "--name", "ci-deploy"); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("duplicate name: exit %d: %s", code, errs)
	}
	_, gen, _ := cli("token", "--data", data, "--tenant", "acme")
	gen = strings.TrimSpace(gen)

	// The new tokens work at once in the running server.
	var created struct{ ID string }
	if st := apiCall(t, "POST", base+"/v1/apps", secret, map[string]any{"name": "Shop", "enabled": false}, &created); st != 201 {
		t.Fatalf("create app with the new token: %d", st)
	}
	var audit struct{ Events []struct{ Actor string } }
	if st := apiCall(t, "GET", base+"/v1/apps/"+created.ID+"/audit", secret, nil, &audit); st != 200 || len(audit.Events) == 0 || audit.Events[0].Actor != "token:ci-deploy" {
		t.Errorf("audit = %d %+v, want actor token:ci-deploy", st, audit)
	}

	code, out, errs = cli("token", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "ci-deploy") || !strings.Contains(out, "acme-") || !strings.Contains(out, "NAME") {
		t.Errorf("token list: exit %d: %s %s", code, out, errs)
	}
	if strings.Contains(out, strings.TrimPrefix(secret, "mpt_")) || strings.Contains(out, strings.TrimPrefix(gen, "mpt_")) {
		t.Error("token list shows a secret")
	}

	// Flags after the name, then before it.
	if code, out, errs := cli("token", "revoke", "ci-deploy", "--data", data); code != 0 || !strings.Contains(out, "ci-deploy") {
		t.Fatalf("revoke: exit %d: %s %s", code, out, errs)
	}
	if st := apiCall(t, "GET", base+"/v1/apps", secret, nil, nil); st != 401 {
		t.Errorf("revoked token: %d, want 401 at once", st)
	}
	if st := apiCall(t, "GET", base+"/v1/apps", gen, nil, nil); st != 200 {
		t.Errorf("the other token: %d, want 200", st)
	}
	if code, _, errs := cli("token", "revoke", "--data", data, "ci-deploy"); code != 1 || !strings.Contains(errs, "no token") {
		t.Errorf("revoke twice: exit %d: %s", code, errs)
	}
	if code, _, _ := cli("token", "revoke", "--data", data); code != 2 {
		t.Errorf("revoke without a name: exit %d, want 2", code)
	}
}

// TestTokensWithoutServe: the same commands open the directory themselves
// when no server runs, and serve honours what they did.
func TestTokensWithoutServe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, secret, errs := cli("token", "--tenant", "acme", "--name", "short", "--ttl", "1h", "--data", data)
	if code != 0 {
		t.Fatalf("token: exit %d: %s", code, errs)
	}
	if code, out, _ := cli("token", "list", "--json", "--data", data); code != 0 || !strings.Contains(out, `"name": "short"`) || !strings.Contains(out, `"expires_at"`) {
		t.Errorf("token list --json: exit %d: %s", code, out)
	}
	if code, _, errs := cli("token", "revoke", "short", "--data", data); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errs)
	}
	base, _ := startServerAt(t, data)
	if st := apiCall(t, "GET", base+"/v1/apps", strings.TrimSpace(secret), nil, nil); st != 401 {
		t.Errorf("token revoked before serve started: %d, want 401", st)
	}
	for _, bad := range [][]string{{"--ttl", "soon"}, {"--ttl", "-1h"}, {"--name", "a b"}} {
		if code, _, _ := cli(append([]string{"token", "--tenant", "acme", "--data", data}, bad...)...); code == 0 {
			t.Errorf("token %v: exit 0", bad)
		}
	}
}

// TestQueueBesideServe: queue and queue --redrive answer through the
// running server.
func TestQueueBesideServe(t *testing.T) {
	_, _, data := startServer(t)
	code, out, errs := cli("queue", "--data", data, "--json")
	if code != 0 {
		t.Fatalf("queue beside serve: exit %d: %s", code, errs)
	}
	var rep queueReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.CheckedAt.IsZero() {
		t.Fatalf("queue --json = %q: %v", out, err)
	}
	if code, out, errs := cli("queue", "--data", data, "--redrive"); code != 0 || !strings.Contains(out, "redrove 0 dead letters") {
		t.Errorf("queue --redrive beside serve: exit %d: %s %s", code, out, errs)
	}
}

// TestCheckExpiryBesideServe: --dry-run prints what it would alert and
// change and changes nothing; then --now T --alert-webhook URL beside
// serve posts to URL, prints its summary, and its audit entries carry the
// real time and name the simulated one.
func TestCheckExpiryBesideServe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	now := time.Now().UTC()
	storeExpiringApp(t, data, now, now.Add(400*24*time.Hour))
	base, token := startServerAt(t, data)
	hook := &hookRecorder{status: http.StatusNoContent}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	sim := now.Add(500 * 24 * time.Hour).Truncate(time.Second) // expired for 100 days by then
	simText := sim.Format(time.RFC3339)

	code, out, errs := cli("check-expiry", "--data", data, "--now", simText, "--dry-run", "--alert-webhook", srv.URL)
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s %s", code, out, errs)
	}
	if !strings.Contains(out, "would alert: default/shop apns \"Push Credential Expired\"") || !strings.Contains(out, "would change: default/shop apns: status ok -> expired") {
		t.Errorf("dry run output = %q", out)
	}
	if !strings.Contains(errs, `"msg":"expiry_run","dry_run":true`) {
		t.Errorf("dry run log = %q, want its expiry_run line marked dry_run", errs)
	}
	if got := hook.take(http.StatusNoContent); len(got) != 0 {
		t.Errorf("dry run posted %d alerts", len(got))
	}
	var app struct{ APNs struct{ Status string } }
	if st := apiCall(t, "GET", base+"/v1/apps/shop", token, nil, &app); st != 200 || app.APNs.Status == "expired" {
		t.Errorf("after the dry run: %d %+v, want the status unchanged", st, app)
	}
	if entries, _ := filepath.Glob(filepath.Join(data, ".dry-run-*")); len(entries) != 0 {
		t.Errorf("dry run left %v", entries)
	}

	before := time.Now().UTC().Add(-time.Second)
	code, out, errs = cli("check-expiry", "--data", data, "--now", simText, "--alert-webhook", srv.URL)
	if code != 0 {
		t.Fatalf("check-expiry --now beside serve: exit %d: %s %s", code, out, errs)
	}
	var sum struct {
		Expired int
		Errors  int
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Expired != 1 || sum.Errors != 0 {
		t.Errorf("summary = %q (%v)", out, err)
	}
	if !strings.Contains(errs, `"msg":"expiry_run"`) {
		t.Errorf("the run's log is not on stderr: %q", errs)
	}
	if got := hook.take(http.StatusNoContent); len(got) != 1 || got[0]["detail-type"] != "Push Credential Expired" {
		t.Errorf("webhook got %v", got)
	}
	if st := apiCall(t, "GET", base+"/v1/apps/shop", token, nil, &app); st != 200 || app.APNs.Status != "expired" {
		t.Errorf("after the run: %d %+v, want expired", st, app)
	}
	var audit struct {
		Events []struct {
			Actor, Action string
			At            time.Time
		}
	}
	apiCall(t, "GET", base+"/v1/apps/shop/audit", token, nil, &audit)
	found := false
	for _, e := range audit.Events {
		if e.Action == "status" {
			found = true
			if e.Actor != simulatedActor(sim) || e.At.Before(before) || e.At.After(time.Now().Add(time.Second)) {
				t.Errorf("status event = %+v, want the real time and actor %q", e, simulatedActor(sim))
			}
		}
	}
	if !found {
		t.Errorf("no status event in %+v", audit)
	}
}

// TestCheckExpiryUsesMakeRunGateways: without a server, check-expiry on a
// data directory whose last serve used the fakes uses them too (no
// request leaves for Apple), unless told otherwise.
func TestCheckExpiryUsesMakeRunGateways(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	now := time.Now().UTC()
	storeExpiringApp(t, data, now, now.Add(30*24*time.Hour))
	dir, err := openDataDir(data, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeServeState(dir, serveState{FakeGateways: true}); err != nil {
		t.Fatal(err)
	}
	dir.Close()
	code, out, errs := cli("check-expiry", "--data", data, "--dry-run")
	if code != 0 || !strings.Contains(errs, "using the fake gateways") {
		t.Errorf("exit %d: %s %s", code, out, errs)
	}
	if code, _, errs := cli("check-expiry", "--data", data, "--dry-run", "--fake-gateways=false"); code != 0 || strings.Contains(errs, "using the fake gateways") {
		t.Errorf("--fake-gateways=false: exit %d: %s", code, errs)
	}
}

// TestServeWithoutAdminSocket: a data directory whose path is too long
// for a unix socket still serves; the CLI beside it says who holds it.
func TestServeWithoutAdminSocket(t *testing.T) {
	data := filepath.Join(t.TempDir(), strings.Repeat("d", 120))
	base, token := startServerAt(t, data)
	if st := apiCall(t, "GET", base+"/v1/apps", token, nil, nil); st != 200 {
		t.Fatalf("GET /v1/apps: %d", st)
	}
	if code, _, errs := cli("queue", "--data", data); code != 1 || !strings.Contains(errs, "mobilepush serve") {
		t.Errorf("queue: exit %d: %s", code, errs)
	}
}

// TestTokenMessagesWithoutServe: without a server the token command says
// what is wrong in the user's terms: an unknown name without the
// operation's internals, a missing --tenant and a stray word as usage
// errors naming them.
func TestTokenMessagesWithoutServe(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "revoke", "nosuch", "--data", data}, 1, "mobilepush token: no token is named \"nosuch\" or has that ID (see `mobilepush token list`)\n"},
		{[]string{"token", "--data", data}, 2, "mobilepush token: --tenant is required\n"},
		{[]string{"token", "lsit", "--data", data}, 2, "mobilepush token: unknown command \"lsit\": want list, revoke or create (--tenant T)\n"},
	}
	for _, tt := range tests {
		code, _, errs := cli(tt.args...)
		if first, _, _ := strings.Cut(errs, "usage:"); code != tt.code || first != tt.want {
			t.Errorf("%v: exit %d, stderr begins %q; want exit %d and %q", tt.args, code, first, tt.code, tt.want)
		}
	}
}
