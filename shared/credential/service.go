package credential

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"
	"unicode"

	"mobilepush/shared/push"
)

// Config configures a Service. Meta and Secrets are required.
type Config struct {
	Meta    MetadataStore
	Secrets SecretStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LedgerTTL is how long claims and outcome ledgers are kept; 0 means
	// DefaultLedgerTTL.
	LedgerTTL time.Duration
	// Logger receives failures of best-effort steps (e.g. promoting a
	// version after the metadata commit); nil discards them.
	Logger *slog.Logger
}

// DefaultLedgerTTL is how long send claims and outcomes are kept by default.
const DefaultLedgerTTL = 7 * 24 * time.Hour

// casRetries bounds how often an update without an expected version is
// retried when another writer wins the race.
const casRetries = 64

// Service implements the credential operations over a MetadataStore and a
// SecretStore. It is safe for concurrent use.
type Service struct {
	meta      MetadataStore
	secrets   SecretStore
	clock     func() time.Time
	ledgerTTL time.Duration
	log       *slog.Logger

	mu   sync.Mutex
	last time.Time // last stamp handed out, for strictly increasing event times
}

// NewService returns a Service over the stores of c.
func NewService(c Config) *Service {
	s := &Service{meta: c.Meta, secrets: c.Secrets, clock: c.Now, ledgerTTL: c.LedgerTTL, log: c.Logger}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.ledgerTTL <= 0 {
		s.ledgerTTL = DefaultLedgerTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *Service) now() time.Time { return s.clock().UTC().Round(0) }

// stamp returns the current time, strictly after every stamp this Service
// returned before, so events of one process sort in the order they happened.
func (s *Service) stamp() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	if !t.After(s.last) {
		t = s.last.Add(time.Nanosecond)
	}
	s.last = t
	return t
}

// Upload is a checked credential to store: its material, the facts
// inspection found, and its status after the checks.
type Upload struct {
	Material Material
	Facts    Facts
	// Status of the credential; a zero State means OK, and a zero
	// CheckedAt means now.
	Status Status
	// DueAt is when the expiry checker should next look at it; zero
	// means DefaultDue.
	DueAt time.Time
}

// DefaultDue is when the expiry checker first looks at a new credential:
// for a certificate, 60 days before not_after (at once if that has
// passed); for a key, which never expires, 7 days after its check.
func DefaultDue(kind Kind, f Facts, checkedAt time.Time) time.Time {
	if kind == APNsP12 && !f.NotAfter.IsZero() {
		due := f.NotAfter.Add(-60 * 24 * time.Hour)
		if due.Before(checkedAt) {
			return checkedAt
		}
		return due
	}
	return checkedAt.Add(7 * 24 * time.Hour)
}

// dueTime normalizes a due time to whole seconds in UTC: the expiry index
// keeps unix seconds.
func dueTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

