package credential

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"

	"mobilepush/shared/push"
)

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

func checkFields(op, name, description string, env push.Environment) error {
	switch {
	case name == "" || len(name) > maxName:
		return push.Errorf(op, push.Invalid, "name: must be 1-%d bytes", maxName)
	case len(description) > maxDescription:
		return push.Errorf(op, push.Invalid, "description: must be at most %d bytes", maxDescription)
	case !env.Valid():
		return push.Errorf(op, push.Invalid, "environment: want %q or %q", push.Production, push.Sandbox)
	}
	return nil
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
		return "", push.Errorf(op, push.Invalid, "cursor: not a cursor this service returned")
	}
	return string(b), nil
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// List returns one page of the tenant's apps, ordered by ID.
// Errors: Invalid (bad cursor or tenant), Transient, Internal.
func (s *Service) List(ctx context.Context, tenant string, p Page) (AppPage, error) {
	const op = "credential.List"
	if !validTenant(tenant) {
		return AppPage{}, push.Errorf(op, push.Invalid, "tenant: must be 1-256 printable characters")
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
	return s.mutate(ctx, op, r.Tenant, r.ID, r.Expect, func(a *App) (edit, error) {
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
			return edit{}, err
		}
		return edit{events: []Event{s.event(a, ActionUpdate, "", r.Actor, nil, nil)}}, nil
	})
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
	var graves []Grave
	_, err := s.mutate(ctx, op, tenant, id, expect, func(a *App) (edit, error) {
		graves = nil
		for _, p := range []push.Platform{push.APNs, push.FCM} {
			if m := a.Meta(p); m != nil {
				graves = append(graves, Grave{SecretID: m.Secret.ID, Tenant: tenant, AppID: id, Platform: p, At: a.UpdatedAt})
			}
		}
		if pk := a.PendingAPNs; pk != nil {
			graves = append(graves, Grave{SecretID: pk.Secret.ID, Tenant: tenant, AppID: id, Platform: push.APNs, At: a.UpdatedAt})
		}
		ev := s.event(a, ActionDelete, "", actor, nil, nil)
		return edit{events: []Event{ev}, bury: graves, remove: true}, nil
	})
	if err != nil {
		return err
	}
	for _, g := range graves {
		s.bury(ctx, g.SecretID)
	}
	return nil
}
