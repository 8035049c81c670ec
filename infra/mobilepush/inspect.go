package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/push"
)

const inspectUsage = `usage:
  mobilepush inspect --apns-p12 FILE (--password P | --password-file F) --bundle-id B [--environment production|sandbox]
  mobilepush inspect --apns-cer FILE --key KEY.pem --bundle-id B [--environment production|sandbox]
  mobilepush inspect --apns-pem FILE [--password-file F] --bundle-id B [--environment production|sandbox]
  mobilepush inspect --apns-p8 FILE --key-id K --team-id T
  mobilepush inspect --fcm-json FILE
common flags: [--now RFC3339] [--format json|text] [--expiring-days N]

Inspects a push credential offline and prints the report. Without
--environment there is no environment requirement. --password "" is an
explicit empty password; --password-file - reads the password from stdin
(one trailing newline is removed).
Exit status: 0 when the code is ok (warnings allowed), 1 for a blocking
problem, 2 for a usage error.

flags:
`

// usageError is a mistake in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func runInspect(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newCmdFlags("inspect", inspectUsage, stderr)
	var (
		p12File      = fs.String("apns-p12", "", "APNs certificate `file` (.p12)")
		password     = fs.String("password", "", "`password` of the .p12 (visible to other users of this machine: prefer --password-file)")
		passwordFile = fs.String("password-file", "", "read the .p12 password from `file` (- for stdin)")
		bundleID     = fs.String("bundle-id", "", "the app's bundle `id` (required with --apns-p12)")
		environment  = fs.String("environment", "", "required APNs `environment`: production or sandbox (default: none)")
		cerFile      = fs.String("apns-cer", "", "Apple's certificate `file` (aps.cer, DER or PEM), paired with --key")
		keyFile      = fs.String("key", "", "the private key `file` (PEM) a --apns-cer was requested with")
		pemFile      = fs.String("apns-pem", "", "APNs certificate and private key as PEM text `file` (openssl pkcs12 -nodes output)")
		p8File       = fs.String("apns-p8", "", "APNs auth key `file` (.p8)")
		keyID        = fs.String("key-id", "", "the auth key's 10-character Key `ID`")
		teamID       = fs.String("team-id", "", "the developer account's 10-character Team `ID`")
		fcmFile      = fs.String("fcm-json", "", "Firebase service-account key `file` (.json)")
		now          = fs.String("now", "", "inspect as of this `time` (RFC 3339) instead of now")
		format       = fs.String("format", "json", "output `format`: json (one JSON object) or text")
		expiringDays = fs.Int("expiring-days", 30, "warn when a certificate expires within `N` days")
	)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	report, err := inspect(inspectArgs{
		set: set, p12: *p12File, password: *password, passwordFile: *passwordFile, bundleID: *bundleID,
		environment: *environment, p8: *p8File, keyID: *keyID, teamID: *teamID, fcm: *fcmFile,
		now: *now, format: *format, expiringDays: *expiringDays, extra: fs.Args(),
		cer: *cerFile, key: *keyFile, pem: *pemFile,
	}, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush inspect: %v\n\n", err)
		fs.Usage()
		return exitUsage
	}
	if *format == "text" {
		writeText(stdout, report)
	} else {
		if err := printJSON(stdout, report); err != nil {
			fmt.Fprintf(stderr, "mobilepush inspect: write report: %v\n", err)
			return exitFail
		}
	}
	if !report.OK {
		return exitFail
	}
	return exitOK
}

type inspectArgs struct {
	set                                                map[string]bool
	p12, password, passwordFile, bundleID, environment string
	p8, keyID, teamID, fcm, now, format                string
	cer, key, pem                                      string
	expiringDays                                       int
	extra                                              []string
}

