package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the tests run `mobilepush` as a subprocess by re-executing
// the test binary with MOBILEPUSH_RUN_MAIN=1: it then runs main, so a
// kill -9 hits a real process.
func TestMain(m *testing.M) {
	if os.Getenv("MOBILEPUSH_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// serveProc is `mobilepush serve` running as a subprocess.
type serveProc struct {
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	done   chan error
}

// startServeProc starts serve on data with extra flags and waits for its URL.
func startServeProc(t testing.TB, data string, extra ...string) *serveProc {
	t.Helper()
	return startServeWith(t, nil, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--fake-gateways"}, extra...)...)
}

// startServeWith starts `mobilepush args...` (a serve) with env added to
// the test's environment and waits for its URL.
func startServeWith(t testing.TB, env []string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "MOBILEPUSH_RUN_MAIN=1"), env...)
	p := &serveProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case line := <-lines:
		if !strings.HasPrefix(line, "mobilepush serving on ") {
			t.Fatalf("serve printed %q; stderr:\n%s", line, p.stderr.String())
		}
		p.base = strings.Fields(strings.TrimPrefix(line, "mobilepush serving on "))[0]
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start; stderr:\n%s", p.stderr.String())
	}
	return p
}

// kill ends the process with SIGKILL, as a crash would.
func (p *serveProc) kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil
}

// stop ends the process gracefully (if it still runs).
func (p *serveProc) stop(t testing.TB) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("serve did not stop on SIGINT; stderr:\n%s", p.stderr.String())
	}
}

// mintToken runs `mobilepush token` on data.
func mintToken(t testing.TB, data string) string {
	t.Helper()
	var tok, errb bytes.Buffer
	if code := run(context.Background(), []string{"token", "--data", data, "--tenant", "default"}, nil, &tok, &errb); code != 0 {
		t.Fatalf("token exit %d: %s", code, errb.String())
	}
	return strings.TrimSpace(tok.String())
}

// apiCall sends a JSON request and decodes the JSON answer into out.
func apiCall(t testing.TB, method, url, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && json.Unmarshal(raw, out) != nil {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// registerAPNsApp registers an app with a minted production push
// certificate and returns its id.
func registerAPNsApp(t testing.TB, base, token string) string {
	t.Helper()
	p12, _ := mintP12(t, "com.example.app", "demo")
	var app struct {
		ID   string
		APNs struct{ Status string }
	}
	status := apiCall(t, "POST", base+"/v1/apps", token, map[string]any{"name": "Demo",
		"apns": map[string]any{"bundle_id": "com.example.app", "p12_base64": base64.StdEncoding.EncodeToString(p12), "password": "demo"}}, &app)
	if status != 201 || app.APNs.Status != "ok" {
		t.Fatalf("create app = %d %+v", status, app)
	}
	return app.ID
}

func randomAPNsTokens(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		out[i] = hex.EncodeToString(b[:])
	}
	return out
}

// TestServeKillRestartLosesNothing enqueues messages with many tokens on
// a serve whose fake APNs answers slowly, kills it with SIGKILL while it
// sends, restarts it on the same data directory and checks that every
// token of every accepted message ends with exactly one final outcome,
// delivered: nothing accepted is lost and nothing is counted twice. It
// also checks that a second serve on the held directory exits within
// about a second naming the holder.
func TestServeKillRestartLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	const messages, perMessage = 4, 120
	kt, first := startKillTest(t, "3s", messages, perMessage)
	data := kt.data
	// Kill it mid-send: some outcomes recorded, far from all.
	n := kt.waitSomeSent(t, first, 20, 20*time.Millisecond)
	t.Logf("killing serve with %d of %d outcomes recorded", n, messages*perMessage)
	first.kill(t)

	second := startServeProc(t, data, kt.flags...)

	// One process owns a data directory: another serve gives up fast.
	var out, errb bytes.Buffer
	start := time.Now()
	if code := run(context.Background(), []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--fake-gateways"}, nil, &out, &errb); code != exitFail {
		t.Errorf("second serve: exit %d, want %d", code, exitFail)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("second serve waited %v for the lock, want about 1 s", d)
	}
	if msg := errb.String(); !strings.Contains(msg, "mobilepush serve") || !strings.Contains(msg, "pid") || !strings.Contains(msg, "held by") {
		t.Errorf("second serve's error does not name the holder: %q", msg)
	}

	kt.waitDelivered(t, second, 60*time.Second, "not done after the restart")
	second.stop(t)

	// The queue is empty and nothing was dead-lettered.
	checkQueueEmpty(t, data)
}