// CreateRequest describes a new app.
type CreateRequest struct {
	Tenant      string
	ID          string // optional: [A-Za-z0-9_-]{1,64}; generated when empty
	Name        string
	Description string
	Enabled     bool
	Environment push.Environment // empty means production
	APNs        *Upload          // optional
	FCM         *Upload          // optional
	Actor       string
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

const (
	maxTenant      = 256
	maxName        = 200
	maxDescription = 2000
)

func validTenant(t string) bool {
	if t == "" || len(t) > maxTenant {
		return false
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func checkRef(op, tenant, id string) error {
	if !validTenant(tenant) {
		return push.E(op, push.Invalid, errors.New("tenant: must be 1-256 printable characters"))
	}
	if !idPattern.MatchString(id) {
		return push.E(op, push.Invalid, errors.New("app id: must match [A-Za-z0-9_-]{1,64}"))
	}
	return nil
}

func checkFields(op, name, description string, env push.Environment) error {
	switch {
	case name == "" || len(name) > maxName:
		return push.E(op, push.Invalid, fmt.Errorf("name: must be 1-%d bytes", maxName))
	case len(description) > maxDescription:
		return push.E(op, push.Invalid, fmt.Errorf("description: must be at most %d bytes", maxDescription))
	case !env.Valid():
		return push.E(op, push.Invalid, fmt.Errorf("environment: want %q or %q", push.Production, push.Sandbox))
	}
	return nil
}

// prepared is an Upload whose material is validated and encoded.
type prepared struct {
	up    Upload
	value push.Redacted
}

func prepare(op string, p push.Platform, up *Upload, now time.Time) (prepared, error) {
	if up.Material.Kind.Platform() != p {
		return prepared{}, push.E(op, push.Invalid, fmt.Errorf("%s: credential kind %q is not for this platform", p, up.Material.Kind))
	}
	v, err := up.Material.Encode()
	if err != nil {
		return prepared{}, push.E(op, push.Other, fmt.Errorf("%s: %w", p, err))
	}
	u := *up
	u.Facts.Topics = append([]string(nil), up.Facts.Topics...)
	if u.Status.State == "" {
		u.Status.State = OK
	}
	if !u.Status.State.Valid() || u.Status.State == Unconfigured {
		return prepared{}, push.E(op, push.Invalid, fmt.Errorf("%s: status %q is not a state of a stored credential", p, u.Status.State))
	}
	if u.Status.CheckedAt.IsZero() {
		u.Status.CheckedAt = now
	}
	if u.DueAt.IsZero() {
		u.DueAt = DefaultDue(u.Material.Kind, u.Facts, u.Status.CheckedAt)
	}
	u.DueAt = dueTime(u.DueAt)
	return prepared{up: u, value: v}, nil
}

func newAppID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create registers a new app, storing the secret material of each upload
// before the metadata that refers to it. When the store rejects the
// metadata, the secrets just made are scheduled for deletion; when the
// outcome is unknown (Transient, Internal) they stay, tagged with their
// owner, rather than risk deleting the secrets of a stored app.
// Errors: Invalid, TooLarge, Conflict (ErrAppExists), Transient, Internal.
func (s *Service) Create(ctx context.Context, r CreateRequest) (App, error) {
	const op = "credential.Create"
	if r.ID == "" {
		r.ID = newAppID()
	}
	if r.Environment == "" {
		r.Environment = push.Production
	}
	if err := checkRef(op, r.Tenant, r.ID); err != nil {
		return App{}, err
	}
	if err := checkFields(op, r.Name, r.Description, r.Environment); err != nil {
		return App{}, err
	}
	now := s.stamp()
	uploads := map[push.Platform]prepared{}
	for _, u := range []struct {
		p  push.Platform
		up *Upload
	}{{push.APNs, r.APNs}, {push.FCM, r.FCM}} {
		if u.up == nil {
			continue
		}
		pr, err := prepare(op, u.p, u.up, now)
		if err != nil {
			return App{}, err
		}
		uploads[u.p] = pr
	}

	app := App{
		Tenant: r.Tenant, ID: r.ID, Name: r.Name, Description: r.Description,
		Enabled: r.Enabled, Environment: r.Environment, Version: 1,
		CreatedAt: now, UpdatedAt: now,
	}
	events := []Event{s.event(&app, ActionCreate, "", r.Actor, nil, nil)}
	var made []string
	for _, p := range []push.Platform{push.APNs, push.FCM} {
		pr, ok := uploads[p]
		if !ok {
			continue
		}
		id, ver, err := s.secrets.CreateSecret(ctx, SecretOwner{Tenant: r.Tenant, AppID: r.ID, Platform: p}, pr.value)
		if err != nil {
			s.discard(ctx, made)
			return App{}, wrap(op, err, "store %s secret of app %s", p, r.ID)
		}
		made = append(made, id)
		m := &Meta{
			Kind: pr.up.Material.Kind, Facts: pr.up.Facts, Status: pr.up.Status,
			Secret: SecretRef{ID: id, VersionID: ver}, DueAt: pr.up.DueAt, RotatedAt: now,
		}
		app.setMeta(p, m)
		events = append(events, s.event(&app, ActionCreate, p, r.Actor, nil, m))
	}
	err := s.meta.Apply(ctx, Change{Tenant: r.Tenant, AppID: r.ID, App: &app, Expect: 0, Events: events})
	if err != nil {
		if rejected(err) {
			s.discard(ctx, made)
		}
		return App{}, wrap(op, err, "save app %s", r.ID)
	}
	return app.Clone(), nil
}

// rejected reports whether a failed metadata write certainly changed
// nothing. A Transient or Internal failure (a lost response, a timeout)
// may have been applied: the secrets it names must then stay, since a
// secret left behind is harmless and a credential whose secret is deleted
// is not.
func rejected(err error) bool {
	switch push.KindOf(err) {
	case push.Transient, push.Internal:
		return false
	}
	return true
}

// discard schedules the deletion of secrets that no metadata refers to.
// It is best effort: failures are logged (by secret id) and the secrets
// stay findable by their tags.
func (s *Service) discard(ctx context.Context, ids []string) {
	ctx = context.WithoutCancel(ctx)
	for _, id := range ids {
		if err := s.secrets.ScheduleDeletion(ctx, id); err != nil {
			s.log.Warn("discard_secret_failed", "secret_id", id, "err", err)
		}
	}
}

// Get returns the app (tenant, id).
// Errors: Invalid, NotFound (also for another tenant's app), Transient, Internal.
func (s *Service) Get(ctx context.Context, tenant, id string) (App, error) {
	const op = "credential.Get"
	if err := checkRef(op, tenant, id); err != nil {
		return App{}, err
	}
	a, err := s.meta.App(ctx, tenant, id)
	if err != nil {
		return App{}, wrap(op, err, "load app %s", id)
	}
	return a, nil
}

func pageLimit(l int) int {
	switch {
	case l <= 0:
		return DefaultPageLimit
	case l > MaxPageLimit:
		return MaxPageLimit
	}
	return l
}

func decodeCursor(op, c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", push.E(op, push.Invalid, errors.New("cursor: not a cursor this service returned"))
	}
	return string(b), nil
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// List returns one page of the tenant's apps, ordered by ID.
// Errors: Invalid (bad cursor or tenant), Transient, Internal.
func (s *Service) List(ctx context.Context, tenant string, p Page) (AppPage, error) {
	const op = "credential.List"
	if !validTenant(tenant) {
		return AppPage{}, push.E(op, push.Invalid, errors.New("tenant: must be 1-256 printable characters"))
	}
	after, err := decodeCursor(op, p.Cursor)
	if err != nil {
		return AppPage{}, err
	}
	limit := pageLimit(p.Limit)
	// One more than asked tells whether another page follows.
	apps, err := s.meta.Apps(ctx, tenant, after, limit+1)
	if err != nil {
		return AppPage{}, wrap(op, err, "list apps")
	}
	page := AppPage{Apps: apps}
	if len(apps) > limit {
		page.Apps = apps[:limit]
		page.Next = encodeCursor(apps[limit-1].ID)
	}
	return page, nil
}

// Patch lists the app fields an update changes; nil fields stay.
type Patch struct {
	Name        *string
	Description *string
	Enabled     *bool
	Environment *push.Environment
}

// UpdateRequest changes fields of an app. Expect is the version the caller
// read (If-Match); 0 applies the patch to whatever version is current,
// still under optimistic locking (re-read and retried, never lost).
type UpdateRequest struct {
	Tenant string
	ID     string
	Expect int64
	Patch  Patch
	Actor  string
}

// Update applies r.Patch.
// Errors: Invalid, NotFound, PreconditionFailed (ErrVersionMismatch),
// Transient, Internal.
func (s *Service) Update(ctx context.Context, r UpdateRequest) (App, error) {
	const op = "credential.Update"
	if err := checkRef(op, r.Tenant, r.ID); err != nil {
		return App{}, err
	}
	return s.mutate(ctx, op, r.Tenant, r.ID, r.Expect, func(a *App) ([]Event, []Grave, error) {
		p := r.Patch
		if p.Name != nil {
			a.Name = *p.Name
		}
		if p.Description != nil {
			a.Description = *p.Description
		}
		if p.Enabled != nil {
			a.Enabled = *p.Enabled
		}
		if p.Environment != nil {
			a.Environment = *p.Environment
		}
		if err := checkFields(op, a.Name, a.Description, a.Environment); err != nil {
			return nil, nil, err
		}
		return []Event{s.event(a, ActionUpdate, "", r.Actor, nil, nil)}, nil, nil
	})
}

// mutate loads the app, applies change to a copy with the next version,
// and commits it under optimistic locking. With expect != 0 a different
// stored version fails at once; with expect == 0 a lost race is retried.
func (s *Service) mutate(ctx context.Context, op, tenant, id string, expect int64,
	change func(a *App) ([]Event, []Grave, error)) (App, error) {
	for attempt := 0; ; attempt++ {
		cur, err := s.meta.App(ctx, tenant, id)
		if err != nil {
			return App{}, wrap(op, err, "load app %s", id)
		}
		if expect != 0 && cur.Version != expect {
			return App{}, push.E(op, push.PreconditionFailed,
				fmt.Errorf("app %s is at version %d, not %d: %w", id, cur.Version, expect, ErrVersionMismatch))
		}
		next := cur.Clone()
		next.Version = cur.Version + 1
		next.UpdatedAt = s.stamp()
		events, graves, err := change(&next)
		if err != nil {
			return App{}, err
		}
		err = s.meta.Apply(ctx, Change{Tenant: tenant, AppID: id, App: &next, Expect: cur.Version, Events: events, Bury: graves})
		if err == nil {
			return next.Clone(), nil
		}
		if expect == 0 && retryable(err) && attempt < casRetries {
			if err := backoff(ctx, attempt); err != nil {
				return App{}, push.E(op, push.Transient, err)
			}
			continue
		}
		return App{}, wrap(op, err, "save app %s", id)
	}
}

// retryable reports whether a failed conditional write lost a race that a
// re-read and retry can win.
func retryable(err error) bool {
	return push.Is(err, push.PreconditionFailed) || errors.Is(err, ErrContention)
}

// backoff sleeps a short, jittered, growing time before a retry.
func backoff(ctx context.Context, attempt int) error {
	var b [1]byte
	_, _ = rand.Read(b[:])
	d := time.Duration(1+min(attempt, 6)) * time.Millisecond * time.Duration(1+int(b[0])%4) / 2
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RotateRequest replaces a platform's credential (or adds one).
type RotateRequest struct {
	Tenant   string
	ID       string
	Platform push.Platform
	Expect   int64 // 0: any version (still never a lost update)
	Upload   Upload
	Actor    string
}

// Rotate replaces the credential of r.Platform with r.Upload, crash-safely:
// the new value is written as a pending version, the metadata is committed
// under the version condition, then the new version is promoted. Until the
// commit the previous credential stays in use; after it, the metadata
// points at the new version whether or not the promotion happened. The
// replaced credential becomes the one Rollback restores.
// Errors: Invalid, TooLarge, NotFound, PreconditionFailed
// (ErrVersionMismatch), Transient, Internal.
func (s *Service) Rotate(ctx context.Context, r RotateRequest) (App, error) {
	const op = "credential.Rotate"
	if err := checkRef(op, r.Tenant, r.ID); err != nil {
		return App{}, err
	}
	if !r.Platform.Valid() {
		return App{}, push.E(op, push.Invalid, fmt.Errorf("platform %q: want apns or fcm", r.Platform))
	}
	now := s.stamp()
	pr, err := prepare(op, r.Platform, &r.Upload, now)
	if err != nil {
		return App{}, err
	}
	cur, err := s.meta.App(ctx, r.Tenant, r.ID)
	if err != nil {
		return App{}, wrap(op, err, "load app %s", r.ID)
	}
	if r.Expect != 0 && cur.Version != r.Expect {
		return App{}, push.E(op, push.PreconditionFailed,
			fmt.Errorf("app %s is at version %d, not %d: %w", r.ID, cur.Version, r.Expect, ErrVersionMismatch))
	}

	// Write the new value: a pending version of the existing secret, or a
	// new secret when the platform has none (or it is gone).
	old := cur.Meta(r.Platform)
	var secretID, versionID string
	fresh := false
	if old != nil {
		// Repair a promotion an earlier crash skipped, so the version in
		// use keeps a stage (unlabelled versions may be purged). Best
		// effort: reads go by VersionID, so the rotation can go on.
		s.promote(ctx, old.Secret.ID, old.Secret.VersionID)
		versionID, err = s.secrets.PutVersion(ctx, old.Secret.ID, pr.value)
		switch {
		case err == nil:
			secretID = old.Secret.ID
		case !push.Is(err, push.NotFound):
			return App{}, wrap(op, err, "store %s secret version of app %s", r.Platform, r.ID)
		}
	}
	if secretID == "" {
		secretID, versionID, err = s.secrets.CreateSecret(ctx, SecretOwner{Tenant: r.Tenant, AppID: r.ID, Platform: r.Platform}, pr.value)
		if err != nil {
			return App{}, wrap(op, err, "store %s secret of app %s", r.Platform, r.ID)
		}
		fresh = true
	}

	expect := r.Expect
	var app App
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if cur, err = s.meta.App(ctx, r.Tenant, r.ID); err != nil {
				break
			}
			// Another rotation of this platform won: ours is stale.
			if m := cur.Meta(r.Platform); !sameMeta(m, old) {
				err = push.E(op, push.PreconditionFailed, fmt.Errorf("%s credential of app %s changed meanwhile: %w", r.Platform, r.ID, ErrVersionMismatch))
				break
			}
		}
		next := cur.Clone()
		next.Version = cur.Version + 1
		next.UpdatedAt = s.stamp()
		m := &Meta{
			Kind: pr.up.Material.Kind, Facts: pr.up.Facts, Status: pr.up.Status,
			Secret: SecretRef{ID: secretID, VersionID: versionID}, DueAt: pr.up.DueAt, RotatedAt: next.UpdatedAt,
		}
		var graves []Grave
		if old != nil {
			m.Previous = &Revision{Kind: old.Kind, Facts: old.Facts}
			if secretID == old.Secret.ID {
				m.Secret.PreviousVersionID = old.Secret.VersionID
			} else {
				// The old secret is gone; nothing to roll back to there.
				m.Previous = nil
				graves = append(graves, Grave{SecretID: old.Secret.ID, Tenant: r.Tenant, AppID: r.ID, Platform: r.Platform, At: now})
			}
		}
		next.setMeta(r.Platform, m)
		ev := s.event(&next, ActionRotate, r.Platform, r.Actor, old, m)
		err = s.meta.Apply(ctx, Change{Tenant: r.Tenant, AppID: r.ID, App: &next, Expect: cur.Version, Events: []Event{ev}, Bury: graves})
		if err == nil {
			app = next
			break
		}
		if expect != 0 || !retryable(err) || attempt >= casRetries {
			break
		}
		if err = backoff(ctx, attempt); err != nil {
			err = push.E(op, push.Transient, err)
			break
		}
	}
	if err != nil {
		// The previous credential stays in use: the metadata still names it.
		if fresh && rejected(err) {
			s.discard(ctx, []string{secretID})
		}
		return App{}, wrap(op, err, "commit %s credential of app %s", r.Platform, r.ID)
	}
	s.promote(ctx, secretID, versionID)
	if old != nil && old.Secret.ID != secretID {
		s.bury(ctx, old.Secret.ID)
	}
	return app.Clone(), nil
}

func sameMeta(a, b *Meta) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Secret == b.Secret
}

// promote moves the current stage after a metadata commit. It is best
// effort: the metadata is the truth and the next rotation repairs it.
func (s *Service) promote(ctx context.Context, secretID, versionID string) {
	if err := s.secrets.Promote(context.WithoutCancel(ctx), secretID, versionID); err != nil {
		s.log.Warn("promote_secret_version_failed", "secret_id", secretID, "version_id", versionID, "err", err)
	}
}

// bury schedules a buried secret's deletion and removes its grave. It is
// best effort: Sweep finishes what fails here.
func (s *Service) bury(ctx context.Context, secretID string) {
	ctx = context.WithoutCancel(ctx)
	if err := s.secrets.ScheduleDeletion(ctx, secretID); err != nil {
		s.log.Warn("schedule_secret_deletion_failed", "secret_id", secretID, "err", err)
		return
	}
	if err := s.meta.Unbury(ctx, secretID); err != nil {
		s.log.Warn("unbury_secret_failed", "secret_id", secretID, "err", err)
	}
}

// RollbackRequest restores the previous credential of a platform. The
// caller re-validates it first (PreviousMaterial) and passes the status
// that check produced.
type RollbackRequest struct {
	Tenant   string
	ID       string
	Platform push.Platform
	Expect   int64
	Status   Status    // zero State means OK; zero CheckedAt means now
	DueAt    time.Time // zero means DefaultDue
	Actor    string
}

// Rollback makes the previous credential of r.Platform current again (the
// replaced one becomes the previous, so a second rollback undoes the
// first). The previous version must still be readable.
// Errors: Invalid, NotFound (no app or no credential, or the previous
// secret version is gone), Conflict (nothing to roll back to),
// PreconditionFailed (ErrVersionMismatch), Transient, Internal.
func (s *Service) Rollback(ctx context.Context, r RollbackRequest) (App, error) {
	const op = "credential.Rollback"
	if err := checkRef(op, r.Tenant, r.ID); err != nil {
		return App{}, err
	}
	if !r.Platform.Valid() {
		return App{}, push.E(op, push.Invalid, fmt.Errorf("platform %q: want apns or fcm", r.Platform))
	}
	var restored SecretRef
	app, err := s.mutate(ctx, op, r.Tenant, r.ID, r.Expect, func(a *App) ([]Event, []Grave, error) {
		cur := a.Meta(r.Platform)
		if cur == nil {
			return nil, nil, push.E(op, push.NotFound, fmt.Errorf("app %s has no %s credential", r.ID, r.Platform))
		}
		if cur.Previous == nil || cur.Secret.PreviousVersionID == "" {
			return nil, nil, push.E(op, push.Conflict, fmt.Errorf("app %s has no previous %s credential to roll back to", r.ID, r.Platform))
		}
		if _, err := s.secrets.ReadVersion(ctx, cur.Secret.ID, cur.Secret.PreviousVersionID); err != nil {
			return nil, nil, wrap(op, err, "read previous %s secret version of app %s", r.Platform, r.ID)
		}
		st := r.Status
		if st.State == "" {
			st.State = OK
		}
		if st.CheckedAt.IsZero() {
			st.CheckedAt = a.UpdatedAt
		}
		m := &Meta{
			Kind: cur.Previous.Kind, Facts: cur.Previous.Facts, Status: st,
			Secret:    SecretRef{ID: cur.Secret.ID, VersionID: cur.Secret.PreviousVersionID, PreviousVersionID: cur.Secret.VersionID},
			Previous:  &Revision{Kind: cur.Kind, Facts: cur.Facts},
			DueAt:     r.DueAt,
			RotatedAt: a.UpdatedAt,
		}
		if m.DueAt.IsZero() {
			m.DueAt = DefaultDue(m.Kind, m.Facts, st.CheckedAt)
		}
		m.DueAt = dueTime(m.DueAt)
		a.setMeta(r.Platform, m)
		restored = m.Secret
		return []Event{s.event(a, ActionRollback, r.Platform, r.Actor, cur, m)}, nil, nil
	})
	if err != nil {
		return App{}, err
	}
	s.promote(ctx, restored.ID, restored.VersionID)
	return app, nil
}

// RemoveRequest removes a platform's credential from an app.
type RemoveRequest struct {
	Tenant   string
	ID       string
	Platform push.Platform
	Expect   int64
	Actor    string
}

// RemovePlatform drops the credential of r.Platform; its secret is
// scheduled for deletion (buried in the same commit, so never orphaned).
// Errors: Invalid, NotFound (no app or no credential), PreconditionFailed
// (ErrVersionMismatch), Transient, Internal.
func (s *Service) RemovePlatform(ctx context.Context, r RemoveRequest) (App, error) {
	const op = "credential.RemovePlatform"
	if err := checkRef(op, r.Tenant, r.ID); err != nil {
		return App{}, err
	}
	if !r.Platform.Valid() {
		return App{}, push.E(op, push.Invalid, fmt.Errorf("platform %q: want apns or fcm", r.Platform))
	}
	var secretID string
	app, err := s.mutate(ctx, op, r.Tenant, r.ID, r.Expect, func(a *App) ([]Event, []Grave, error) {
		cur := a.Meta(r.Platform)
		if cur == nil {
			return nil, nil, push.E(op, push.NotFound, fmt.Errorf("app %s has no %s credential", r.ID, r.Platform))
		}
		secretID = cur.Secret.ID
		a.setMeta(r.Platform, nil)
		g := Grave{SecretID: cur.Secret.ID, Tenant: r.Tenant, AppID: r.ID, Platform: r.Platform, At: a.UpdatedAt}
		return []Event{s.event(a, ActionRemove, r.Platform, r.Actor, cur, nil)}, []Grave{g}, nil
	})
	if err != nil {
		return App{}, err
	}
	s.bury(ctx, secretID)
	return app, nil
}

// Delete deletes the app; its secrets are buried in the same commit and
// then scheduled for deletion (recoverable during the store's window). The
// audit trail stays.
// Errors: Invalid, NotFound, PreconditionFailed (ErrVersionMismatch),
// Transient, Internal.
func (s *Service) Delete(ctx context.Context, tenant, id string, expect int64, actor string) error {
	const op = "credential.Delete"
	if err := checkRef(op, tenant, id); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.meta.App(ctx, tenant, id)
		if err != nil {
			return wrap(op, err, "load app %s", id)
		}
		if expect != 0 && cur.Version != expect {
			return push.E(op, push.PreconditionFailed,
				fmt.Errorf("app %s is at version %d, not %d: %w", id, cur.Version, expect, ErrVersionMismatch))
		}
		now := s.stamp()
		var graves []Grave
		for _, p := range []push.Platform{push.APNs, push.FCM} {
			if m := cur.Meta(p); m != nil {
				graves = append(graves, Grave{SecretID: m.Secret.ID, Tenant: tenant, AppID: id, Platform: p, At: now})
			}
		}
		gone := cur.Clone()
		gone.Version++
		gone.UpdatedAt = now
		ev := s.event(&gone, ActionDelete, "", actor, nil, nil)
		err = s.meta.Apply(ctx, Change{Tenant: tenant, AppID: id, App: nil, Expect: cur.Version, Events: []Event{ev}, Bury: graves})
		if err == nil {
			for _, g := range graves {
				s.bury(ctx, g.SecretID)
			}
			return nil
		}
		if expect == 0 && retryable(err) && attempt < casRetries {
			if err := backoff(ctx, attempt); err != nil {
				return push.E(op, push.Transient, err)
			}
			continue
		}
		return wrap(op, err, "delete app %s", id)
	}
}

