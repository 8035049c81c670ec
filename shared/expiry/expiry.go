// Package expiry is the scheduled expiry checker (docs/ARCHITECTURE.md, Expiry checks):
// it warns at every threshold before an APNs certificate expires, marks
// expired certificates, and re-proves the keys that never expire (.p8
// keys, service-account keys) because they can be revoked or deleted.
//
// A run reads only the credentials whose due time has come (the sparse
// expiry index; docs/ARCHITECTURE.md, Data model), so its cost grows with what is due, not
// with how many apps exist. For each it:
//
//   - certificate: computes days_left = floor((not_after - now) / 24h) and
//     sends at most one alert, for the lowest level crossed (a threshold,
//     or "expired" once days_left < 0); the sent marker of a level stands
//     for every higher level too, so a first run at 29 days left sends one
//     alert (30), not two. Its status moves to expiring, then expired, and
//     its due time to the moment the next level is crossed (none once
//     expired);
//   - key: when its checked_at is RecheckEvery old, proves it live with
//     the same Prover as the validate path (at most MaxRechecks per run,
//     oldest due first); a rejection marks the platform invalid and alerts.
//     Its due time becomes checked_at + RecheckEvery.
//
// Sending an alert is a lease on (credential, level), a publish, then the
// sent marker. A failed publish (including a failed PutEvents entry)
// releases the lease and leaves the due time, so the next run retries it;
// it is never marked sent. A renewed credential (another fingerprint)
// starts a new cycle.
//
// The package imports no AWS SDK: the store, the prover and the publisher
// are ports (Store, Prover, alert.Publisher).
package expiry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// Store is what the checker needs of the credential store; the
// credential.Service implements it.
type Store interface {
	Due(ctx context.Context, now time.Time, limit int) ([]credential.Due, error)
	Get(ctx context.Context, tenant, id string) (credential.App, error)
	Material(ctx context.Context, tenant, id string, p push.Platform) (credential.Material, error)
	SetStatus(ctx context.Context, r credential.StatusRequest) (credential.App, error)
	LeaseAlert(ctx context.Context, k credential.AlertKey, owner string, now time.Time, leaseFor time.Duration, keepUntil time.Time) error
	ReleaseAlert(ctx context.Context, k credential.AlertKey, owner string, now time.Time, keepUntil time.Time) error
	MarkAlertSent(ctx context.Context, k credential.AlertKey, owner string, keepUntil time.Time) error
	Sweep(ctx context.Context, limit int) (int, error)
}

// Prover proves a stored credential live, without a visible push; the
// validate path's prover (clientpool.Pool) implements it.
type Prover interface {
	Prove(ctx context.Context, m credential.Material, env push.Environment, topic string) push.LiveResult
}

// Defaults of Config.
const (
	DefaultRecheckEvery = push.DefaultRecheckEvery
	DefaultMaxRechecks  = 50
	DefaultMaxPerRun    = 5000
	DefaultLeaseFor     = 5 * time.Minute
	// DefaultRetryAfter is when an unreachable provider is tried again.
	DefaultRetryAfter = 24 * time.Hour
	// MetricsNamespace is the CloudWatch namespace of the run metrics.
	MetricsNamespace = "mobilepush"
)

// Config configures a Checker. Store, Prover and Publisher are required.
type Config struct {
	Store     Store
	Prover    Prover
	Publisher alert.Publisher
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Thresholds in days; nil means push.DefaultThresholds.
	Thresholds []int
	// RecheckEvery is how old a key's checked_at must be for a live
	// re-check; 0 means DefaultRecheckEvery.
	RecheckEvery time.Duration
	// MaxRechecks bounds the live re-checks of one run; 0 means
	// DefaultMaxRechecks.
	MaxRechecks int
	// MaxPerRun bounds the credentials one run examines; 0 means
	// DefaultMaxPerRun.
	MaxPerRun int
	// LeaseFor is how long a run holds an alert before publishing it;
	// 0 means DefaultLeaseFor.
	LeaseFor time.Duration
	// Logger receives one line per problem and the run summary; nil
	// discards them.
	Logger *slog.Logger
	// Metrics, when set, receives the run summary as CloudWatch
	// embedded-metric-format lines (stdout in Lambda).
	Metrics io.Writer
	// Actor is the audit actor of the checker's status changes; "" means
	// DefaultActor. A simulated run (a Now that is not the clock) names
	// its simulated time here, since the audit trail stamps the real time.
	Actor string
}

