package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// CreateInput is a new app with optional credentials.
type CreateInput struct {
	ID          string // optional; generated when empty
	Name        string
	Description string
	Enabled     bool
	Environment push.Environment // empty means production
	APNs        *APNsUpload
	FCM         *FCMUpload
}

// Result is an app after a change, with what checking its new
// credentials found (keyed by platform; only platforms checked now).
type Result struct {
	App     credential.App
	Checked map[push.Platform]*Checked
}

// Create checks every credential of in (offline, then live on the app's
// environment) and registers the app only when all pass.
// Errors: Invalid, Unprocessable (a *Rejection: nothing stored), TooLarge,
// Conflict, Transient, Internal.
func (s *Service) Create(ctx context.Context, who Principal, in CreateInput) (Result, error) {
	const op = "registry.Create"
	if in.Environment == "" {
		in.Environment = push.Production
	}
	if !in.Environment.Valid() {
		return Result{}, push.Errorf(op, push.Invalid, "environment %q: want production or sandbox", in.Environment)
	}
	res := Result{Checked: map[push.Platform]*Checked{}}
	req := credential.CreateRequest{
		Tenant: who.Tenant, ID: in.ID, Name: in.Name, Description: in.Description,
		Enabled: in.Enabled, Environment: in.Environment, Actor: who.Subject,
	}
	if in.APNs != nil {
		c, err := s.checkAPNs(ctx, op, in.APNs, in.Environment, nil)
		if err != nil {
			return Result{}, err
		}
		res.Checked[push.APNs], req.APNs = c, &c.upload
	}
	if in.FCM != nil {
		c, err := s.checkFCM(ctx, op, in.FCM)
		if err != nil {
			return Result{}, err
		}
		res.Checked[push.FCM], req.FCM = c, &c.upload
	}
	app, err := s.Store.Create(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("register app: %w", err)
	}
	res.App = app
	return res, nil
}

// Get returns the caller's app id. Errors: NotFound (also another
// tenant's app), Invalid, Transient, Internal.
func (s *Service) Get(ctx context.Context, who Principal, id string) (credential.App, error) {
	return s.Store.Get(ctx, who.Tenant, id)
}

// List returns one page of the caller's apps.
// Errors: Invalid (bad cursor), Transient, Internal.
func (s *Service) List(ctx context.Context, who Principal, p credential.Page) (credential.AppPage, error) {
	return s.Store.List(ctx, who.Tenant, p)
}

// Update changes app fields. expect is the version the caller read
// (If-Match), 0 for none (still never a lost update). Switching to
// production is refused when the stored APNs certificate serves only the
// sandbox (and the reverse).
// Errors: Invalid, NotFound, PreconditionFailed, Unprocessable, Transient, Internal.
func (s *Service) Update(ctx context.Context, who Principal, id string, expect int64, patch credential.Patch) (credential.App, error) {
	const op = "registry.Update"
	if patch.Environment != nil {
		if !patch.Environment.Valid() {
			return credential.App{}, push.Errorf(op, push.Invalid, "environment %q: want production or sandbox", *patch.Environment)
		}
		app, err := s.Store.Get(ctx, who.Tenant, id)
		if err != nil {
			return credential.App{}, err
		}
		if m := app.APNs; m != nil && m.Kind == push.APNsP12 && m.Facts.Environment != "both" && m.Facts.Environment != string(*patch.Environment) {
			return credential.App{}, &push.Error{Op: op, Kind: push.Unprocessable, Code: string(certinfo.EnvironmentMismatch),
				Msg: fmt.Sprintf("the APNs certificate serves only %s; upload a certificate for %s first", m.Facts.Environment, *patch.Environment)}
		}
	}
	return s.Store.Update(ctx, credential.UpdateRequest{Tenant: who.Tenant, ID: id, Expect: expect, Patch: patch, Actor: who.Subject})
}

// Delete deletes the app; its secrets are scheduled for deletion.
// Errors: NotFound, PreconditionFailed, Transient, Internal.
func (s *Service) Delete(ctx context.Context, who Principal, id string, expect int64) error {
	return s.Store.Delete(ctx, who.Tenant, id, expect, who.Subject)
}

