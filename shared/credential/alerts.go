package credential

import (
	"context"
	"errors"
	"net/url"
	"time"

	"mobilepush/shared/push"
)

// AlertKey names one operational alert about one platform credential: the
// expiry checker's "(credential version, threshold)" (docs/ARCHITECTURE.md, Expiry checks). Alerts
// reuse the send-message claims of the Ledger: a claim in progress is a
// lease on sending the alert, a claim that is Done is the marker that the
// alert was sent.
type AlertKey struct {
	Tenant   string
	AppID    string
	Platform push.Platform
	// Credential identifies the credential the alert is about: its
	// fingerprint, or its secret VersionID when it has none. A renewed
	// credential has another, so its alerts start over.
	Credential string
	// Level names the alert within the credential's cycle, e.g. "30" (days)
	// or "expired".
	Level string
}

// alertMessagePrefix keeps alert claims apart from send-message claims.
const alertMessagePrefix = "alert:"

// messageKey is the Ledger key of k. The parts are query-escaped, so a ':'
// inside one cannot make two keys collide.
func (k AlertKey) messageKey(op string) (MessageKey, error) {
	if err := checkRef(op, k.Tenant, k.AppID); err != nil {
		return MessageKey{}, err
	}
	if !k.Platform.Valid() || k.Credential == "" || k.Level == "" {
		return MessageKey{}, push.E(op, push.Invalid, errors.New("alert key needs a platform, a credential and a level"))
	}
	id := alertMessagePrefix + url.QueryEscape(k.AppID) + ":" + string(k.Platform) + ":" +
		url.QueryEscape(k.Credential) + ":" + url.QueryEscape(k.Level)
	return MessageKey{Tenant: k.Tenant, MessageID: id}, nil
}

// LeaseAlert takes, for owner, the lease on sending alert k until
// now+leaseFor; the claim is kept until keepUntil (choose a time after the
// credential can no longer need the alert, e.g. beyond a certificate's
// not_after, so a sent marker never expires before the certificate). now
// is the caller's clock.
// Errors: Invalid, Conflict (ErrMessageDone: the alert was sent;
// ErrLeaseHeld: another owner is sending it), Transient, Internal.
func (s *Service) LeaseAlert(ctx context.Context, k AlertKey, owner string, now time.Time, leaseFor time.Duration, keepUntil time.Time) error {
	const op = "credential.LeaseAlert"
	key, err := k.messageKey(op)
	if err != nil {
		return err
	}
	if owner == "" || leaseFor <= 0 || !keepUntil.After(now.Add(leaseFor)) {
		return push.E(op, push.Invalid, errors.New("alert lease needs an owner, a positive duration and a keep time after the lease"))
	}
	_, err = s.meta.Lease(ctx, Claim{
		Key: key, Owner: owner, State: InProgress,
		LeaseUntil: now.Add(leaseFor), ExpiresAt: keepUntil,
	}, now)
	if err != nil {
		return wrap(op, err, "lease alert %s of app %s", k.Level, k.AppID)
	}
	return nil
}

// ReleaseAlert ends owner's lease on alert k at now without marking it
// sent, so the next run may send it (after a failed publish).
// Errors: Invalid, Conflict (ErrMessageDone, ErrLeaseHeld), Transient, Internal.
func (s *Service) ReleaseAlert(ctx context.Context, k AlertKey, owner string, now time.Time, keepUntil time.Time) error {
	const op = "credential.ReleaseAlert"
	key, err := k.messageKey(op)
	if err != nil {
		return err
	}
	if owner == "" {
		return push.E(op, push.Invalid, errors.New("alert release needs an owner"))
	}
	_, err = s.meta.Lease(ctx, Claim{Key: key, Owner: owner, State: InProgress, LeaseUntil: now, ExpiresAt: keepUntil}, now)
	if err != nil {
		return wrap(op, err, "release alert %s of app %s", k.Level, k.AppID)
	}
	return nil
}

// MarkAlertSent records that alert k was published; owner must hold its
// lease. The marker is kept until keepUntil. Marking an alert owner
// already marked is not an error.
// Errors: Invalid, PreconditionFailed (ErrLeaseLost), NotFound, Transient, Internal.
func (s *Service) MarkAlertSent(ctx context.Context, k AlertKey, owner string, keepUntil time.Time) error {
	const op = "credential.MarkAlertSent"
	key, err := k.messageKey(op)
	if err != nil {
		return err
	}
	if err := s.meta.Complete(ctx, key, owner, keepUntil); err != nil {
		return wrap(op, err, "mark alert %s of app %s sent", k.Level, k.AppID)
	}
	return nil
}
