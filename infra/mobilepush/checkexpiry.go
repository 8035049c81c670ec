package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/expiry"
)

const checkExpiryUsage = `usage: mobilepush check-expiry [--data DIR] [--now RFC3339] [--alert-webhook URL] [--fake-gateways | provider URLs]

Runs one pass of the expiry checker on the embedded store in DIR: warns
about certificates crossing a threshold, marks expired ones, and re-proves
.p8 and service-account keys checked 7 days ago (against Apple and Google,
or the in-process fakes with --fake-gateways). Alerts go to the log
(stderr) and, with --alert-webhook, as JSON POSTs of the event's detail
plus its detail-type. The run summary is printed on stdout as JSON.
Exit status 1 when anything failed (the failed items are retried by the
next run).

flags:
`

func runCheckExpiry(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-expiry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, checkExpiryUsage); fs.PrintDefaults() }
	var f serveFlags
	var now, hook string
	fs.StringVar(&f.data, "data", defaultDataDir, "data `directory` (one process owns it)")
	fs.StringVar(&now, "now", "", "check as of this `time` (RFC 3339) instead of the clock")
	fs.StringVar(&hook, "alert-webhook", "", "also POST each alert as JSON to this `URL`")
	f.gatewayFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "mobilepush check-expiry: "+format+"\n", a...)
		fs.Usage()
		return exitUsage
	}
	if f.gatewayConflict(fs) {
		return usageErr("--fake-gateways chooses the provider URLs itself; drop the URL flags")
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	clock := time.Now
	if now != "" {
		at, err := time.Parse(time.RFC3339, now)
		if err != nil {
			return usageErr("--now %q is not an RFC 3339 time such as 2030-01-02T06:00:00Z", now)
		}
		clock = func() time.Time { return at }
	}
	if hook != "" {
		if u, err := url.Parse(hook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErr("--alert-webhook %q is not an http(s) URL", hook)
		}
	}
	f.command, f.alertWebhook = "mobilepush check-expiry", hook
	sys, err := openSystem(f, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush check-expiry: %v\n", err)
		return exitFail
	}
	defer sys.Close()
	chk, err := newExpiryChecker(sys, clock)
	if err != nil {
		fmt.Fprintf(stderr, "mobilepush check-expiry: %v\n", err)
		return exitFail
	}
	sum, err := chk.Run(ctx)
	b, _ := json.Marshal(sum)
	fmt.Fprintln(stdout, string(b))
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "mobilepush check-expiry: %v\n", err)
		return exitFail
	case sum.Errors > 0:
		fmt.Fprintf(stderr, "mobilepush check-expiry: %d errors (see the log); the next run retries them\n", sum.Errors)
		return exitFail
	}
	return exitOK
}

// newExpiryChecker builds the expiry checker of the local system: the
// credential store of sys, its client pool as the live prover (the validate
// path's), and alerts to sys's publishers (the log, and the webhook of
// --alert-webhook). now is the checker's clock (time.Now for serve).
func newExpiryChecker(sys *system, now func() time.Time) (*expiry.Checker, error) {
	creds := credential.NewService(credential.Config{Meta: sys.store, Secrets: sys.store, Now: now, Logger: sys.log})
	return expiry.New(expiry.Config{Store: creds, Prover: sys.clients, Publisher: sys.alerts, Now: now, Logger: sys.log})
}

// runExpiryDaily runs c at once and then every interval until ctx ends
// (serve's timer: runExpiryDaily(ctx, c, 24*time.Hour, log) in a
// goroutine). A failed run is logged; its failures are retried by the
// next run.
func runExpiryDaily(ctx context.Context, c *expiry.Checker, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := c.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("expiry_run_failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
