package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/localsend"
	"mobilepush/shared/push"
)

// chaosConfig is one chaos run of the local server: messages of
// perMessage APNs tokens sent by `mobilepush serve` to a fake Apple run
// by the test process (so its records survive the kills), serve killed
// with SIGKILL each time the fake has seen every more pushes, kills
// times, then left to finish.
type chaosConfig struct {
	messages, perMessage int
	kills, every         int
	latency              time.Duration
	workers, concurrency int // serve's --workers and --send-concurrency
}

// chaosResult is what a run measured.
type chaosResult struct {
	tokens  int   // device tokens sent to
	pushes  int   // pushes the fake received for them
	resends []int // pushes received a second time, per crash
}

// runChaos runs cfg and checks what every crash must keep true: every
// token ends with exactly one recorded outcome (delivered), the fake saw
// every repeat with the collapse identity, apns-id and message id of its
// first push, and nothing is left in flight or dead-lettered.
func runChaos(t testing.TB, cfg chaosConfig) chaosResult {
	t.Helper()
	apple := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{
		Environment: push.Production, ClientCAs: apnstest.TrustAppleWWDR(t), Latency: cfg.latency}})
	// serve trusts the fake's certificate through the system roots.
	certFile := filepath.Join(t.TempDir(), "apple.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apple.Certificate.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	token := mintToken(t, data)
	args := []string{"serve", "--data", data, "--addr", "127.0.0.1:0",
		"--apns-production-url", apple.URL, "--apns-sandbox-url", apple.URL,
		"--workers", fmt.Sprint(cfg.workers), "--send-concurrency", fmt.Sprint(cfg.concurrency), "--visibility-timeout", "2s"}
	env := []string{"SSL_CERT_FILE=" + certFile}
	proc := startServeWith(t, env, args...)
	appID := registerAPNsApp(t, proc.base, token)

	ids := make([]string, cfg.messages)
	mine := map[string]string{} // token -> its message id
	for i := range ids {
		toks := randomAPNsTokens(t, cfg.perMessage)
		var out struct {
			MessageID string `json:"message_id"`
		}
		msg := map[string]any{"version": 1, "app_id": appID, "tokens": map[string]any{"apns": toks},
			"notification": map[string]any{"title": "Sale", "body": fmt.Sprintf("message %d", i)}}
		if status := apiCall(t, "POST", proc.base+"/v1/messages", token, msg, &out); status != 202 || out.MessageID == "" {
			t.Fatalf("POST /v1/messages = %d %+v", status, out)
		}
		ids[i] = out.MessageID
		for _, tok := range toks {
			mine[tok] = out.MessageID
		}
	}
	seen := func() (received, repeats int) {
		by := map[string]int{}
		for _, r := range apple.Requests() {
			if _, ok := mine[r.Token]; ok {
				by[r.Token]++
				received++
			}
		}
		return received, received - len(by)
	}

	var res chaosResult
	var kills []int // the fake's request count at each kill
	deadline := time.Now().Add(90 * time.Second)
	for k := range cfg.kills {
		start, _ := seen()
		for {
			n, repeats := seen()
			if n-start >= cfg.every {
				break
			}
			if n-repeats >= len(mine) {
				t.Fatalf("every token was sent before kill %d: slow the fake down", k+1)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no progress before kill %d (%d pushes); stderr:\n%s", k+1, n, proc.stderr.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		proc.kill(t)
		time.Sleep(2 * cfg.latency) // the dead process's last requests reach the record
		kills = append(kills, len(apple.Requests()))
		proc = startServeWith(t, env, args...)
	}

	// Let it finish: every message done, each token delivered once.
	for {
		done := 0
		var sts []localsend.Status
		for _, id := range ids {
			var st localsend.Status
			if status := apiCall(t, "GET", proc.base+"/v1/messages/"+id, token, nil, &st); status != 200 {
				t.Fatalf("GET /v1/messages/%s = %d", id, status)
			}
			if st.State == localsend.StateDone {
				done++
			}
			sts = append(sts, st)
		}
		if done == len(ids) {
			for _, st := range sts {
				if want := (localsend.Counts{Delivered: cfg.perMessage}); st.Counts != want {
					t.Errorf("message %s: recorded %+v, want %+v (exactly one outcome per token)", st.MessageID, st.Counts, want)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after the kills: %+v\nstderr:\n%s", sts, proc.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	proc.stop(t)

	// Every repeat carries the identity of its first push. A repeat is
	// the resend of the first crash after the token's previous push (the
	// crash that lost its outcome).
	first := map[string]apnstest.Request{}
	lastAt := map[string]int{}
	res.resends = make([]int, len(kills))
	for i, r := range apple.Requests() {
		id, ok := mine[r.Token]
		if !ok {
			continue
		}
		res.pushes++
		if at, repeat := lastAt[r.Token]; repeat {
			crash := 0
			for crash < len(kills)-1 && kills[crash] <= at {
				crash++
			}
			res.resends[crash]++
		}
		lastAt[r.Token] = i
		var payload map[string]any
		if err := json.Unmarshal(r.Payload, &payload); err != nil {
			t.Fatalf("payload of a push: %v", err)
		}
		if want := push.DeriveCollapseID("default", id); r.CollapseID != want || payload[push.MessageIDKey] != id {
			t.Errorf("push of message %s: apns-collapse-id %q, %s %v; want %q, %q", id, r.CollapseID, push.MessageIDKey, payload[push.MessageIDKey], want, id)
		}
		f, repeat := first[r.Token]
		if !repeat {
			first[r.Token] = r
			continue
		}
		if r.CollapseID != f.CollapseID || r.Header.Get("apns-id") != f.Header.Get("apns-id") || !bytes.Equal(r.Payload, f.Payload) {
			t.Errorf("a repeat of message %s differs from its first push: collapse id %q / %q, apns-id %q / %q",
				id, r.CollapseID, f.CollapseID, r.Header.Get("apns-id"), f.Header.Get("apns-id"))
		}
	}
	res.tokens = len(mine)
	if len(first) != len(mine) {
		t.Errorf("the fake saw %d of %d tokens", len(first), len(mine))
	}

	// Nothing is left in flight, delayed or dead.
	checkQueueEmpty(t, data)
	return res
}

// TestChaosServeKilled kills `mobilepush serve` with SIGKILL three times
// while it sends 3,000 pushes to a fake Apple on loopback, and checks
// what runChaos checks; each crash re-sends no more than the pushes in
// flight ((workers + the quiet lane) x send-concurrency), each with its
// first identity.
func TestChaosServeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: starts and kills subprocesses (skipped with -short)")
	}
	cfg := chaosConfig{messages: 3, perMessage: 1000, kills: 3, every: 500, latency: 50 * time.Millisecond, workers: 2, concurrency: 20}
	res := runChaos(t, cfg)
	// The pushes in flight: send-concurrency for each message being sent,
	// the workers' and the quiet lane's (localsend.Worker).
	bound := (cfg.workers + 1) * cfg.concurrency
	for i, n := range res.resends {
		if n > bound {
			t.Errorf("crash %d re-sent %d pushes, more than the %d in flight", i+1, n, bound)
		}
	}
	t.Logf("%d tokens, %d pushes; re-sent per crash %v (bound %d)", res.tokens, res.pushes, res.resends, bound)
}

// BenchmarkCrashResends reports how many pushes a crash re-sends on the
// local path: `mobilepush serve` with its default send limits, killed
// with SIGKILL five times in the middle of a 10,000-token send to a fake
// Apple answering in 20 ms, next to the bound (the Sender's MaxInFlight,
// or fewer when the messages being sent hold fewer slots). It prints
// counts, not times; runChaos checks every crash kept its guarantees.
func BenchmarkCrashResends(b *testing.B) {
	const workers, maxInFlight = 4, 2000 // serve's default --workers, dispatch's default MaxInFlight
	for b.Loop() {
		res := runChaos(b, chaosConfig{messages: 10, perMessage: 1000, kills: 5, every: 1200, latency: 20 * time.Millisecond, workers: workers})
		total, most := 0, 0
		for _, n := range res.resends {
			total += n
			most = max(most, n)
		}
		bound := min(maxInFlight, (workers+1)*1000)
		fmt.Printf("crash resends: %d tokens, %d crashes, re-sent per crash %v (mean %.0f, most %d); bound %d in flight, most/bound %.2f\n",
			res.tokens, len(res.resends), res.resends, float64(total)/float64(len(res.resends)), most, bound, float64(most)/float64(bound))
		b.ReportMetric(float64(total)/float64(len(res.resends)), "resends/crash")
	}
}