// Checker runs expiry checks. It is safe for concurrent use; concurrent
// runs never send one alert twice (the alert leases).
type Checker struct {
	cfg Config
}

// New returns a Checker for cfg.
// Errors: Invalid (a required port is missing, or bad thresholds).
func New(cfg Config) (*Checker, error) {
	const op = "expiry.New"
	if cfg.Store == nil || cfg.Prover == nil || cfg.Publisher == nil {
		return nil, push.E(op, push.Invalid, errors.New("store, prover and publisher are required"))
	}
	if cfg.Thresholds == nil {
		cfg.Thresholds = push.DefaultThresholds
	}
	t, err := checkThresholds(cfg.Thresholds)
	if err != nil {
		return nil, push.E(op, push.Other, err)
	}
	cfg.Thresholds = t
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecheckEvery <= 0 {
		cfg.RecheckEvery = DefaultRecheckEvery
	}
	if cfg.MaxRechecks <= 0 {
		cfg.MaxRechecks = DefaultMaxRechecks
	}
	if cfg.MaxPerRun <= 0 {
		cfg.MaxPerRun = DefaultMaxPerRun
	}
	if cfg.LeaseFor <= 0 {
		cfg.LeaseFor = DefaultLeaseFor
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Actor == "" {
		cfg.Actor = DefaultActor
	}
	return &Checker{cfg: cfg}, nil
}

// Thresholds returns the thresholds in use, descending.
func (c *Checker) Thresholds() []int { return append([]int(nil), c.cfg.Thresholds...) }

// run is the state of one Run.
type run struct {
	owner    string
	now      time.Time
	rechecks int
	sum      *Summary
}

// sweepLimit bounds the buried secrets one run schedules for deletion.
const sweepLimit = 100

// Run checks every credential due now (at most MaxPerRun), logs the
// summary ("expiry_run") and writes it as metrics. Problems with single
// credentials are counted in Summary.Errors and logged, and leave those
// credentials due for the next run; Run fails only when it cannot read
// the expiry index at all.
// Errors: Transient, Internal (from the store).
func (c *Checker) Run(ctx context.Context) (Summary, error) {
	const op = "expiry.Run"
	r := &run{owner: newOwner(), now: c.cfg.Now().UTC(), sum: newSummary(c.cfg.Thresholds)}
	err := c.checkDue(ctx, r)
	if err != nil {
		r.sum.Errors++
	}
	if n, serr := c.cfg.Store.Sweep(ctx, sweepLimit); serr != nil {
		r.sum.Errors++
		c.cfg.Logger.Warn("expiry_sweep_failed", "err", serr)
	} else {
		r.sum.Swept = n
	}
	c.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "expiry_run", r.sum.attrs(r.now)...)
	if c.cfg.Metrics != nil {
		if werr := r.sum.WriteMetrics(c.cfg.Metrics, r.now); werr != nil {
			c.cfg.Logger.Warn("expiry_metrics_failed", "err", werr)
		}
	}
	if err != nil {
		return *r.sum, push.E(op, push.Other, err)
	}
	return *r.sum, nil
}

type dueKey struct {
	tenant, app string
	platform    push.Platform
}

// checkDue walks the due credentials, oldest first, a page at a time.
// Credentials left due by this run (failures, deferred re-checks) come
// back at the front of the next page and are skipped.
func (c *Checker) checkDue(ctx context.Context, r *run) error {
	seen := map[dueKey]bool{}
	for len(seen) < c.cfg.MaxPerRun {
		const limit = credential.MaxPageLimit
		due, err := c.cfg.Store.Due(ctx, r.now, limit)
		if err != nil {
			c.cfg.Logger.Error("expiry_due_failed", "err", err)
			return fmt.Errorf("read the expiry index: %w", err)
		}
		fresh := 0
		for _, d := range due {
			k := dueKey{d.Tenant, d.AppID, d.Platform}
			if seen[k] || len(seen) >= c.cfg.MaxPerRun {
				continue
			}
			seen[k] = true
			fresh++
			if err := ctx.Err(); err != nil {
				return err
			}
			c.check(ctx, r, d)
		}
		if fresh == 0 || len(due) < limit {
			return nil
		}
	}
	return nil
}

