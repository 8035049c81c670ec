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
	"os"
	"path/filepath"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/alert/webhook"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/expiry"
)

const checkExpiryUsage = `usage: mobilepush check-expiry [--data DIR] [--now RFC3339] [--dry-run] [--alert-webhook URL]
                             [--fake-gateways[=false] | provider URLs] [--http2-client lean|std]

Runs one pass of the expiry checker on the embedded store in DIR: warns
about certificates crossing a threshold, marks expired ones, and re-proves
.p8 and service-account keys checked 7 days ago (against Apple and Google,
or the in-process fakes with --fake-gateways). Alerts go to the log
(stderr) and, with --alert-webhook, as JSON POSTs of the event's detail
plus its detail-type. The run summary is printed on stdout as JSON.

--dry-run works on a copy of the data: it prints each alert it would
send ("would alert") and each status it would change ("would change"),
then the summary; it posts nothing and writes nothing.

--now is a simulation that writes state: the run checks as of that time
and really sends its alerts and marks what it finds (try it with
--dry-run first). Its audit entries carry the real time, and name the
simulated one in their actor.

Beside a running mobilepush serve the run happens in the server (through
its admin socket in the data directory) with the same flags, and uses
the server's gateways unless provider flags are given. Without a server
it uses the gateways the last serve of DIR used (the fakes on a data
directory of 'make run') unless provider flags are given; say
--fake-gateways=false for Apple and Google.

Exit status 1 when anything failed (the failed items are retried by the
next run).

flags:
`

// expiryRequest is one run of the checker, as the flags ask for it.
type expiryRequest struct {
	// Now is the simulated time; zero means the clock.
	Now          time.Time `json:"now,omitzero"`
	AlertWebhook string    `json:"alert_webhook,omitempty"`
	DryRun       bool      `json:"dry_run,omitempty"`
	// Gateways, when set, replaces the gateways of the running system.
	Gateways *gatewayChoice `json:"gateways,omitempty"`
}

// expiryResult is what a run reports.
type expiryResult struct {
	Summary     expiry.Summary `json:"summary"`
	WouldAlert  []string       `json:"would_alert,omitempty"`
	WouldChange []string       `json:"would_change,omitempty"`
	// Log holds the run's log lines when the server ran it.
	Log   string `json:"log,omitempty"`
	Error string `json:"error,omitempty"`
}

func runCheckExpiry(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newCmdFlags("check-expiry", checkExpiryUsage, stderr)
	var f serveFlags
	var now string
	var req expiryRequest
	fs.StringVar(&f.data, "data", defaultDataDir, "data `directory`")
	fs.StringVar(&now, "now", "", "simulate a run at this `time` (RFC 3339); it writes state")
	fs.BoolVar(&req.DryRun, "dry-run", false, "print what the run would alert and change; write and post nothing")
	fs.StringVar(&req.AlertWebhook, "alert-webhook", "", "also POST each alert as JSON to this `URL`")
	f.gatewayFlags(fs.FlagSet)
	if code, ok := fs.parseNoArgs(args); !ok {
		return code
	}
	if f.gatewayConflict(fs.FlagSet) {
		return fs.usageErr("--fake-gateways chooses the provider URLs itself; drop the URL flags")
	}
	if err := f.stackErr(); err != nil {
		return fs.usageErr("--http2-client: %v", err)
	}
	if now != "" {
		at, err := time.Parse(time.RFC3339, now)
		if err != nil {
			return fs.usageErr("--now %q is not an RFC 3339 time such as 2030-01-02T06:00:00Z", now)
		}
		req.Now = at.UTC()
	}
	if hook := req.AlertWebhook; hook != "" {
		if u, err := url.Parse(hook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fs.usageErr("--alert-webhook %q is not an http(s) URL", hook)
		}
	}
	chosen := false
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "fake-gateways", "apns-production-url", "apns-sandbox-url", "fcm-url", "google-token-url", "http2-client":
			chosen = true
		}
	})
	if chosen {
		g := f.gateways()
		req.Gateways = &g
	}
	var res expiryResult
	err := onDataDir(ctx, f.data, "mobilepush check-expiry", func(dir *dataDir) error {
		g := f.gateways()
		if !chosen && readServeState(dir).FakeGateways {
			g.Fake = true
			fmt.Fprintln(stderr, "mobilepush check-expiry: using the fake gateways, as the last serve of this data directory did (--fake-gateways=false for Apple and Google)")
		}
		store, err := boltstore.Open(dir.file("data.db"), boltstore.Options{})
		if err != nil {
			return err
		}
		defer store.Close()
		pool, fk, err := gatewayPool(g)
		if err != nil {
			return err
		}
		defer func() {
			pool.Close()
			if fk != nil {
				fk.Close()
			}
		}()
		log := slog.New(slog.NewJSONHandler(stderr, nil))
		res, err = runExpiryOnce(ctx, expiryEnv{store: store, dir: dir, clients: pool, log: log}, req)
		return err
	}, func(c *adminClient) error {
		if err := c.call(ctx, "POST", "/v1/check-expiry", req, &res); err != nil {
			return err
		}
		io.WriteString(stderr, res.Log)
		if res.Error != "" {
			return errors.New(res.Error)
		}
		return nil
	})
	for _, line := range res.WouldAlert {
		fmt.Fprintln(stdout, "would alert:", line)
	}
	for _, line := range res.WouldChange {
		fmt.Fprintln(stdout, "would change:", line)
	}
	if res.Summary.Alerts != nil {
		b, _ := json.Marshal(res.Summary)
		fmt.Fprintln(stdout, string(b))
	}
	switch {
	case err != nil:
		return fs.fail(err)
	case res.Summary.Errors > 0:
		fmt.Fprintf(stderr, "mobilepush check-expiry: %d errors (see the log); the next run retries them\n", res.Summary.Errors)
		return exitFail
	}
	return exitOK
}

