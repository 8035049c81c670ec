package credential

import (
	"context"
	"fmt"
	"time"

	"mobilepush/shared/push"
)

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

// DefaultDue is when the expiry checker first looks at a new credential
// under the default schedule: for a certificate, push.FirstDue with
// push.DefaultThresholds (at once if that has passed); for a key, which
// never expires, push.DefaultRecheckEvery after its check. Callers that
// know configured thresholds set the due time themselves.
func DefaultDue(kind push.CredentialKind, f Facts, checkedAt time.Time) time.Time {
	if kind == push.APNsP12 && !f.NotAfter.IsZero() {
		return push.FirstDue(nil, f.NotAfter, checkedAt)
	}
	return checkedAt.Add(push.DefaultRecheckEvery)
}

// dueTime normalizes a due time to whole seconds in UTC: the expiry index
// keeps unix seconds.
func dueTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

// prepared is an Upload whose material is validated and encoded.
type prepared struct {
	up    Upload
	value push.Redacted
}

func prepare(op string, p push.Platform, up *Upload, now time.Time) (prepared, error) {
	if up.Material.Kind.Platform() != p {
		return prepared{}, push.Errorf(op, push.Invalid, "%s: credential kind %q is not for this platform", p, up.Material.Kind)
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
		return prepared{}, push.Errorf(op, push.Invalid, "%s: status %q is not a state of a stored credential", p, u.Status.State)
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

// RotateRequest replaces a platform's credential (or adds one).
type RotateRequest struct {
	Tenant   string
	ID       string
	Platform push.Platform
	Expect   int64 // 0: any version (still never a lost update)
	Upload   Upload
	Actor    string
	// FromPending, when set, names the pending APNs key (PendingKey.Secret)
	// whose private key Upload pairs with Apple's certificate: the commit
	// consumes it (Conflict with ErrStaleCredential when the app's pending
	// key is no longer that one) and the audit event says so.
	FromPending *SecretRef
}

// Rotate replaces the credential of r.Platform with r.Upload, crash-safely:
// the new value is written as a pending version, the metadata is committed
// under the version condition, then the new version is promoted. Until the
// commit the previous credential stays in use; after it, the metadata
// points at the new version whether or not the promotion happened. The
// replaced credential becomes the one Rollback restores.
// With r.FromPending the pending key is removed and its secret buried in
// the same commit, so a crash leaves either the old credential and the
// pending key, or the new credential and no pending key.
// Errors: Invalid, TooLarge, NotFound, Conflict (ErrStaleCredential),
// PreconditionFailed (ErrVersionMismatch), Transient, Internal.
func (s *Service) Rotate(ctx context.Context, r RotateRequest) (App, error) {
	const op = "credential.Rotate"
	if err := checkPlatformRef(op, r.Tenant, r.ID, r.Platform); err != nil {
		return App{}, err
	}
	if r.FromPending != nil && r.Platform != push.APNs {
		return App{}, push.Errorf(op, push.Invalid, "a signing request makes only an APNs credential")
	}
	now := s.stamp()
	pr, err := prepare(op, r.Platform, &r.Upload, now)
	if err != nil {
		return App{}, err
	}
	var (
		old                 *Meta // the credential replaced, as the first attempt read it
		secretID, versionID string
		fresh               bool // secretID is a secret this call created
	)
	app, err := s.mutate(ctx, op, r.Tenant, r.ID, r.Expect, func(a *App) (edit, error) {
		if secretID == "" {
			// The first attempt writes the new value before any commit.
			old = a.Meta(r.Platform)
			var err error
			if secretID, versionID, fresh, err = s.writeVersion(ctx, op, r, old, pr.value); err != nil {
				return edit{}, err
			}
		} else if !sameMeta(a.Meta(r.Platform), old) {
			// Another rotation of this platform won: ours is stale.
			return edit{}, push.E(op, push.PreconditionFailed, ErrVersionMismatch).WithMsg("the %s credential of app %s changed meanwhile; read it again", r.Platform, r.ID)
		}
		m := &Meta{
			Kind: pr.up.Material.Kind, Facts: pr.up.Facts, Status: pr.up.Status,
			Secret: SecretRef{ID: secretID, VersionID: versionID}, DueAt: pr.up.DueAt, RotatedAt: a.UpdatedAt,
		}
		var graves []Grave
		if r.FromPending != nil {
			g, err := s.consumePending(op, a, *r.FromPending, a.UpdatedAt)
			if err != nil {
				return edit{}, err
			}
			graves = append(graves, g)
		}
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
		a.setMeta(r.Platform, m)
		ev := s.event(a, ActionRotate, r.Platform, r.Actor, old, m)
		if r.FromPending != nil {
			ev.Message = FromSigningRequest
		}
		return edit{events: []Event{ev}, bury: graves}, nil
	})
	if err != nil {
		// The previous credential stays in use: the metadata still names it.
		if fresh && rejected(err) {
			s.discard(ctx, []string{secretID})
		}
		return App{}, err
	}
	s.promote(ctx, secretID, versionID)
	if old != nil && old.Secret.ID != secretID {
		s.bury(ctx, old.Secret.ID)
	}
	if r.FromPending != nil {
		s.bury(ctx, r.FromPending.ID)
	}
	return app, nil
}

// writeVersion stores the value of a rotation: a pending version of the
// existing secret of old, or a new secret when the platform has none (or
// it is gone). Nothing reads the value until a commit names it.
func (s *Service) writeVersion(ctx context.Context, op string, r RotateRequest, old *Meta, value push.Redacted) (secretID, versionID string, fresh bool, err error) {
	if old != nil {
		// Repair a promotion an earlier crash skipped, so the version in
		// use keeps a stage (unlabelled versions may be purged). Best
		// effort: reads go by VersionID, so the rotation can go on.
		s.promote(ctx, old.Secret.ID, old.Secret.VersionID)
		versionID, err = s.secrets.PutVersion(ctx, old.Secret.ID, value)
		switch {
		case err == nil:
			return old.Secret.ID, versionID, false, nil
		case !push.Is(err, push.NotFound):
			return "", "", false, wrap(op, err, "store %s secret version of app %s", r.Platform, r.ID)
		}
	}
	secretID, versionID, err = s.secrets.CreateSecret(ctx, SecretOwner{Tenant: r.Tenant, AppID: r.ID, Platform: r.Platform}, value)
	if err != nil {
		return "", "", false, wrap(op, err, "store %s secret of app %s", r.Platform, r.ID)
	}
	return secretID, versionID, true, nil
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
	var restored SecretRef
	app, err := s.mutateStored(ctx, op, r.Tenant, r.ID, r.Platform, r.Expect, func(a *App, cur *Meta) (edit, error) {
		if cur.Previous == nil || cur.Secret.PreviousVersionID == "" {
			return edit{}, push.Errorf(op, push.Conflict, "app %s has no previous %s credential to roll back to", r.ID, r.Platform)
		}
		if _, err := s.secrets.ReadVersion(ctx, cur.Secret.ID, cur.Secret.PreviousVersionID); err != nil {
			return edit{}, wrap(op, err, "read previous %s secret version of app %s", r.Platform, r.ID)
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
		return edit{events: []Event{s.event(a, ActionRollback, r.Platform, r.Actor, cur, m)}}, nil
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
	var secretID string
	app, err := s.mutateStored(ctx, op, r.Tenant, r.ID, r.Platform, r.Expect, func(a *App, cur *Meta) (edit, error) {
		secretID = cur.Secret.ID
		a.setMeta(r.Platform, nil)
		g := Grave{SecretID: cur.Secret.ID, Tenant: r.Tenant, AppID: r.ID, Platform: r.Platform, At: a.UpdatedAt}
		return edit{events: []Event{s.event(a, ActionRemove, r.Platform, r.Actor, cur, nil)}, bury: []Grave{g}}, nil
	})
	if err != nil {
		return App{}, err
	}
	s.bury(ctx, secretID)
	return app, nil
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
	// Action is the audit event the change records: "" records an
	// ActionStatus event only when the state or reason changes; any other
	// action (e.g. ActionValidate) is always recorded, as one event with
	// the resulting state and reason, so a check is one row of the trail.
	Action Action
}

// SetStatus sets the status (and optionally the due time) of a platform
// credential. It never loses a concurrent update (optimistic locking,
// retried). A change of state is recorded in the audit trail.
// Errors: Invalid, NotFound (no app or no credential), Conflict
// (ErrStaleCredential), Transient, Internal.
func (s *Service) SetStatus(ctx context.Context, r StatusRequest) (App, error) {
	const op = "credential.SetStatus"
	if !r.Status.State.Valid() || r.Status.State == Unconfigured {
		return App{}, push.Errorf(op, push.Invalid, "status %q is not a state of a stored credential", r.Status.State)
	}
	return s.mutateStored(ctx, op, r.Tenant, r.ID, r.Platform, 0, func(a *App, cur *Meta) (edit, error) {
		if r.VersionID != "" && r.VersionID != cur.Secret.VersionID {
			return edit{}, push.E(op, push.Conflict, ErrStaleCredential).WithMsg("the %s credential of app %s changed meanwhile; read it again", r.Platform, r.ID)
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
		action := r.Action
		if action == "" {
			if cur.Status.State == m.Status.State && cur.Status.Reason == m.Status.Reason {
				return edit{}, nil
			}
			action = ActionStatus
		}
		ev := s.event(a, action, r.Platform, r.Actor, nil, nil)
		ev.Result = string(m.Status.State)
		ev.Message = m.Status.Reason
		return edit{events: []Event{ev}}, nil
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
