package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mobilepush/shared/apitoken"
	"mobilepush/shared/push"
)

// tokenFileName is the file in the data directory holding the bearer
// token of make run (mode 0600); `mobilepush send` reads it by default.
const tokenFileName = "api-token"

// runTokenName is the name of make run's token in the token list.
const runTokenName = "make-run"

// The demo credentials infra/scripts/run.sh mints into DATA/demo (kept
// across runs).
const (
	demoBundleID = "com.example.app"
	demoPassword = "demo"
	demoKeyID    = "ABC123DEFG"
	demoTeamID   = "DEMOTEAM01" // the fake Apple accepts any team id
)

// ensureRunToken returns the token of the token file of sys when it is
// still valid for tenant "default", or makes a new one (named make-run)
// and writes it there.
func ensureRunToken(sys *system) (string, error) {
	path := sys.dir.file(tokenFileName)
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if info, err := sys.tokens.Check(tok); err == nil && info.Tenant == "default" {
			return tok, nil
		}
	}
	if _, err := sys.tokens.Revoke(runTokenName); err != nil && !push.Is(err, push.NotFound) {
		return "", err
	}
	tok, _, err := sys.tokens.Create(apitoken.IssueRequest{Tenant: "default", Name: runTokenName})
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(sys.dir.path, ".api-token-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(tok + "\n")
	if err := errors.Join(werr, tmp.Chmod(0o600), tmp.Close()); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tok, os.Rename(tmp.Name(), path)
}

// printRunBanner prints what make run shows once the port is bound.
func printRunBanner(sys *system, addr, data string, w io.Writer) error {
	tok, err := ensureRunToken(sys)
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	tokenFile := filepath.Join(data, tokenFileName)
	demo := filepath.Join(data, "demo")
	fmt.Fprintf(w, `==> mobilepush on http://%[1]s  (tenant "default"; open it in a browser for the admin page)
    token:  %[2]s
            (in %[3]s, mode 0600; ./bin/mobilepush send and curl below read it from there)
    demo credentials to upload, kept across runs, in %[4]s/:
            push.p12               password %[5]q, bundle id %[6]s
            AuthKey_%[7]s.p8  key id %[7]s, team id %[8]s (the fake Apple accepts any team id)
            service-account.json   project example-project
    try:    curl -s -H "Authorization: Bearer $(cat %[3]s)" http://%[1]s/v1/apps
            ./bin/mobilepush token list --data %[9]s
    stop:   Ctrl-C
`, addr, tok, tokenFile, demo, demoPassword, demoBundleID, demoKeyID, demoTeamID, data)
	return nil
}
