//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rieModule is the pinned Runtime Interface Emulator.
const rieModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// functionNames are the directories of functions/, one bootstrap each.
var functionNames = []string{"register", "validate", "send", "expiry"}

var rieOnce struct {
	sync.Mutex
	path string
}

// findRIE returns the path of aws-lambda-rie: from PATH, GOBIN or
// GOPATH/bin, or installed there with go install at the pinned version.
// Installation runs once per machine at a time: an in-process mutex and a
// file lock (flock) serialize concurrent test processes.
func findRIE(t *testing.T) string {
	t.Helper()
	rieOnce.Lock()
	defer rieOnce.Unlock()
	if rieOnce.path != "" {
		return rieOnce.path
	}
	if p := lookRIE(t); p != "" {
		rieOnce.path = p
		return p
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "mobilepush-aws-lambda-rie-install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("open the install lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("take the install lock: %v", err)
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if p := lookRIE(t); p != "" { // another process installed it meanwhile
		rieOnce.path = p
		return p
	}
	t.Logf("aws-lambda-rie not found: go install %s", rieModule)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", rieModule)
	cmd.Dir = t.TempDir() // outside the module: go install pkg@version ignores it anyway
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", rieModule, err, out)
	}
	p := lookRIE(t)
	if p == "" {
		t.Fatalf("go install %s succeeded but aws-lambda-rie is in neither GOBIN nor GOPATH/bin", rieModule)
	}
	rieOnce.path = p
	return p
}

// lookRIE looks for aws-lambda-rie where go install puts it and in PATH.
func lookRIE(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	var dirs []string
	if gobin := goEnv(t, "GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	if gopath := goEnv(t, "GOPATH"); gopath != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gopath)[0], "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "aws-lambda-rie")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// buildBootstraps builds the four functions for the host (as the
// Makefile does for Lambda, minus GOARCH=arm64) in one go build and
// returns each function's bootstrap path, <dir>/<name>/bootstrap.
func buildBootstraps(t *testing.T, moduleRoot, dir string) map[string]string {
	t.Helper()
	out := filepath.Join(dir, "build") + string(filepath.Separator)
	args := []string{"build", "-tags", "lambda.norpc", "-o", out}
	for _, n := range functionNames {
		args = append(args, "./functions/"+n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	paths := map[string]string{}
	for _, n := range functionNames {
		p := filepath.Join(dir, n, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(out, n), p); err != nil {
			t.Fatalf("bootstrap of %s: %v", n, err)
		}
		paths[n] = p
	}
	t.Logf("built %d bootstraps in %s", len(paths), time.Since(start).Round(time.Millisecond))
	return paths
}

// function is one Lambda function served by its own emulator.
type function struct {
	name    string
	url     string // the invocations endpoint
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startFunction runs bootstrap under aws-lambda-rie bound to 127.0.0.1
// (emulator and Runtime API each on a free port) with exactly env, its
// output in <logDir>/<name>.log. It waits until the emulator accepts
// connections; a port taken in the meantime is retried with new ports.
// The process group is stopped when the test ends.
func startFunction(t *testing.T, rie, name, bootstrap, logDir string, env []string) *function {
	t.Helper()
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		f, err := tryStart(t, rie, name, bootstrap, logDir, env, attempt)
		if err == nil {
			return f
		}
		lastErr = err
		t.Logf("%s: %v; retrying with other ports", name, err)
	}
	t.Fatalf("start %s under aws-lambda-rie: %v", name, lastErr)
	return nil
}

func tryStart(t *testing.T, rie, name, bootstrap, logDir string, env []string, attempt int) (*function, error) {
	t.Helper()
	emu := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logPath := filepath.Join(logDir, fmt.Sprintf("%s.%d.log", name, attempt))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", emu, "--runtime-api-address", api, bootstrap)
	cmd.Env = env
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop the bootstrap with the emulator
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	f := &function{name: name, url: "http://" + emu + "/2015-03-31/functions/function/invocations", logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(f.exited)
	}()
	t.Cleanup(f.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", emu, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return f, nil
		}
		select {
		case <-f.exited:
			return nil, fmt.Errorf("aws-lambda-rie exited at start (%s); log:\n%s", cmd.ProcessState, readFile(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.stop()
			return nil, fmt.Errorf("aws-lambda-rie did not listen on %s within 15s; log:\n%s", emu, readFile(logPath))
		}
	}
}

// stop ends the emulator and its bootstrap: SIGTERM to the process
// group, SIGKILL after 5 s.
func (f *function) stop() {
	select {
	case <-f.exited:
		return
	default:
	}
	pgid := f.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-f.exited:
	case <-time.After(5 * time.Second):
		f.kill()
	}
	// The bootstrap may outlive the emulator briefly: sweep the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

// invoke posts event to the function's emulator, as Lambda's Invoke API
// would, and decodes the handler's response into out. A function error
// (the runtime's {"errorType","errorMessage"}) fails the test.
func (f *function) invoke(t *testing.T, ctx context.Context, event any, out any) {
	t.Helper()
	start := time.Now()
	raw, err := f.post(ctx, event)
	t.Logf("invoke %s: in %s: %s", f.name, time.Since(start).Round(time.Millisecond), truncate(raw, 600))
	if err != nil {
		t.Fatalf("invoke %s: %v", f.name, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("invoke %s: decode %s: %v", f.name, raw, err)
	}
}

// post posts event to the function's emulator and returns the handler's
// response. An error is returned for a failed request (the emulator
// died), a status other than 200 and a function error (the runtime's
// {"errorType","errorMessage"}); raw then holds what was read.
func (f *function) post(ctx context.Context, event any) (raw []byte, err error) {
	body, err := json.Marshal(event)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil {
		return raw, fmt.Errorf("read the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return raw, fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw)
	}
	var fnErr struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal(raw, &fnErr) == nil && (fnErr.ErrorType != "" || fnErr.ErrorMessage != "") {
		return raw, fmt.Errorf("function error %s: %s", fnErr.ErrorType, fnErr.ErrorMessage)
	}
	return raw, nil
}

// kill ends the emulator and its bootstrap at once, as a crash of the
// execution environment would: SIGKILL to the emulator's process group
// and to every process under it (the emulator starts the bootstrap in a
// process group of its own, which outlives the emulator's). It returns
// how many processes it killed.
func (f *function) kill() int {
	pids := descendants(f.cmd.Process.Pid)
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	for _, pid := range pids {
		_ = syscall.Kill(-pid, syscall.SIGKILL) // its group, when it leads one
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	<-f.exited
	return 1 + len(pids)
}

// descendants returns the processes under pid, read from /proc.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		var state string
		var ppid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	for queue := children[pid]; len(queue) > 0; queue = queue[1:] {
		out = append(out, queue[0])
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + fmt.Sprintf("... (%d bytes)", len(b))
}

// dumpLogsOnFailure logs every function's output when the test fails.
// Register it before the functions start: cleanups run last-in first-out,
// so the processes are stopped (and their logs complete) by then.
func dumpLogsOnFailure(t *testing.T, logDir string) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		files, _ := filepath.Glob(filepath.Join(logDir, "*.log"))
		if len(files) == 0 {
			t.Log("no function logs")
		}
		for _, p := range files {
			t.Logf("==== %s ====\n%s", filepath.Base(p), readFile(p))
		}
	})
}