// check handles one due credential.
func (c *Checker) check(ctx context.Context, r *run, d credential.Due) {
	log := c.cfg.Logger.With("tenant", d.Tenant, "app_id", d.AppID, "platform", string(d.Platform))
	app, err := c.cfg.Store.Get(ctx, d.Tenant, d.AppID)
	if push.Is(err, push.NotFound) {
		return // deleted since the index was read
	}
	if err != nil {
		r.sum.Errors++
		log.Error("expiry_load_failed", "err", err)
		return
	}
	m := app.Meta(d.Platform)
	if m == nil || m.DueAt.IsZero() || m.DueAt.After(r.now) {
		return // removed or rescheduled since the index was read
	}
	r.sum.Examined++
	if m.Kind == push.APNsP12 && !m.Facts.NotAfter.IsZero() {
		c.checkCertificate(ctx, r, log, app, d.Platform, m)
		return
	}
	c.recheckKey(ctx, r, log, app, d.Platform, m)
}

// outcome is what happened to one alert.
type outcome int

const (
	sent        outcome = iota // published now
	alreadySent                // the marker was there
	held                       // another run holds the lease
	failed                     // not published: retry next run
)

// keepCertificateMarkers is how long after a certificate's not_after, or
// after the run that first sees it expired (whichever is later), its alert
// markers are kept.
const keepCertificateMarkers = 90 * day

// certificateKeep is when the alert markers of a certificate that expires
// at notAfter may go: keepCertificateMarkers after notAfter, and never
// before keepCertificateMarkers after now, so a certificate found long
// after it expired still gets a lease and a marker that outlives the run.
func certificateKeep(notAfter, now time.Time) time.Time {
	return notAfter.Add(keepCertificateMarkers).Add(max(0, now.Sub(notAfter)))
}

// keepKeyMarkers is how long an alert marker of a key (no not_after) is kept.
const keepKeyMarkers = 366 * day

func (c *Checker) checkCertificate(ctx context.Context, r *run, log *slog.Logger, app credential.App, p push.Platform, m *credential.Meta) {
	na := m.Facts.NotAfter
	left := push.DaysLeft(na, r.now)
	res := alreadySent
	if level, ok := lowestCrossed(c.cfg.Thresholds, left); ok {
		key := alertKey(app, p, m, levelName(level))
		res = c.send(ctx, r, log, key, certificateKeep(na, r.now), certificateEvent(app, p, m, left, level, r.now))
		if res == sent {
			if level == levelExpired {
				r.sum.Expired++
			}
		}
	}
	if res == held {
		return // the run holding the lease finishes the job
	}
	st := certificateStatus(m.Status, na, left, r.now, c.cfg.Thresholds)
	req := credential.StatusRequest{Tenant: app.Tenant, ID: app.ID, Platform: p, VersionID: m.Secret.VersionID, Status: st, Actor: c.cfg.Actor}
	if res != failed {
		var next time.Time // zero: out of the index once expired
		if level, ok := nextLevel(c.cfg.Thresholds, left); ok {
			next = push.Crossed(na, level)
		}
		req.DueAt = &next
	}
	c.setStatus(ctx, r, log, req)
}

// DefaultActor is the audit actor of the checker's status changes.
const DefaultActor = "expiry-checker"

func (c *Checker) recheckKey(ctx context.Context, r *run, log *slog.Logger, app credential.App, p push.Platform, m *credential.Meta) {
	if next := m.Status.CheckedAt.Add(c.cfg.RecheckEvery); !m.Status.CheckedAt.IsZero() && next.After(r.now) {
		// Validated recently (e.g. through the API): no need to prove it again yet.
		c.setStatus(ctx, r, log, credential.StatusRequest{Tenant: app.Tenant, ID: app.ID, Platform: p,
			VersionID: m.Secret.VersionID, Status: m.Status, DueAt: &next, Actor: c.cfg.Actor})
		return
	}
	if r.rechecks >= c.cfg.MaxRechecks {
		r.sum.Deferred++
		return
	}
	r.rechecks++
	mat, err := c.cfg.Store.Material(ctx, app.Tenant, app.ID, p)
	if err != nil {
		r.sum.Errors++
		log.Error("expiry_material_failed", "err", err)
		return
	}
	live := c.cfg.Prover.Prove(ctx, mat, app.Environment, m.Facts.BundleID)
	r.sum.Rechecked++
	next := r.now.Add(c.cfg.RecheckEvery)
	req := credential.StatusRequest{Tenant: app.Tenant, ID: app.ID, Platform: p, VersionID: m.Secret.VersionID, DueAt: &next, Actor: c.cfg.Actor}
	switch {
	case live.Code.Rejected():
		r.sum.Invalid++
		req.Status = credential.Status{State: credential.Invalid, Reason: string(live.Code), Message: live.Message, CheckedAt: r.now}
		key := alertKey(app, p, m, "invalid")
		switch c.send(ctx, r, log, key, r.now.Add(keepKeyMarkers), invalidEvent(app, p, m, live, r.now)) {
		case held:
			return
		case failed:
			req.DueAt = nil // stays due: the next run proves it again and retries the alert
		}
	case live.Code == push.LiveUnreachable:
		r.sum.Unreachable++
		log.Warn("expiry_recheck_unreachable", "reason", live.ProviderReason)
		retry := r.now.Add(DefaultRetryAfter)
		req.Status, req.DueAt = m.Status, &retry
	default:
		req.Status = credential.Status{State: credential.OK, Message: "Re-checked and accepted by the provider.", CheckedAt: r.now}
	}
	c.setStatus(ctx, r, log, req)
}

