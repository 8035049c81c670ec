package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

// files mints one credential of each kind into a temp dir.
func files(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(testcred.PushCert{BundleID: "com.acme.app", Environment: testcred.SandboxOnly})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := id.P12(pkcs12.Modern2023, "s3cret", true)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := id.P12(pkcs12.LegacyRC2, "", true)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := testcred.NewP8()
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"push.p12": p12, "empty.p12": empty, "key.p8": p8, "sa.json": sa, "pw.txt": []byte("s3cret\n"),
		"big.p12": make([]byte, 70<<10),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInspectCommand(t *testing.T) {
	d := files(t)
	f := func(name string) string { return filepath.Join(d, name) }
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantExit int
		wantCode string // the report's code, when a report is printed
		wantErr  string // a phrase on stderr for usage errors
	}{
		{"p12 ok", []string{"--apns-p12", f("push.p12"), "--password", "s3cret", "--bundle-id", "com.acme.app"}, "", 0, "ok", ""},
		{"p12 sandbox-only for production", []string{"--apns-p12", f("push.p12"), "--password", "s3cret", "--bundle-id", "com.acme.app", "--environment", "production"}, "", 1, "environment_mismatch", ""},
		{"p12 wrong password", []string{"--apns-p12", f("push.p12"), "--password", "nope", "--bundle-id", "com.acme.app"}, "", 1, "wrong_password", ""},
		{"explicit empty password", []string{"--apns-p12", f("empty.p12"), "--password", "", "--bundle-id", "com.acme.app"}, "", 0, "ok", ""},
		{"password file", []string{"--apns-p12", f("push.p12"), "--password-file", f("pw.txt"), "--bundle-id", "com.acme.app"}, "", 0, "ok", ""},
		{"password from stdin", []string{"--apns-p12", f("push.p12"), "--password-file", "-", "--bundle-id", "com.acme.app"}, "s3cret\r\n", 0, "ok", ""},
		{"expired as of --now", []string{"--apns-p12", f("push.p12"), "--password", "s3cret", "--bundle-id", "com.acme.app", "--now", time.Now().AddDate(3, 0, 0).Format(time.RFC3339)}, "", 1, "expired", ""},
		{"too large", []string{"--apns-p12", f("big.p12"), "--password", "", "--bundle-id", "x"}, "", 1, "too_large", ""},
		{"p8 ok", []string{"--apns-p8", f("key.p8"), "--key-id", "ABC123DEFG", "--team-id", "TEAM123456"}, "", 0, "ok", ""},
		{"p8 bad key id", []string{"--apns-p8", f("key.p8"), "--key-id", "abc", "--team-id", "TEAM123456"}, "", 1, "invalid_key_id", ""},
		{"fcm ok", []string{"--fcm-json", f("sa.json")}, "", 0, "ok", ""},
		{"fcm given a p8", []string{"--fcm-json", f("key.p8")}, "", 1, "malformed_json", ""},
		{"no kind", []string{"--password", "x"}, "", 2, "", "one of --apns-p12"},
		{"two kinds", []string{"--apns-p8", f("key.p8"), "--fcm-json", f("sa.json")}, "", 2, "", "only one of"},
		{"no password flag", []string{"--apns-p12", f("push.p12"), "--bundle-id", "com.acme.app"}, "", 2, "", "exactly one of --password"},
		{"both password flags", []string{"--apns-p12", f("push.p12"), "--password", "", "--password-file", f("pw.txt"), "--bundle-id", "b"}, "", 2, "", "exactly one of --password"},
		{"no bundle id", []string{"--apns-p12", f("push.p12"), "--password", ""}, "", 2, "", "--bundle-id"},
		{"bad environment", []string{"--apns-p12", f("push.p12"), "--password", "", "--bundle-id", "b", "--environment", "prod"}, "", 2, "", "--environment"},
		{"p8 without ids", []string{"--apns-p8", f("key.p8")}, "", 2, "", "--key-id and --team-id"},
		{"p12 flag with p8", []string{"--apns-p8", f("key.p8"), "--key-id", "A", "--team-id", "B", "--bundle-id", "x"}, "", 2, "", "--bundle-id applies only"},
		{"bad --now", []string{"--fcm-json", f("sa.json"), "--now", "yesterday"}, "", 2, "", "RFC 3339"},
		{"bad format", []string{"--fcm-json", f("sa.json"), "--format", "yaml"}, "", 2, "", "--format"},
		{"missing file", []string{"--fcm-json", f("nope.json")}, "", 2, "", "no such file"},
		{"stray argument", []string{"--fcm-json", f("sa.json"), "extra"}, "", 2, "", "unexpected argument"},
		{"unknown flag", []string{"--fcm", f("sa.json")}, "", 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), append([]string{"inspect"}, tt.args...), strings.NewReader(tt.stdin), &stdout, &stderr)
			if got != tt.wantExit {
				t.Fatalf("exit = %d, want %d; stderr: %s", got, tt.wantExit, stderr.String())
			}
			if tt.wantExit == 2 {
				if !strings.Contains(stderr.String(), tt.wantErr) || !strings.Contains(stderr.String(), "usage:") {
					t.Errorf("stderr %q lacks %q or the usage", stderr.String(), tt.wantErr)
				}
				if stdout.Len() != 0 {
					t.Errorf("a usage error printed to stdout: %q", stdout.String())
				}
				return
			}
			// Exactly one JSON object on stdout: the report.
			dec := json.NewDecoder(&stdout)
			var report map[string]any
			if err := dec.Decode(&report); err != nil {
				t.Fatalf("stdout is not a JSON object: %v", err)
			}
			if dec.More() {
				t.Error("stdout holds more than one JSON value")
			}
			if report["code"] != tt.wantCode {
				t.Errorf("code = %v, want %s", report["code"], tt.wantCode)
			}
			if strings.Contains(stdout.String()+stderr.String(), "s3cret") {
				t.Error("the password was printed")
			}
		})
	}
}