// Sweep schedules the deletion of at most limit buried secrets whose
// deletion an interrupted Delete, RemovePlatform or Rotate did not finish,
// and returns how many it handled. The expiry checker calls it each run.
// Errors: Transient, Internal.
func (s *Service) Sweep(ctx context.Context, limit int) (int, error) {
	const op = "credential.Sweep"
	graves, err := s.meta.Graves(ctx, pageLimit(limit))
	if err != nil {
		return 0, wrap(op, err, "list graves")
	}
	n := 0
	for _, g := range graves {
		if err := s.secrets.ScheduleDeletion(ctx, g.SecretID); err != nil {
			return n, wrap(op, err, "schedule deletion of secret %s", g.SecretID)
		}
		if err := s.meta.Unbury(ctx, g.SecretID); err != nil {
			return n, wrap(op, err, "unbury secret %s", g.SecretID)
		}
		n++
	}
	return n, nil
}

// StatusRequest sets a platform credential's status.
type StatusRequest struct {
	Tenant   string
	ID       string
	Platform push.Platform
	// VersionID is the secret version the status was computed for; when
	// set and no longer current (a rotation happened), the status is not
	// applied. "" applies it to whatever is current.
	VersionID string
	Status    Status
	// DueAt, when not nil, replaces the expiry index time (a zero time
	// removes the credential from the index).
	DueAt *time.Time
	Actor string
}

