package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

const csrUsage = `usage: mobilepush csr --app ID [--tenant T] [--out FILE] [--common-name CN] [--email E]
                      [--data DIR] [--url URL] [--bearer TOKEN | --token-file FILE]

Certificates without a Mac: makes an RSA-2048 key and a certificate
signing request for the app's APNs certificate. The key stays in
mobilepush, sealed like every secret, as the app's pending key; the
request is written to FILE (default <app>.certSigningRequest; - is
stdout). Upload it in the Apple Developer portal, then upload the aps.cer
Apple gives back to the app (PUT /v1/apps/{id}/apns with cer_base64, or
the file part apns.cer). A new request replaces the pending one; a
request expires after 30 days.

When mobilepush serve holds the data directory, the request goes through
its HTTP API at --url with the bearer token (--bearer, --token-file or
$MOBILEPUSH_TOKEN; the tenant is the token's). Otherwise it is made
directly on the data directory for --tenant (default "default").

Exit status: 0 made, 1 failure, 2 usage error.

flags:
`

type csrFlags struct {
	app, tenant, out, commonName, email string
	data, url, bearer, bearerFile       string
}

func runCSR(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newCmdFlags("csr", csrUsage, stderr)
	var f csrFlags
	fs.StringVar(&f.app, "app", "", "the app `id` (required)")
	fs.StringVar(&f.tenant, "tenant", "", "the `tenant` of the app on the data directory (default \"default\"; with a running server, the token's)")
	fs.StringVar(&f.out, "out", "", "write the request to `file` (default <app>.certSigningRequest; - is stdout)")
	fs.StringVar(&f.commonName, "common-name", "", "the request's common `name` (default the app's name; Apple sets the certificate's own)")
	fs.StringVar(&f.email, "email", "", "the request's email `address` (optional)")
	fs.StringVar(&f.data, "data", defaultDataDir, "data `directory`")
	fs.StringVar(&f.url, "url", "http://127.0.0.1:9006", "the running server's base `URL`")
	fs.StringVar(&f.bearer, "bearer", "", "API bearer `token` for the running server (default $MOBILEPUSH_TOKEN)")
	fs.StringVar(&f.bearerFile, "token-file", "", "a `file` holding the API bearer token")
	if code, ok := fs.parseNoArgs(args); !ok {
		return code
	}
	switch {
	case f.app == "":
		return fs.usageErr("--app is required")
	case f.bearer != "" && f.bearerFile != "":
		return fs.usageErr("give --bearer or --token-file, not both")
	}
	if f.out == "" {
		f.out = f.app + ".certSigningRequest"
	}
	p, via, err := f.make(ctx)
	var ue usageError
	if errors.As(err, &ue) {
		return fs.usageErr("%v", ue)
	}
	if err != nil {
		return fs.fail(err)
	}
	report := stdout
	if f.out == "-" {
		_, _ = io.WriteString(stdout, p.CSRPEM)
		report = stderr
	} else if err := os.WriteFile(f.out, []byte(p.CSRPEM), 0o644); err != nil {
		// The request is public; the pending key is made and kept either way.
		fmt.Fprintf(stderr, "mobilepush csr: the request was made but not written: %v; GET /v1/apps/%s/apns/csr?format=file downloads it\n", err, f.app)
		return exitFail
	}
	where := f.out
	if where == "-" {
		where = "stdout"
	}
	fmt.Fprintf(report, "signing request of app %s written to %s (%s)\n", f.app, where, via)
	fmt.Fprintf(report, "  key fingerprint sha256: %s\n  expires: %s\n", p.KeyFingerprintSHA256, p.ExpiresAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(report, "next: in the Apple Developer portal, Certificates, Identifiers & Profiles -> Certificates -> + ->\n"+
		"  Apple Push Notification service SSL (Sandbox & Production) -> the App ID -> upload %s -> Download;\n"+
		"  then upload aps.cer: PUT /v1/apps/%s/apns with {\"apns\":{\"bundle_id\":...,\"cer_base64\":...}} or the file part apns.cer\n", where, f.app)
	return exitOK
}

// make creates the request through the running server, or on the data
// directory when no server holds it; via says which. A usageError is the
// caller's mistake.
func (f csrFlags) make(ctx context.Context) (credential.PendingKey, string, error) {
	dir, err := openDataDir(f.data, "mobilepush csr", 0)
	if errors.Is(err, errHeld) {
		if f.tenant != "" {
			return credential.PendingKey{}, "", usageError{"a server holds the data directory: the tenant is the bearer token's; drop --tenant"}
		}
		bearer, err := sendFlags{bearer: f.bearer, bearerFile: f.bearerFile}.bearerToken()
		if err != nil {
			return credential.PendingKey{}, "", usageError{err.Error()}
		}
		c := &apiClient{base: strings.TrimRight(f.url, "/"), bearer: bearer, http: &http.Client{Timeout: 30 * time.Second}}
		var p credential.PendingKey
		body := map[string]string{"common_name": f.commonName, "email": f.email}
		if err := c.do(ctx, "POST", "/v1/apps/"+f.app+"/apns/csr", body, &p); err != nil {
			return credential.PendingKey{}, "", err
		}
		return p, "through the server at " + c.base, nil
	}
	if err != nil {
		return credential.PendingKey{}, "", err
	}
	defer dir.Close()
	if f.bearer != "" || f.bearerFile != "" {
		return credential.PendingKey{}, "", usageError{"no server holds the data directory: the request is made on it directly; drop --bearer/--token-file (or start mobilepush serve)"}
	}
	tenant := f.tenant
	if tenant == "" {
		tenant = "default"
	}
	store, err := boltstore.Open(dir.file("data.db"), boltstore.Options{})
	if err != nil {
		return credential.PendingKey{}, "", err
	}
	defer store.Close()
	reg := &registry.Service{Store: credential.NewService(credential.Config{Meta: store, Secrets: store})}
	p, err := reg.CreateSigningRequest(ctx, registry.Principal{Tenant: tenant, Subject: "local:mobilepush csr"}, f.app,
		registry.SigningRequestInput{CommonName: f.commonName, Email: f.email})
	if err != nil {
		return credential.PendingKey{}, "", errors.New(push.MessageOf(err))
	}
	return p, "on " + f.data + " for tenant " + tenant, nil
}