// RotateAPNs checks up against the app's environment and, when it passes,
// makes it the app's APNs credential. A rejected upload changes nothing.
// Errors: Invalid, NotFound, PreconditionFailed, Unprocessable, TooLarge, Transient, Internal.
func (s *Service) RotateAPNs(ctx context.Context, who Principal, id string, expect int64, up *APNsUpload) (Result, error) {
	const op = "registry.RotateAPNs"
	app, err := s.Store.Get(ctx, who.Tenant, id)
	if err != nil {
		return Result{}, err
	}
	var pending *pendingPair
	if len(up.Cer) > 0 {
		if pending, err = s.loadPending(ctx, op, who, id); err != nil {
			return Result{}, err
		}
	}
	c, err := s.checkAPNs(ctx, op, up, app.Environment, pending)
	if err != nil {
		s.auditRejected(ctx, who, id, push.APNs, err)
		return Result{}, err
	}
	return s.rotate(ctx, who, id, expect, c)
}

// RotateFCM checks up and, when it passes, makes it the app's FCM
// credential. A rejected upload changes nothing.
// Errors: as RotateAPNs.
func (s *Service) RotateFCM(ctx context.Context, who Principal, id string, expect int64, up *FCMUpload) (Result, error) {
	const op = "registry.RotateFCM"
	if _, err := s.Store.Get(ctx, who.Tenant, id); err != nil {
		return Result{}, err
	}
	c, err := s.checkFCM(ctx, op, up)
	if err != nil {
		s.auditRejected(ctx, who, id, push.FCM, err)
		return Result{}, err
	}
	return s.rotate(ctx, who, id, expect, c)
}

// auditRejected records a rotation the checks refused, so the trail shows
// attempts as well as changes. Failing to record it does not change the
// answer.
func (s *Service) auditRejected(ctx context.Context, who Principal, id string, p push.Platform, err error) {
	var rej *Rejection
	if !errors.As(err, &rej) {
		return
	}
	e := credential.Event{Tenant: who.Tenant, AppID: id, Actor: who.Subject, Action: credential.ActionRotate, Platform: p, Result: "rejected: " + rej.Code()}
	if r := rej.Report; r != nil {
		e.NewFingerprint = r.FingerprintSHA256
		if r.NotAfter != nil {
			e.NewNotAfter = *r.NotAfter
		}
	}
	_, _ = s.Store.AppendAudit(ctx, e)
}

func (s *Service) rotate(ctx context.Context, who Principal, id string, expect int64, c *Checked) (Result, error) {
	app, err := s.Store.Rotate(ctx, credential.RotateRequest{Tenant: who.Tenant, ID: id, Platform: c.Platform, Expect: expect, Upload: c.upload, Actor: who.Subject, FromPending: c.fromPending})
	if err != nil {
		return Result{}, fmt.Errorf("rotate %s credential: %w", c.Platform, err)
	}
	msg := "A new credential was uploaded and is now used for sending."
	if c.fromPending != nil {
		msg = "Apple's certificate for the signing request was uploaded; with the request's key it is now used for sending."
	}
	s.rotated(ctx, app, c.Platform, "rotated", msg)
	return Result{App: app, Checked: map[push.Platform]*Checked{c.Platform: c}}, nil
}

// rotated publishes "Push Credential Rotated". A failed publish is not
// an error of the rotation, which is done; it is visible in the audit
// trail either way.
func (s *Service) rotated(ctx context.Context, app credential.App, p push.Platform, reason, msg string) {
	if s.Events == nil {
		return
	}
	m := app.Meta(p)
	if m == nil {
		return
	}
	d := alert.Detail{Tenant: app.Tenant, AppID: app.ID, AppName: app.Name, Platform: p,
		BundleID: m.Facts.BundleID, ProjectID: m.Facts.ProjectID, NotAfter: m.Facts.NotAfter,
		Reason: reason, Message: msg, Action: "None needed; check that pushes are delivered.", CheckedAt: m.Status.CheckedAt}
	if !m.Facts.NotAfter.IsZero() {
		days := push.DaysLeft(m.Facts.NotAfter, s.now())
		d.DaysLeft = &days
	}
	_ = s.Events.Publish(context.WithoutCancel(ctx), []alert.Event{{Type: alert.CredentialRotated, Detail: d}})
}

// RemovePlatform removes the app's credential of platform p.
// Errors: Invalid, NotFound, PreconditionFailed, Transient, Internal.
func (s *Service) RemovePlatform(ctx context.Context, who Principal, id string, p push.Platform, expect int64) (credential.App, error) {
	return s.Store.RemovePlatform(ctx, credential.RemoveRequest{Tenant: who.Tenant, ID: id, Platform: p, Expect: expect, Actor: who.Subject})
}

