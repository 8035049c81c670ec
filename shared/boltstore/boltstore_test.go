package boltstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/credential/credentialtest"
	"mobilepush/shared/push"
)

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestBoltConformance(t *testing.T) {
	credentialtest.Run(t, func(t *testing.T) (credential.MetadataStore, credential.SecretStore) {
		s := open(t, filepath.Join(t.TempDir(), "mobilepush.db"))
		return s, s
	})
}

func TestOpenLockedFileFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mobilepush.db")
	open(t, path)

	start := time.Now()
	_, err := boltstore.Open(path, boltstore.Options{})
	elapsed := time.Since(start)
	if !errors.Is(err, boltstore.ErrLocked) || !push.Is(err, push.Conflict) {
		t.Fatalf("second Open error = %v, want ErrLocked with kind Conflict", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another process") {
		t.Errorf("error %q does not name the file and the problem", err)
	}
	if elapsed > 1500*time.Millisecond {
		t.Errorf("second Open took %v, want at most about 1s", elapsed)
	}
}

func TestKeyFileAndSealing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mobilepush.db")
	s := open(t, path)
	ctx := context.Background()

	st, err := os.Stat(path + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Fatalf("key file mode = %v, want 0600", got)
	}

	secret := []byte("-----BEGIN PRIVATE KEY-----PLAINTEXTMARKER-----END PRIVATE KEY-----")
	id, ver, err := s.CreateSecret(ctx, credential.SecretOwner{Tenant: "t", AppID: "a", Platform: push.APNs}, push.NewRedacted(bytes.Clone(secret)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadVersion(ctx, id, ver)
	if err != nil || !bytes.Equal(got.Reveal(), secret) {
		t.Fatalf("ReadVersion = %v, %v", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("PLAINTEXTMARKER")) {
		t.Fatal("the data file holds the secret in plain text")
	}

	// Another key does not open the sealed value.
	other := filepath.Join(dir, "other.key")
	s2, err := boltstore.Open(path, boltstore.Options{KeyFile: other})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	_, err = s2.ReadVersion(ctx, id, ver)
	if !push.Is(err, push.Internal) || strings.Contains(err.Error(), "PLAINTEXTMARKER") {
		t.Fatalf("reading with another key: %v, want Internal", err)
	}
}

func TestKeyFileTooOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	if err := os.WriteFile(key, bytes.Repeat([]byte{1}, 32), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := boltstore.Open(filepath.Join(dir, "db"), boltstore.Options{KeyFile: key})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Open with a world-readable key = %v, want a refusal", err)
	}
}

// TestHelperHoldLock is not a test: TestOpenHeldByAnotherProcess runs the
// test binary again with it to hold the file from a second process.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("BOLTSTORE_TEST_HOLD")
	if path == "" {
		return // only meaningful as the helper process
	}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	os.Stdout.WriteString("holding\n")
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
}

func TestOpenHeldByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mobilepush.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "BOLTSTORE_TEST_HOLD="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "holding\n" {
		t.Fatalf("helper did not take the lock: %q, %v", line, err)
	}

	start := time.Now()
	_, err = boltstore.Open(path, boltstore.Options{})
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("Open while another process holds the file = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Open gave up after %v, want about 1s", d)
	}

	// Once the other process is gone the file opens intact.
	stdin.Close()
	_ = cmd.Wait()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("Open after the other process exited: %v", err)
	}
	s.Close()
}