// inspect validates the flags, reads the file and inspects it. Every
// error it returns is a usage error.
func inspect(a inspectArgs, stdin io.Reader) (*certinfo.Report, error) {
	if len(a.extra) > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q", a.extra[0])}
	}
	var kinds []string
	for _, k := range []string{"apns-p12", "apns-cer", "apns-pem", "apns-p8", "fcm-json"} {
		if a.set[k] {
			kinds = append(kinds, "--"+k)
		}
	}
	switch len(kinds) {
	case 0:
		return nil, usageError{"one of --apns-p12, --apns-cer, --apns-pem, --apns-p8 or --fcm-json is required"}
	case 1:
	default:
		return nil, usageError{"give only one of " + strings.Join(kinds, ", ")}
	}
	if a.format != "json" && a.format != "text" {
		return nil, usageError{fmt.Sprintf("--format %q: want json or text", a.format)}
	}
	if a.expiringDays < 1 {
		return nil, usageError{"--expiring-days must be at least 1"}
	}
	in := &certinfo.Inspector{ExpiringWindow: time.Duration(a.expiringDays) * 24 * time.Hour}
	if a.now != "" {
		t, err := time.Parse(time.RFC3339, a.now)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--now %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", a.now)}
		}
		in.Now = func() time.Time { return t }
	}
	onlyWith := func(kind string, flags ...string) error {
		for _, f := range flags {
			if a.set[f] {
				return usageError{fmt.Sprintf("--%s applies only with --%s", f, kind)}
			}
		}
		return nil
	}

	if a.set["key"] && !a.set["apns-cer"] {
		return nil, usageError{"--key applies only with --apns-cer"}
	}
	switch {
	case a.set["apns-cer"], a.set["apns-pem"]:
		return inspectCertificate(a, in, stdin)
	case a.set["apns-p12"]:
		if err := onlyWith("apns-p8", "key-id", "team-id"); err != nil {
			return nil, err
		}
		if a.set["password"] == a.set["password-file"] {
			return nil, usageError{"--apns-p12 needs exactly one of --password or --password-file (--password \"\" for an empty password)"}
		}
		if a.bundleID == "" {
			return nil, usageError{"--apns-p12 needs --bundle-id"}
		}
		env, err := a.environmentArg()
		if err != nil {
			return nil, err
		}
		data, req, err := a.p12Input("apns-p12", a.p12, env, stdin)
		if err != nil {
			return nil, err
		}
		return in.P12(data, req), nil
	case a.set["apns-p8"]:
		if err := onlyWith("apns-p12", "password", "password-file", "bundle-id", "environment"); err != nil {
			return nil, err
		}
		if !a.set["key-id"] || !a.set["team-id"] {
			return nil, usageError{"--apns-p8 needs --key-id and --team-id"}
		}
		data, err := readArg("apns-p8", a.p8, stdin)
		if err != nil {
			return nil, err
		}
		return in.P8(data, certinfo.P8Request{KeyID: a.keyID, TeamID: a.teamID}), nil
	default:
		if err := onlyWith("apns-p12", "password", "password-file", "bundle-id", "environment"); err != nil {
			return nil, err
		}
		if err := onlyWith("apns-p8", "key-id", "team-id"); err != nil {
			return nil, err
		}
		data, err := readArg("fcm-json", a.fcm, stdin)
		if err != nil {
			return nil, err
		}
		return in.ServiceAccount(data), nil
	}
}

// environmentArg is --environment, or no environment when it was not given.
func (a inspectArgs) environmentArg() (push.Environment, error) {
	if !a.set["environment"] {
		return "", nil
	}
	env, err := push.ParseEnvironment(a.environment)
	if err != nil {
		return "", usageError{fmt.Sprintf("--environment %q: want production or sandbox", a.environment)}
	}
	return env, nil
}