func (c *Checker) setStatus(ctx context.Context, r *run, log *slog.Logger, req credential.StatusRequest) {
	_, err := c.cfg.Store.SetStatus(ctx, req)
	switch {
	case errors.Is(err, credential.ErrStaleCredential), push.Is(err, push.NotFound):
		// Rotated or removed meanwhile: the new credential has its own cycle.
	case err != nil:
		r.sum.Errors++
		log.Error("expiry_status_failed", "err", err)
	}
}

// send leases the alert, publishes it and marks it sent.
func (c *Checker) send(ctx context.Context, r *run, log *slog.Logger, k credential.AlertKey, keep time.Time, ev alert.Event) outcome {
	log = log.With("level", k.Level)
	err := c.cfg.Store.LeaseAlert(ctx, k, r.owner, r.now, c.cfg.LeaseFor, keep)
	switch {
	case errors.Is(err, credential.ErrMessageDone):
		return alreadySent
	case errors.Is(err, credential.ErrLeaseHeld):
		r.sum.Held++
		return held
	case err != nil:
		r.sum.Errors++
		log.Error("expiry_alert_lease_failed", "err", err)
		return failed
	}
	errs := c.cfg.Publisher.Publish(ctx, []alert.Event{ev})
	if len(errs) != 1 || errs[0] != nil {
		perr := errors.New("publisher answered no result")
		if len(errs) == 1 {
			perr = errs[0]
		}
		r.sum.Errors++
		r.sum.PublishFailures++
		log.Error("expiry_alert_publish_failed", "detail_type", string(ev.Type), "err", perr)
		if rerr := c.cfg.Store.ReleaseAlert(context.WithoutCancel(ctx), k, r.owner, r.now, keep); rerr != nil {
			// The lease then lapses after LeaseFor; the next run retries after that.
			log.Warn("expiry_alert_release_failed", "err", rerr)
		}
		return failed
	}
	r.sum.Alerts[k.Level]++
	if err := c.cfg.Store.MarkAlertSent(context.WithoutCancel(ctx), k, r.owner, keep); err != nil {
		// Published but not marked: the due time still moves on, so the
		// alert is not repeated unless this credential is examined at the
		// same level again.
		r.sum.Errors++
		log.Error("expiry_alert_mark_failed", "err", err)
	}
	return sent
}

// alertKey is the alert (credential, level) of platform p's credential m.
func alertKey(app credential.App, p push.Platform, m *credential.Meta, level string) credential.AlertKey {
	id := m.Facts.FingerprintSHA256
	if id == "" {
		id = "version:" + m.Secret.VersionID
	}
	return credential.AlertKey{Tenant: app.Tenant, AppID: app.ID, Platform: p, Credential: id, Level: level}
}

// certificateStatus is the status of a certificate with left days left:
// expired once past not_after; expiring once a threshold is crossed,
// unless a live verdict (invalid, suspended) says more.
func certificateStatus(cur credential.Status, na time.Time, left int, now time.Time, thresholds []int) credential.Status {
	date := na.UTC().Format("2006-01-02")
	switch _, crossed := lowestCrossed(thresholds, left); {
	case left < 0:
		return credential.Status{State: credential.Expired, Reason: string(certinfo.Expired), CheckedAt: now,
			Message: "The certificate expired on " + date + ". Upload a renewed certificate."}
	case crossed && (cur.State == credential.OK || cur.State == credential.Expiring):
		return credential.Status{State: credential.Expiring, Reason: string(certinfo.ExpiringSoon), CheckedAt: now,
			Message: fmt.Sprintf("The certificate expires on %s (%d days left). Upload a renewed certificate before then.", date, left)}
	}
	return cur
}

func newOwner() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "expiry-" + hex.EncodeToString(b[:])
}