// Rollback re-validates the previous credential of platform p (its dates
// and a live check) and restores it when it passes.
// Errors: Invalid, NotFound, Conflict (nothing to roll back to),
// PreconditionFailed, Unprocessable (the previous credential is expired or
// rejected), Transient, Internal.
func (s *Service) Rollback(ctx context.Context, who Principal, id string, p push.Platform, expect int64) (Result, error) {
	const op = "registry.Rollback"
	app, err := s.Store.Get(ctx, who.Tenant, id)
	if err != nil {
		return Result{}, err
	}
	cur := app.Meta(p)
	if cur == nil || cur.Previous == nil {
		return Result{}, push.Errorf(op, push.Conflict, "app %s has no previous %s credential to roll back to", id, p)
	}
	m, err := s.Store.PreviousMaterial(ctx, who.Tenant, id, p)
	if err != nil {
		return Result{}, err
	}
	st, live := s.revalidate(ctx, app, p, m, cur.Previous.Facts)
	if st.State == credential.Expired || st.State == credential.Invalid {
		return Result{}, &push.Error{Op: op, Kind: push.Unprocessable, Code: st.Reason, Msg: st.Message}
	}
	var due time.Time
	if na := cur.Previous.Facts.NotAfter; !na.IsZero() {
		due = push.FirstDue(s.Thresholds, na, s.now())
	}
	app, err = s.Store.Rollback(ctx, credential.RollbackRequest{Tenant: who.Tenant, ID: id, Platform: p, Expect: expect, Status: st, DueAt: due, Actor: who.Subject})
	if err != nil {
		return Result{}, err
	}
	s.rotated(ctx, app, p, "rolled_back", "The previous credential was restored after re-validation and is now used for sending.")
	return Result{App: app, Checked: map[push.Platform]*Checked{p: {Platform: p, Live: live}}}, nil
}

// Validation is the outcome of re-validating one stored credential.
type Validation struct {
	Platform push.Platform     `json:"platform"`
	Status   credential.Status `json:"status"`
	Live     push.LiveResult   `json:"live"`
}

// Validate re-runs the checks of every stored credential of the app (its
// dates, then a live check), records the resulting status (invalid when
// the provider rejects it; a suspended platform resumes after a
// successful check) and an audit event per platform.
// Errors: Invalid, NotFound, Transient, Internal.
func (s *Service) Validate(ctx context.Context, who Principal, id string) (credential.App, []Validation, error) {
	app, err := s.Store.Get(ctx, who.Tenant, id)
	if err != nil {
		return credential.App{}, nil, err
	}
	var out []Validation
	for _, p := range []push.Platform{push.APNs, push.FCM} {
		cur := app.Meta(p)
		if cur == nil {
			continue
		}
		m, err := s.Store.Material(ctx, who.Tenant, id, p)
		if err != nil {
			return credential.App{}, nil, err
		}
		st, live := s.revalidate(ctx, app, p, m, cur.Facts)
		updated, err := s.Store.SetStatus(ctx, credential.StatusRequest{Tenant: who.Tenant, ID: id, Platform: p, VersionID: cur.Secret.VersionID, Status: st, Actor: who.Subject})
		if err != nil && !errors.Is(err, credential.ErrStaleCredential) {
			return credential.App{}, nil, err
		}
		if err == nil {
			app = updated
		}
		_, _ = s.Store.AppendAudit(ctx, credential.Event{
			Tenant: who.Tenant, AppID: id, Actor: who.Subject, Action: "validate", Platform: p,
			NewFingerprint: cur.Facts.FingerprintSHA256, NewNotAfter: cur.Facts.NotAfter,
			Result: string(st.State), Message: st.Reason,
		})
		out = append(out, Validation{Platform: p, Status: st, Live: live})
	}
	return app, out, nil
}

// revalidate computes the status of stored material: expired by date,
// else the live verdict (invalid on rejection), else ok or expiring.
func (s *Service) revalidate(ctx context.Context, app credential.App, p push.Platform, m credential.Material, f credential.Facts) (credential.Status, push.LiveResult) {
	now := s.now()
	if !f.NotAfter.IsZero() && now.After(f.NotAfter) {
		msg := fmt.Sprintf("The certificate expired on %s. Upload a new one.", f.NotAfter.Format("2006-01-02"))
		return credential.Status{State: credential.Expired, Reason: string(certinfo.Expired), Message: msg, CheckedAt: now}, push.LiveResult{}
	}
	live := s.Prover.Prove(ctx, m, app.Environment, f.BundleID)
	switch {
	case live.Code.Rejected():
		return credential.Status{State: credential.Invalid, Reason: string(live.Code), Message: live.Message, CheckedAt: now}, live
	case !f.NotAfter.IsZero() && f.NotAfter.Sub(now) < 30*24*time.Hour:
		return credential.Status{State: credential.Expiring, Reason: string(certinfo.ExpiringSoon), Message: "The certificate expires on " + f.NotAfter.Format("2006-01-02") + ".", CheckedAt: now}, live
	case live.Code == push.LiveUnreachable:
		return credential.Status{State: credential.OK, Reason: string(push.LiveUnreachable), Message: live.Message, CheckedAt: now}, live
	}
	return credential.Status{State: credential.OK, Message: "Checked and accepted by the provider.", CheckedAt: now}, live
}