func TestInspectTextFormat(t *testing.T) {
	d := files(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"inspect", "--apns-p12", filepath.Join(d, "push.p12"), "--password", "s3cret", "--bundle-id", "com.acme.other", "--format", "text"}, nil, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit = %d, want 1", code)
	}
	out := stdout.String()
	for _, want := range []string{"apns_p12: REJECTED (bundle_id_mismatch)", "FAIL bundle_id", "pass password", "requested bundle id:", "com.acme.other", "bundle id:", "fingerprint sha256:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestTopLevelUsage(t *testing.T) {
	tests := []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"help"}, 0},
		{[]string{"frobnicate"}, 2},
		{[]string{"inspect", "-h"}, 0},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if got := run(context.Background(), tt.args, nil, &stdout, &stderr); got != tt.want {
			t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
		}
		if !strings.Contains(stderr.String(), "usage") {
			t.Errorf("run(%q) printed no usage: %q", tt.args, stderr.String())
		}
	}
}

// TestInspectTextTellsTheTruth: an expired certificate says how long ago
// it expired (never negative days left), and the checks and the facts are
// aligned in columns.
func TestInspectTextTellsTheTruth(t *testing.T) {
	d := files(t)
	var stdout, stderr bytes.Buffer
	later := time.Now().AddDate(3, 0, 0).Format(time.RFC3339)
	code := run(context.Background(), []string{"inspect", "--apns-p12", filepath.Join(d, "push.p12"), "--password", "s3cret", "--bundle-id", "com.acme.app", "--format", "text", "--now", later}, nil, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit = %d, want 1: %s", code, stderr.String())
	}
	out := stdout.String()
	if !regexp.MustCompile(`\(expired \d+ days ago\)`).MatchString(out) || strings.Contains(out, "days left") {
		t.Errorf("not after line does not say how long ago it expired:\n%s", out)
	}
	// Every check line has its message at one column, every fact its value.
	checkCol, factCol := -1, -1
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		fields := strings.Fields(line)
		switch {
		case fields[0] == "pass" || fields[0] == "FAIL" || fields[0] == "warn":
			col := strings.Index(line, fields[2])
			if checkCol == -1 {
				checkCol = col
			} else if col != checkCol {
				t.Errorf("check message at column %d, want %d: %q", col, checkCol, line)
			}
		default:
			k, _, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("unexpected line %q", line)
			}
			col := len(k) + 1 + len(line[len(k)+1:]) - len(strings.TrimLeft(line[len(k)+1:], " "))
			if factCol == -1 {
				factCol = col
			} else if col != factCol {
				t.Errorf("fact value at column %d, want %d: %q", col, factCol, line)
			}
		}
	}
}

func TestDaysText(t *testing.T) {
	for left, want := range map[int]string{30: "30 days left", 1: "1 day left", 0: "expires within a day", -1: "expired within the last day", -2: "expired 1 day ago", -11: "expired 10 days ago"} {
		if got := daysText(left); got != want {
			t.Errorf("daysText(%d) = %q, want %q", left, got, want)
		}
	}
}
