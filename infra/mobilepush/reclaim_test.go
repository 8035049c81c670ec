package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/localsend"
)

// TestServeRestartReclaimsLeases kills serve with SIGKILL while it sends
// with a 10-minute visibility timeout, restarts it on the same data
// directory and checks that the messages it held are sent at once: one
// process owns a data directory, so the restarted serve reclaims the
// leases of the killed one instead of waiting for the timeout. Every
// token still ends delivered exactly once.
func TestServeRestartReclaimsLeases(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	kt, first := startKillTest(t, "10m", 2, 120)
	kt.waitSomeSent(t, first, 10, 10*time.Millisecond)
	first.kill(t)

	second := startServeProc(t, kt.data, kt.flags...)
	// Far less than the 10-minute visibility timeout the messages would
	// otherwise wait for.
	kt.waitDelivered(t, second, 90*time.Second, "the killed serve's messages were not resumed at start")
	if log := second.stderr.String(); !strings.Contains(log, `"msg":"leases_reclaimed"`) {
		t.Errorf("the restarted serve logged no leases_reclaimed:\n%s", log)
	}
}

// killTest is a serve on a data directory with a slow fake APNs and
// messages queued on it: the start of a test that kills it mid-send.
type killTest struct {
	data, token string
	flags       []string // serve's flags, for the restart too
	ids         []string
	perMessage  int
}

// startKillTest starts serve with the given visibility timeout and queues
// messages of perMessage APNs tokens each on it.
func startKillTest(t *testing.T, visibility string, messages, perMessage int) (*killTest, *serveProc) {
	t.Helper()
	kt := &killTest{data: filepath.Join(t.TempDir(), "data"), perMessage: perMessage,
		flags: []string{"--fake-latency", "40ms", "--send-concurrency", "8", "--workers", "2", "--visibility-timeout", visibility}}
	kt.token = mintToken(t, kt.data)
	p := startServeProc(t, kt.data, kt.flags...)
	appID := registerAPNsApp(t, p.base, kt.token)
	kt.ids = queueMessages(t, p.base, kt.token, appID, messages, perMessage)
	return kt, p
}

// waitSomeSent waits, polling every poll, until at least n tokens have an
// outcome on p and returns how many have; it fails when every token has
// one already (the fake is too fast to kill p mid-send) or after 30 s.
func (kt *killTest) waitSomeSent(t *testing.T, p *serveProc, n int, poll time.Duration) int {
	t.Helper()
	all := len(kt.ids) * kt.perMessage
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(poll) {
		got, _ := messageStatuses(t, p.base, kt.token, kt.ids)
		if got >= n {
			if got >= all {
				t.Fatalf("all %d tokens were sent before the kill: slow the fake down", got)
			}
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress; stderr:\n%s", p.stderr.String())
		}
	}
}

// waitDelivered waits up to timeout until every message is done on p and
// checks that each token was delivered exactly once; failing, it says
// what did not happen.
func (kt *killTest) waitDelivered(t *testing.T, p *serveProc, timeout time.Duration, what string) {
	t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(100 * time.Millisecond) {
		_, sts := messageStatuses(t, p.base, kt.token, kt.ids)
		done := 0
		for _, st := range sts {
			if st.State == localsend.StateDone {
				done++
			}
		}
		if done == len(kt.ids) {
			for _, st := range sts {
				if want := (localsend.Counts{Delivered: kt.perMessage}); st.Counts != want {
					t.Errorf("message %s: counts %+v, want %+v", st.MessageID, st.Counts, want)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v\nstderr:\n%s", what, sts, p.stderr.String())
		}
	}
}

// queueMessages posts n messages of perMessage random APNs tokens for
// appID and returns their ids.
func queueMessages(t *testing.T, base, token, appID string, n, perMessage int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		var out struct {
			MessageID string `json:"message_id"`
		}
		msg := map[string]any{"version": 1, "app_id": appID, "tokens": map[string]any{"apns": randomAPNsTokens(t, perMessage)},
			"notification": map[string]any{"title": "Sale", "body": fmt.Sprintf("message %d", i)}}
		if status := apiCall(t, "POST", base+"/v1/messages", token, msg, &out); status != 202 || out.MessageID == "" {
			t.Fatalf("POST /v1/messages = %d %+v", status, out)
		}
		ids[i] = out.MessageID
	}
	return ids
}

// messageStatuses reads GET /v1/messages/{id} of each id; total counts
// the tokens with an outcome.
func messageStatuses(t *testing.T, base, token string, ids []string) (total int, sts []localsend.Status) {
	t.Helper()
	for _, id := range ids {
		var st localsend.Status
		if status := apiCall(t, "GET", base+"/v1/messages/"+id, token, nil, &st); status != 200 {
			t.Fatalf("GET /v1/messages/%s = %d", id, status)
		}
		total += st.Counts.Total()
		sts = append(sts, st)
	}
	return total, sts
}