// expiryEnv is what one run needs of the local system.
type expiryEnv struct {
	store   *boltstore.Store
	dir     *dataDir
	clients expiry.Prover
	log     *slog.Logger
}

// simulatedActor is the audit actor of a run at the simulated time now.
func simulatedActor(now time.Time) string {
	return expiry.DefaultActor + " (simulated now " + now.UTC().Format(time.RFC3339) + ")"
}

// runExpiryOnce runs the checker once as req asks. A dry run works on a
// copy of the store and a recorder instead of the publishers, and its log
// lines say dry_run (what they count as sent went to the recorder).
func runExpiryOnce(ctx context.Context, env expiryEnv, req expiryRequest) (expiryResult, error) {
	if req.DryRun {
		env.log = env.log.With("dry_run", true)
	}
	clock, actor := time.Now, ""
	if !req.Now.IsZero() {
		clock, actor = func() time.Time { return req.Now }, simulatedActor(req.Now)
	}
	store := env.store
	if req.DryRun {
		tmp, err := os.MkdirTemp(env.dir.path, ".dry-run-")
		if err != nil {
			return expiryResult{}, fmt.Errorf("dry run: %w", err)
		}
		defer os.RemoveAll(tmp)
		if err := env.store.CopyTo(filepath.Join(tmp, "data.db")); err != nil {
			return expiryResult{}, fmt.Errorf("dry run: %w", err)
		}
		if store, err = boltstore.Open(filepath.Join(tmp, "data.db"), boltstore.Options{KeyFile: env.dir.file("data.db.key")}); err != nil {
			return expiryResult{}, fmt.Errorf("dry run: %w", err)
		}
		defer store.Close()
	}
	// The audit trail stamps the real time; the checker runs at clock.
	creds := credential.NewService(credential.Config{Meta: store, Secrets: store, Logger: env.log})
	cfg := expiry.Config{Store: creds, Prover: env.clients, Now: clock, Logger: env.log, Actor: actor}
	var rec *dryRecorder
	if req.DryRun {
		rec = &dryRecorder{Service: creds}
		cfg.Store, cfg.Publisher = rec, rec
	} else {
		tee := alert.Tee{alert.Log{Logger: env.log}}
		if req.AlertWebhook != "" {
			tee = append(tee, webhook.New(req.AlertWebhook, nil))
		}
		cfg.Publisher = tee
	}
	chk, err := expiry.New(cfg)
	if err != nil {
		return expiryResult{}, err
	}
	sum, err := chk.Run(ctx)
	res := expiryResult{Summary: sum}
	if rec != nil {
		res.WouldAlert, res.WouldChange = rec.alerts, rec.changes
	}
	return res, err
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