// Inspect checks uploads without storing anything (POST /v1/validate).
// A failed check is not an error here: it is reported in the result.
// Errors: Invalid, Internal.
func (s *Service) Inspect(ctx context.Context, env push.Environment, apns *APNsUpload, fcm *FCMUpload) (map[push.Platform]*Checked, error) {
	const op = "registry.Inspect"
	if apns == nil && fcm == nil {
		return nil, push.Errorf(op, push.Invalid, "give apns or fcm")
	}
	out := map[push.Platform]*Checked{}
	run := func(p push.Platform, check func() (*Checked, error)) error {
		c, err := check()
		var rej *Rejection
		switch {
		case errors.As(err, &rej):
			c = &Checked{Platform: p, Report: rej.Report}
			if rej.Live != nil {
				c.Live = *rej.Live
			}
		case err != nil:
			return err
		}
		out[p] = c
		return nil
	}
	if apns != nil {
		if err := run(push.APNs, func() (*Checked, error) { return s.checkAPNs(ctx, op, apns, env, nil) }); err != nil {
			return nil, err
		}
	}
	if fcm != nil {
		if err := run(push.FCM, func() (*Checked, error) { return s.checkFCM(ctx, op, fcm) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TestPush sends msg through the app's credential of platform p and
// returns the provider's answer; the attempt is audited.
// The token is checked as the queue checks it (push.CheckToken) before
// any connection sees it; a disabled app sends nothing.
// Errors: Invalid, NotFound (no app or no credential), Unprocessable (a
// disabled app), Transient, Internal.
func (s *Service) TestPush(ctx context.Context, who Principal, id string, p push.Platform, msg TestMessage) (Answer, error) {
	const op = "registry.TestPush"
	if !p.Valid() {
		return Answer{}, push.Errorf(op, push.Invalid, "platform %q: want apns or fcm", p)
	}
	if err := push.CheckToken(p, msg.Token); err != nil {
		return Answer{}, push.Errorf(op, push.Invalid, "token: %v", err)
	}
	app, err := s.Store.Get(ctx, who.Tenant, id)
	if err != nil {
		return Answer{}, err
	}
	if !app.Enabled {
		// As a queued send to a disabled app is refused (and nothing is
		// sent for it): a test push proves only what the app would do.
		return Answer{}, push.Errorf(op, push.Unprocessable, "app %s is disabled: enable it (PATCH /v1/apps/%s {\"enabled\": true}) to send to it", id, id)
	}
	meta := app.Meta(p)
	if meta == nil {
		return Answer{}, push.Errorf(op, push.NotFound, "app %s has no %s credential", id, p)
	}
	m, err := s.Store.Material(ctx, who.Tenant, id, p)
	if err != nil {
		return Answer{}, err
	}
	ans, err := s.Pusher.TestPush(ctx, m, app.Environment, meta.Facts.BundleID, msg)
	result := ans.Reason
	if err != nil {
		result = "error"
	} else if ans.Delivered {
		result = "delivered"
	}
	_, _ = s.Store.AppendAudit(ctx, credential.Event{Tenant: who.Tenant, AppID: id, Actor: who.Subject, Action: "test_push", Platform: p, Result: result})
	if err != nil {
		return Answer{}, push.E(op, push.Transient, fmt.Errorf("test push: %w", err))
	}
	return ans, nil
}

// Audit returns one page of the app's audit trail, newest first. The app
// must exist and belong to the caller.
// Errors: Invalid, NotFound, Transient, Internal.
func (s *Service) Audit(ctx context.Context, who Principal, id string, p credential.Page) (credential.EventPage, error) {
	if _, err := s.Store.Get(ctx, who.Tenant, id); err != nil {
		return credential.EventPage{}, err
	}
	return s.Store.Audit(ctx, who.Tenant, id, p)
}