// SetStatus sets the status (and optionally the due time) of a platform
// credential. It never loses a concurrent update (optimistic locking,
// retried). A change of state is recorded in the audit trail.
// Errors: Invalid, NotFound (no app or no credential), Conflict
// (ErrStaleCredential), Transient, Internal.
func (s *Service) SetStatus(ctx context.Context, r StatusRequest) (App, error) {
	const op = "credential.SetStatus"
	if err := checkRef(op, r.Tenant, r.ID); err != nil {
		return App{}, err
	}
	if !r.Platform.Valid() {
		return App{}, push.E(op, push.Invalid, fmt.Errorf("platform %q: want apns or fcm", r.Platform))
	}
	if !r.Status.State.Valid() || r.Status.State == Unconfigured {
		return App{}, push.E(op, push.Invalid, fmt.Errorf("status %q is not a state of a stored credential", r.Status.State))
	}
	return s.mutate(ctx, op, r.Tenant, r.ID, 0, func(a *App) ([]Event, []Grave, error) {
		cur := a.Meta(r.Platform)
		if cur == nil {
			return nil, nil, push.E(op, push.NotFound, fmt.Errorf("app %s has no %s credential", r.ID, r.Platform))
		}
		if r.VersionID != "" && r.VersionID != cur.Secret.VersionID {
			return nil, nil, push.E(op, push.Conflict, fmt.Errorf("%s credential of app %s: %w", r.Platform, r.ID, ErrStaleCredential))
		}
		m := cur.clone()
		m.Status = r.Status
		if m.Status.CheckedAt.IsZero() {
			m.Status.CheckedAt = a.UpdatedAt
		}
		if r.DueAt != nil {
			m.DueAt = dueTime(*r.DueAt)
		}
		a.setMeta(r.Platform, m)
		if cur.Status.State == m.Status.State && cur.Status.Reason == m.Status.Reason {
			return nil, nil, nil
		}
		ev := s.event(a, ActionStatus, r.Platform, r.Actor, nil, nil)
		ev.Result = string(m.Status.State)
		ev.Message = m.Status.Reason
		return []Event{ev}, nil, nil
	})
}

