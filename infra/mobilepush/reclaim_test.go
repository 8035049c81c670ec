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
	data := filepath.Join(t.TempDir(), "data")
	token := mintToken(t, data)
	flags := []string{"--fake-latency", "40ms", "--send-concurrency", "8", "--workers", "2", "--visibility-timeout", "10m"}
	first := startServeProc(t, data, flags...)
	appID := registerAPNsApp(t, first.base, token)

	const messages, perMessage = 2, 120
	ids := queueMessages(t, first.base, token, appID, messages, perMessage)
	statuses := func(base string) (int, []localsend.Status) { return messageStatuses(t, base, token, ids) }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, _ := statuses(first.base)
		if n >= 10 {
			if n >= messages*perMessage {
				t.Fatalf("all %d tokens were sent before the kill: slow the fake down", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress; stderr:\n%s", first.stderr.String())
		}
	}
	first.kill(t)

	second := startServeProc(t, data, flags...)
	// Far less than the 10-minute visibility timeout the messages would
	// otherwise wait for.
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, sts := statuses(second.base)
		done := 0
		for _, st := range sts {
			if st.State == localsend.StateDone {
				done++
			}
		}
		if done == len(ids) {
			for _, st := range sts {
				if want := (localsend.Counts{Delivered: perMessage}); st.Counts != want {
					t.Errorf("message %s: counts %+v, want %+v", st.MessageID, st.Counts, want)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed serve's messages were not resumed at start: %+v\nstderr:\n%s", sts, second.stderr.String())
		}
	}
	if log := second.stderr.String(); !strings.Contains(log, `"msg":"leases_reclaimed"`) {
		t.Errorf("the restarted serve logged no leases_reclaimed:\n%s", log)
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
