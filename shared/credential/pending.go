package credential

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"mobilepush/shared/push"
)

// PendingTTL is how long a signing request waits for Apple's certificate
// before it expires (docs/ARCHITECTURE.md, Certificates without a Mac).
const PendingTTL = 30 * 24 * time.Hour

// The actions of the signing-request flow; the rotation that consumes a
// pending key is an ActionRotate whose Message is FromSigningRequest.
const (
	ActionSigningRequest Action = "signing_request"
	ActionDiscardRequest Action = "discard_signing_request"
)

// FromSigningRequest is the Message of the rotation event of a credential
// made from a signing request.
const FromSigningRequest = "from a signing request"

// PendingKey is the metadata of an app's pending APNs key: a private key
// mobilepush made for a certificate signing request, waiting for Apple's
// certificate. Its secret is a secret of its own, never a version of the
// app's credential secret, so it can never become the current credential
// by accident. It holds no secret material: CSRPEM is the public request.
type PendingKey struct {
	CSRPEM               string    `json:"csr_pem"`
	KeyFingerprintSHA256 string    `json:"key_fingerprint_sha256"` // SHA-256 of the public key's DER (SubjectPublicKeyInfo)
	CommonName           string    `json:"common_name,omitempty"`
	Email                string    `json:"email,omitempty"`
	Secret               SecretRef `json:"secret"`
	CreatedAt            time.Time `json:"created_at"`
	ExpiresAt            time.Time `json:"expires_at"`
}

// Expired reports whether the request is past its ExpiresAt at now.
func (p *PendingKey) Expired(now time.Time) bool { return !now.Before(p.ExpiresAt) }

// SigningRequest is a new pending APNs key for an app: the private key
// (PEM) and the public request made with it.
type SigningRequest struct {
	Tenant               string
	ID                   string
	Key                  push.Redacted // the private key, PEM
	CSRPEM               string
	KeyFingerprintSHA256 string
	CommonName           string
	Email                string
	Actor                string
}

// pendingEnvelope is the stored form of a pending key. It has no kind, so
// DecodeMaterial refuses it: a pending key never reads as a credential.
type pendingEnvelope struct {
	V             int    `json:"v"`
	PendingKeyPEM string `json:"pending_key_pem"`
}

// CreatePending stores r.Key sealed in a secret of its own and records
// the request as the app's pending APNs key, replacing (and burying) any
// pending one. The secret is written before the metadata commit: a
// failure in between leaves the previous pending key, if any, in place
// and no metadata naming the new secret.
// Errors: Invalid, NotFound, TooLarge, Transient, Internal.
func (s *Service) CreatePending(ctx context.Context, r SigningRequest) (PendingKey, error) {
	const op = "credential.CreatePending"
	if err := checkRef(op, r.Tenant, r.ID); err != nil {
		return PendingKey{}, err
	}
	if r.Key.IsZero() || r.CSRPEM == "" || r.KeyFingerprintSHA256 == "" {
		return PendingKey{}, push.Errorf(op, push.Invalid, "a signing request needs its key, request and key fingerprint")
	}
	value, err := json.Marshal(pendingEnvelope{V: 1, PendingKeyPEM: string(r.Key.Reveal())})
	if err != nil {
		return PendingKey{}, push.E(op, push.Internal, errors.New("encode pending key"))
	}
	if len(value) > MaxSecretSize {
		return PendingKey{}, push.Errorf(op, push.TooLarge, "the pending key would be %d bytes, the limit is %d", len(value), MaxSecretSize)
	}
	// Refuse an unknown app before writing a secret nobody would name.
	if _, err := s.Get(ctx, r.Tenant, r.ID); err != nil {
		return PendingKey{}, push.E(op, push.Other, err)
	}
	secretID, versionID, err := s.secrets.CreateSecret(ctx, SecretOwner{Tenant: r.Tenant, AppID: r.ID, Platform: push.APNs, Pending: true}, push.NewRedacted(value))
	if err != nil {
		return PendingKey{}, wrap(op, err, "store pending APNs key of app %s", r.ID)
	}
	var (
		replaced string
		made     PendingKey
	)
	_, err = s.mutate(ctx, op, r.Tenant, r.ID, 0, func(a *App) (edit, error) {
		replaced = ""
		made = PendingKey{
			CSRPEM: r.CSRPEM, KeyFingerprintSHA256: r.KeyFingerprintSHA256, CommonName: r.CommonName, Email: r.Email,
			Secret: SecretRef{ID: secretID, VersionID: versionID}, CreatedAt: a.UpdatedAt, ExpiresAt: a.UpdatedAt.Add(PendingTTL),
		}
		var graves []Grave
		if old := a.PendingAPNs; old != nil {
			replaced = old.Secret.ID
			graves = append(graves, Grave{SecretID: replaced, Tenant: r.Tenant, AppID: r.ID, Platform: push.APNs, At: a.UpdatedAt})
		}
		p := made
		a.PendingAPNs = &p
		ev := s.event(a, ActionSigningRequest, push.APNs, r.Actor, nil, nil)
		ev.NewFingerprint = r.KeyFingerprintSHA256
		ev.Message = "A signing request was made; its key waits for Apple's certificate until " + made.ExpiresAt.Format("2006-01-02") + "."
		return edit{events: []Event{ev}, bury: graves}, nil
	})
	if err != nil {
		if rejected(err) {
			s.discard(ctx, []string{secretID})
		}
		return PendingKey{}, err
	}
	if replaced != "" {
		s.bury(ctx, replaced)
	}
	return made, nil
}