// Due returns at most limit credentials whose due time is at or before
// now, across tenants, oldest first. It reads only the expiry index.
// Errors: Transient, Internal.
func (s *Service) Due(ctx context.Context, now time.Time, limit int) ([]Due, error) {
	const op = "credential.Due"
	d, err := s.meta.Due(ctx, now.UTC(), pageLimit(limit))
	if err != nil {
		return nil, wrap(op, err, "list due credentials")
	}
	return d, nil
}

// Material returns the secret material of the credential of platform p in
// use by the app (tenant, id).
// Errors: Invalid, NotFound (no app or no credential), Transient, Internal.
func (s *Service) Material(ctx context.Context, tenant, id string, p push.Platform) (Material, error) {
	return s.material(ctx, "credential.Material", tenant, id, p, false)
}

// PreviousMaterial returns the secret material a Rollback of platform p
// would restore, so the caller can re-validate it first.
// Errors: Invalid, NotFound (no app, credential or previous version),
// Transient, Internal.
func (s *Service) PreviousMaterial(ctx context.Context, tenant, id string, p push.Platform) (Material, error) {
	return s.material(ctx, "credential.PreviousMaterial", tenant, id, p, true)
}

func (s *Service) material(ctx context.Context, op, tenant, id string, p push.Platform, previous bool) (Material, error) {
	a, err := s.Get(ctx, tenant, id)
	if err != nil {
		return Material{}, push.E(op, push.Other, err)
	}
	m := a.Meta(p)
	if m == nil {
		return Material{}, push.E(op, push.NotFound, fmt.Errorf("app %s has no %s credential", id, p))
	}
	ver := m.Secret.VersionID
	if previous {
		ver = m.Secret.PreviousVersionID
		if ver == "" {
			return Material{}, push.E(op, push.NotFound, fmt.Errorf("app %s has no previous %s credential", id, p))
		}
	}
	mat, err := s.MaterialVersion(ctx, m.Secret.ID, ver)
	if err != nil {
		return Material{}, push.E(op, push.Other, fmt.Errorf("%s credential of app %s: %w", p, id, err))
	}
	return mat, nil
}