// checkQueueEmpty runs `mobilepush queue --json` on data and checks that
// nothing is visible, in flight, delayed or dead.
func checkQueueEmpty(t testing.TB, data string) {
	t.Helper()
	var qout, qerr bytes.Buffer
	if code := run(context.Background(), []string{"queue", "--data", data, "--json"}, nil, &qout, &qerr); code != 0 {
		t.Fatalf("queue exit %d: %s", code, qerr.String())
	}
	var rep queueReport
	if err := json.Unmarshal(qout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Visible+rep.InFlight+rep.Delayed+rep.Dead != 0 {
		t.Errorf("queue after the run = %+v, want empty", rep)
	}
}

// TestSendCommand runs `mobilepush send` against serve --fake-gateways:
// it queues the tokens, waits and prints the counts.
func TestSendCommand(t *testing.T) {
	base, token, _ := startServer(t)
	appID := registerAPNsApp(t, base, token)
	tokensFile := writeFile(t, t.TempDir(), "tokens.txt", []byte("# devices\n"+strings.Join(randomAPNsTokens(t, 3), "\n")+"\n\n"))
	bearerFile := writeFile(t, t.TempDir(), "token", []byte(token+"\n"))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"tokens file, waits for the outcomes", []string{"--app", appID, "--tokens-file", tokensFile, "--title", "Hi", "--url", base, "--token-file", bearerFile}, 0, "done: 3 tokens: delivered 3,", ""},
		{"repeated --token, no wait", []string{"--app", appID, "--token", strings.Repeat("ab", 32), "--token", strings.Repeat("cd", 32), "--body", "x", "--url", base, "--bearer", token, "--no-wait"}, 0, "(2 tokens)", ""},
		{"unknown app", []string{"--app", "nope", "--token", strings.Repeat("ab", 32), "--title", "Hi", "--url", base, "--bearer", token}, 1, "", "404 not_found: app_id"},
		{"a platform the app has no credential for", []string{"--app", appID, "--platform", "fcm", "--token", "fcm-device-1", "--title", "Hi", "--url", base, "--bearer", token}, 1, "", "422 platform_unconfigured: tokens.fcm"},
		{"bad token refused before sending", []string{"--app", appID, "--token", "xyz", "--title", "Hi", "--url", base, "--bearer", token}, 1, "", "tokens.apns[0]"},
		{"no app", []string{"--token", "x"}, 2, "", "--app is required"},
		{"queue URL needs a tenant", []string{"--app", "a", "--token", "x", "--queue-url", "https://sqs.example/q"}, 2, "", "--tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"send"}, tt.args...), nil, &out, &errb)
			if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
		})
	}
}

func TestQueueCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"--data", data}, 0, "send queue: 0 visible, 0 in flight, 0 delayed\ndead-letter queue: 0\n"},
		{[]string{"--data", data, "--redrive"}, 0, "redrove 0 dead letters"},
		{[]string{"--data", data, "extra"}, 2, ""},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"queue"}, tt.args...), nil, &out, &errb); code != tt.code || !strings.Contains(out.String(), tt.stdout) {
			t.Errorf("queue %v: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.args, code, tt.code, out.String(), errb.String())
		}
	}
}