// Pending returns the app's pending APNs key request (never the key).
// Errors: Invalid, NotFound (no app, or no pending request: none was
// made, it was consumed or discarded, or it expired), Transient, Internal.
func (s *Service) Pending(ctx context.Context, tenant, id string) (PendingKey, error) {
	const op = "credential.Pending"
	a, err := s.Get(ctx, tenant, id)
	if err != nil {
		return PendingKey{}, push.E(op, push.Other, err)
	}
	return s.livePending(op, &a)
}

func (s *Service) livePending(op string, a *App) (PendingKey, error) {
	p := a.PendingAPNs
	if p == nil || p.Expired(s.now()) {
		return PendingKey{}, push.Errorf(op, push.NotFound, "app %s has no pending signing request", a.ID)
	}
	return *p, nil
}

// PendingPrivateKey returns the app's pending APNs key request and its
// private key (PEM), to pair it with Apple's certificate.
// Errors: Invalid, NotFound (as Pending, or the key's secret is gone),
// Transient, Internal.
func (s *Service) PendingPrivateKey(ctx context.Context, tenant, id string) (PendingKey, push.Redacted, error) {
	const op = "credential.PendingPrivateKey"
	p, err := s.Pending(ctx, tenant, id)
	if err != nil {
		return PendingKey{}, push.Redacted{}, push.E(op, push.Other, err)
	}
	v, err := s.secrets.ReadVersion(ctx, p.Secret.ID, p.Secret.VersionID)
	if err != nil {
		return PendingKey{}, push.Redacted{}, wrap(op, err, "read pending APNs key of app %s", id)
	}
	var e pendingEnvelope
	// json errors may quote a byte of the input: never pass them on.
	if err := json.Unmarshal(v.Reveal(), &e); err != nil || e.V != 1 || e.PendingKeyPEM == "" {
		return PendingKey{}, push.Redacted{}, push.E(op, push.Internal, errors.New("stored pending key is not a version-1 pending key envelope"))
	}
	return p, push.NewRedacted([]byte(e.PendingKeyPEM)), nil
}

// DiscardPending drops the app's pending APNs key; its secret is buried
// in the same commit and then scheduled for deletion. An expired request
// is cleaned up the same way, but still answers NotFound.
// Errors: Invalid, NotFound (no app or no pending request), Transient,
// Internal.
func (s *Service) DiscardPending(ctx context.Context, tenant, id, actor string) error {
	const op = "credential.DiscardPending"
	if err := checkRef(op, tenant, id); err != nil {
		return err
	}
	var (
		secretID string
		expired  bool
	)
	_, err := s.mutate(ctx, op, tenant, id, 0, func(a *App) (edit, error) {
		p := a.PendingAPNs
		if p == nil {
			return edit{}, push.Errorf(op, push.NotFound, "app %s has no pending signing request", id)
		}
		secretID, expired = p.Secret.ID, p.Expired(a.UpdatedAt)
		a.PendingAPNs = nil
		ev := s.event(a, ActionDiscardRequest, push.APNs, actor, nil, nil)
		ev.OldFingerprint = p.KeyFingerprintSHA256
		if expired {
			ev.Message = "The expired signing request was removed."
		}
		g := Grave{SecretID: secretID, Tenant: tenant, AppID: id, Platform: push.APNs, At: a.UpdatedAt}
		return edit{events: []Event{ev}, bury: []Grave{g}}, nil
	})
	if err != nil {
		return err
	}
	s.bury(ctx, secretID)
	if expired {
		return push.Errorf(op, push.NotFound, "app %s has no pending signing request", id)
	}
	return nil
}

// consumePending is the part of a rotation from a signing request that
// happens inside its commit: the pending key the caller paired must still
// be the app's, and it is removed and buried with the new credential.
func (s *Service) consumePending(op string, a *App, want SecretRef, now time.Time) (Grave, error) {
	p := a.PendingAPNs
	if p == nil || p.Secret != want || p.Expired(now) {
		return Grave{}, push.E(op, push.Conflict, ErrStaleCredential).WithMsg("the signing request of app %s changed meanwhile; upload the certificate of the current request", a.ID)
	}
	a.PendingAPNs = nil
	return Grave{SecretID: p.Secret.ID, Tenant: a.Tenant, AppID: a.ID, Platform: push.APNs, At: now}, nil
}