// MaterialVersion returns the material held by version versionID of secret
// secretID (as named by an app's SecretRef). Versions never change, so a
// caller may cache the answer by (secretID, versionID) forever.
// Errors: NotFound, Transient, Internal.
func (s *Service) MaterialVersion(ctx context.Context, secretID, versionID string) (Material, error) {
	const op = "credential.MaterialVersion"
	v, err := s.secrets.ReadVersion(ctx, secretID, versionID)
	if err != nil {
		return Material{}, wrap(op, err, "read secret %s version %s", secretID, versionID)
	}
	m, err := DecodeMaterial(v)
	if err != nil {
		return Material{}, wrap(op, err, "decode secret %s version %s", secretID, versionID)
	}
	return m, nil
}

// AppendAudit records an event the caller produced (e.g. a validation or a
// test push). ID is assigned; a zero At means now.
// Errors: Invalid, Transient, Internal.
func (s *Service) AppendAudit(ctx context.Context, e Event) (Event, error) {
	const op = "credential.AppendAudit"
	if err := checkRef(op, e.Tenant, e.AppID); err != nil {
		return Event{}, err
	}
	if e.Action == "" {
		return Event{}, push.E(op, push.Invalid, errors.New("event needs an action"))
	}
	t := s.stamp()
	if e.At.IsZero() {
		e.At = t
	}
	e.ID = eventID(t)
	if err := s.meta.AppendEvent(ctx, e); err != nil {
		return Event{}, wrap(op, err, "append audit event")
	}
	return e, nil
}

