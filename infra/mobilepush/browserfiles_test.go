package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// googleServicesJSON is an Android app's client configuration as Firebase
// hands it out: the file admins upload by mistake instead of the key.
func googleServicesJSON(t *testing.T) []byte {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{
		"project_info": map[string]any{"project_number": "123456789012", "project_id": "shop-push", "storage_bucket": "shop-push.appspot.com"},
		"client": []any{map[string]any{
			"client_info": map[string]any{"mobilesdk_app_id": "1:123456789012:android:0123456789abcdef", "android_client_info": map[string]any{"package_name": "com.example.shop"}},
			"api_key":     []any{map[string]any{"current_key": "AIzaSyExampleExampleExampleExample000"}},
		}},
		"configuration_version": "1",
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// daysLeft is the API's days_left: whole days until notAfter, rounded down.
func daysLeft(notAfter time.Time) int {
	return int(math.Floor(time.Until(notAfter).Hours() / 24))
}

// repoRoot is the directory of go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// findChromium returns the path of a Chromium or Chrome binary. Without
// one the test is skipped loudly, or fails when CI=true.
func findChromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "!!!!! BROWSER TEST NOT RUN: no Chromium found (/usr/bin/chromium, chromium, chromium-browser, google-chrome in PATH).\n" +
		"!!!!! Install Debian's package: apt-get update && apt-get install -y --no-install-recommends chromium"
	fmt.Fprintln(os.Stderr, msg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// updateDoc writes png to docs/name when UPDATE_SCREENSHOT=1 (the
// screenshots the README shows).
func updateDoc(t *testing.T, name string, png []byte) {
	t.Helper()
	if os.Getenv("UPDATE_SCREENSHOT") != "1" {
		return
	}
	dst := filepath.Join(repoRoot(t), "docs", name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("updated %s", dst)
}
