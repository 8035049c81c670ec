package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinaries builds mobilepush and mintcred into a temporary bin/.
func buildBinaries(t *testing.T) (mobilepush, mintcred string) {
	t.Helper()
	bin := t.TempDir()
	for _, pkg := range []string{"mobilepush", "mintcred"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, pkg), "../"+pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	return filepath.Join(bin, "mobilepush"), filepath.Join(bin, "mintcred")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var bannerToken = regexp.MustCompile(`(?m)^    token:  (mpt_\S+)$`)

// startRun runs infra/scripts/run.sh as make run does and returns its
// banner once it shows the token; the process is stopped with SIGINT.
func startRun(t *testing.T, bin, mint, data, addr string) (banner string, stop func()) {
	t.Helper()
	cmd := exec.Command("bash", "../scripts/run.sh", bin, data, addr, "fake", mint)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "    stop:") {
			break
		}
	}
	go func() {
		for sc.Scan() {
		}
	}()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err != nil {
			t.Errorf("make run exit: %v; stderr: %s", err, stderr.String())
		}
	}
	if !bannerToken.MatchString(b.String()) {
		stop()
		t.Fatalf("no token in the banner %q; stderr: %s", b.String(), stderr.String())
	}
	return b.String(), stop
}

// TestMakeRun walks make run as a first-timer: the banner comes after
// the port is bound and names the token file, the demo key id and team
// id; a second run keeps the token and the demo credentials; send uses
// the token file by default; a busy port exits at once, names ADDR= and
// creates nothing.
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries (skipped with -short)")
	}
	bin, mint := buildBinaries(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)

	banner, stop := startRun(t, bin, mint, data, addr)
	tok := bannerToken.FindStringSubmatch(banner)[1]
	for _, want := range []string{"http://" + addr, filepath.Join(data, tokenFileName), "key id " + demoKeyID, "team id " + demoTeamID, "./bin/mobilepush"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	fi, err := os.Stat(filepath.Join(data, tokenFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v, want mode 0600", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(data, tokenFileName)); strings.TrimSpace(string(b)) != tok {
		t.Errorf("token file holds another token than the banner's")
	}
	p8 := filepath.Join(data, "demo", "AuthKey_"+demoKeyID+".p8")
	first, err := os.ReadFile(p8)
	if err != nil {
		t.Fatalf("demo .p8: %v", err)
	}
	// send reads the token file and the server's address by default: the
	// unknown app is the server's answer (404), not a missing token.
	cmd := exec.Command(bin, "send", "--data", data, "--app", "nope", "--token", strings.Repeat("ab", 32), "--title", "Hi")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "404") {
		t.Errorf("send with the default token file: %s", out)
	}
	// Beside the running server the CLI works.
	if out, err := exec.Command(bin, "token", "list", "--data", data).CombinedOutput(); err != nil || !strings.Contains(string(out), runTokenName) {
		t.Errorf("token list beside make run: %v %s", err, out)
	}

	// A busy port: exits at once, names ADDR=, creates nothing.
	fresh := filepath.Join(t.TempDir(), "fresh")
	start := time.Now()
	busy := exec.Command("bash", "../scripts/run.sh", bin, fresh, addr, "fake", mint)
	out, err = busy.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ADDR=") || !strings.Contains(string(out), addr) {
		t.Errorf("busy port: %v %s", err, out)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("busy port created %s (%v)", fresh, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("busy port took %v", d)
	}
	stop()

	banner, stop = startRun(t, bin, mint, data, addr)
	defer stop()
	if got := bannerToken.FindStringSubmatch(banner)[1]; got != tok {
		t.Error("a second make run made a new token instead of keeping the first")
	}
	if again, _ := os.ReadFile(p8); !bytes.Equal(again, first) {
		t.Error("a second make run minted new demo credentials")
	}
}