// Audit returns one page of the audit trail of (tenant, appID), newest
// first. The trail outlives the app.
// Errors: Invalid, Transient, Internal.
func (s *Service) Audit(ctx context.Context, tenant, appID string, p Page) (EventPage, error) {
	const op = "credential.Audit"
	if err := checkRef(op, tenant, appID); err != nil {
		return EventPage{}, err
	}
	before, err := decodeCursor(op, p.Cursor)
	if err != nil {
		return EventPage{}, err
	}
	limit := pageLimit(p.Limit)
	evs, err := s.meta.Events(ctx, tenant, appID, before, limit+1)
	if err != nil {
		return EventPage{}, wrap(op, err, "list audit events")
	}
	page := EventPage{Events: evs}
	if len(evs) > limit {
		page.Events = evs[:limit]
		page.Next = encodeCursor(evs[limit-1].ID)
	}
	return page, nil
}

// eventID makes a sortable event id from t: fixed-width nanoseconds and a
// random suffix.
func eventID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%020d-%s", t.UnixNano(), hex.EncodeToString(b[:]))
}

// event makes the audit event of a change of a (already at its new
// version); old and new are the platform metadata before and after.
func (s *Service) event(a *App, action Action, p push.Platform, actor string, old, new *Meta) Event {
	t := s.stamp()
	e := Event{
		ID: eventID(t), Tenant: a.Tenant, AppID: a.ID, At: t, Actor: actor,
		Action: action, Platform: p, Version: a.Version, Result: "ok",
	}
	if old != nil {
		e.OldFingerprint, e.OldNotAfter = old.Facts.FingerprintSHA256, old.Facts.NotAfter
	}
	if new != nil {
		e.NewFingerprint, e.NewNotAfter = new.Facts.FingerprintSHA256, new.Facts.NotAfter
	}
	return e
}

// wrap adds context to a store error, keeping its Kind.
func wrap(op string, err error, format string, args ...any) error {
	return push.E(op, push.Other, fmt.Errorf(format+": %w", append(args, err)...))
}