// p12Input reads the password and the file of --flag (apns-p12 or
// apns-pem, named name) as P12 and PEMBundle take them.
func (a inspectArgs) p12Input(flag, name string, env push.Environment, stdin io.Reader) ([]byte, certinfo.P12Request, error) {
	pw, err := a.passwordArg(stdin)
	if err != nil {
		return nil, certinfo.P12Request{}, err
	}
	data, err := readArg(flag, name, stdin)
	if err != nil {
		return nil, certinfo.P12Request{}, err
	}
	return data, certinfo.P12Request{Password: pw, BundleID: a.bundleID, Environment: env}, nil
}

// passwordArg is the password of the certificate: --password, or the first
// line of --password-file.
func (a inspectArgs) passwordArg(stdin io.Reader) (string, error) {
	if !a.set["password-file"] {
		return a.password, nil
	}
	b, err := readArg("password-file", a.passwordFile, stdin)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

// readArg reads the file named by --flag with readInput; its error is a
// usage error naming the flag.
func readArg(flag, name string, stdin io.Reader) ([]byte, error) {
	b, err := readInput(name, stdin)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--%s: %v", flag, err)}
	}
	return b, nil
}

// readInput reads a file ("-" for stdin), at most one byte past the
// inspector's size limit so oversized input is reported, not loaded.
func readInput(name string, stdin io.Reader) ([]byte, error) {
	if name == "" {
		return nil, errors.New("no file named")
	}
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(r, certinfo.MaxInputSize+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// writeText prints a report for a person: the verdict, then the checks
// and warnings, then the facts, each block in aligned columns.
func writeText(w io.Writer, r *certinfo.Report) {
	verdict := "OK"
	if !r.OK {
		verdict = "REJECTED (" + string(r.Code) + ")"
	}
	fmt.Fprintf(w, "%s: %s\n", r.Kind, verdict)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, c := range r.Checks {
		mark := "pass"
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", mark, c.Name, c.Message)
	}
	for _, wn := range r.Warnings {
		fmt.Fprintf(tw, "  warn\t%s\t%s\n", wn.Code, wn.Message)
	}
	tw.Flush()
	facts := []struct{ k, v string }{
		{"requested bundle id", r.RequestedBundleID},
		{"requested environment", r.RequestedEnvironment},
		{"requested key id", r.RequestedKeyID},
		{"requested team id", r.RequestedTeamID},
		{"subject", r.Subject},
		{"issuer", r.Issuer},
		{"bundle id", r.BundleID},
		{"team id", r.TeamID},
		{"key id", r.KeyID},
		{"topics", strings.Join(r.Topics, ", ")},
		{"environment", r.Environment},
		{"project id", r.ProjectID},
		{"client email", r.ClientEmail},
		{"private key id", r.PrivateKeyID},
		{"token uri (not used)", r.TokenURI},
		{"universe domain (not used)", r.UniverseDomain},
		{"key type", r.KeyType},
		{"fingerprint sha256", r.FingerprintSHA256},
	}
	if r.NotBefore != nil {
		facts = append(facts, struct{ k, v string }{"not before", r.NotBefore.Format(time.RFC3339)})
	}
	if r.NotAfter != nil && r.DaysLeft != nil {
		facts = append(facts, struct{ k, v string }{"not after", r.NotAfter.Format(time.RFC3339) + " (" + daysText(*r.DaysLeft) + ")"})
	}
	if r.CertificatesInFile > 0 {
		facts = append(facts, struct{ k, v string }{"certificates in file", fmt.Sprint(r.CertificatesInFile)})
	}
	tw = tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, f := range facts {
		if f.v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", f.k, f.v)
		}
	}
	tw.Flush()
}

// daysText says how a certificate with left whole days left stands:
// "12 days left", "expires today", "expired 3 days ago" (days left are
// floored, so -1 means expired within the last day).
func daysText(left int) string {
	switch {
	case left == 0:
		return "expires within a day"
	case left == 1:
		return "1 day left"
	case left > 1:
		return fmt.Sprintf("%d days left", left)
	case left == -1:
		return "expired within the last day"
	case left == -2:
		return "expired 1 day ago"
	}
	return fmt.Sprintf("expired %d days ago", -left-1)
}
