package credential

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"mobilepush/shared/push"
)

// MaxSecretSize is the largest sealed secret value a SecretStore accepts:
// Secrets Manager's limit of 65,536 bytes per secret value.
const MaxSecretSize = 65536

// Material is the normalized secret material of a platform credential:
//   - APNsP12: the certificate chain (leaf first) and its private key, both PEM;
//   - APNsP8: the .p8 key (PEM) with its key id and team id;
//   - FCMJSON: the service-account JSON.
//
// The .p12 password is never part of it: nothing needs it after the upload.
// The secret parts are push.Redacted, so printing a Material never shows them.
type Material struct {
	Kind                push.CredentialKind
	CertificateChainPEM push.Redacted // APNsP12
	PrivateKeyPEM       push.Redacted // APNsP12, APNsP8
	KeyID               string        // APNsP8 (not secret)
	TeamID              string        // APNsP8 (not secret)
	ServiceAccountJSON  push.Redacted // FCMJSON
}

// Validate reports, as an Invalid error, a Material that lacks a part its
// kind needs or carries a part its kind does not use.
func (m Material) Validate() error {
	const op = "credential.Material.Validate"
	has := func(r push.Redacted) bool { return !r.IsZero() }
	var problem string
	switch m.Kind {
	case push.APNsP12:
		switch {
		case !has(m.CertificateChainPEM) || !has(m.PrivateKeyPEM):
			problem = "apns_p12 material needs the certificate chain and the private key"
		case has(m.ServiceAccountJSON) || m.KeyID != "" || m.TeamID != "":
			problem = "apns_p12 material carries parts of another kind"
		}
	case push.APNsP8:
		switch {
		case !has(m.PrivateKeyPEM) || m.KeyID == "" || m.TeamID == "":
			problem = "apns_p8 material needs the key, the key id and the team id"
		case has(m.CertificateChainPEM) || has(m.ServiceAccountJSON):
			problem = "apns_p8 material carries parts of another kind"
		}
	case push.FCMJSON:
		switch {
		case !has(m.ServiceAccountJSON):
			problem = "fcm_json material needs the service-account JSON"
		case has(m.CertificateChainPEM) || has(m.PrivateKeyPEM) || m.KeyID != "" || m.TeamID != "":
			problem = "fcm_json material carries parts of another kind"
		}
	default:
		problem = fmt.Sprintf("unknown credential kind %q", m.Kind)
	}
	if problem != "" {
		return push.Errorf(op, push.Invalid, "%s", problem)
	}
	return nil
}

// Equal reports whether m and o hold the same kind and bytes.
func (m Material) Equal(o Material) bool {
	eq := func(a, b push.Redacted) bool { return bytes.Equal(a.Reveal(), b.Reveal()) }
	return m.Kind == o.Kind && m.KeyID == o.KeyID && m.TeamID == o.TeamID &&
		eq(m.CertificateChainPEM, o.CertificateChainPEM) && eq(m.PrivateKeyPEM, o.PrivateKeyPEM) &&
		eq(m.ServiceAccountJSON, o.ServiceAccountJSON)
}

// envelope is the stored form of a Material: versioned JSON text.
type envelope struct {
	V                   int                 `json:"v"`
	Kind                push.CredentialKind `json:"kind"`
	CertificateChainPEM string              `json:"certificate_chain_pem,omitempty"`
	PrivateKeyPEM       string              `json:"private_key_pem,omitempty"`
	KeyID               string              `json:"key_id,omitempty"`
	TeamID              string              `json:"team_id,omitempty"`
	ServiceAccountJSON  string              `json:"service_account_json,omitempty"`
}

// Encode returns the value a SecretStore keeps for m. It fails with
// Invalid for a Material that does not Validate and with TooLarge when the
// value would exceed MaxSecretSize.
func (m Material) Encode() (push.Redacted, error) {
	const op = "credential.Material.Encode"
	if err := m.Validate(); err != nil {
		return push.Redacted{}, push.E(op, push.Other, err)
	}
	b, err := json.Marshal(envelope{
		V:                   1,
		Kind:                m.Kind,
		CertificateChainPEM: string(m.CertificateChainPEM.Reveal()),
		PrivateKeyPEM:       string(m.PrivateKeyPEM.Reveal()),
		KeyID:               m.KeyID,
		TeamID:              m.TeamID,
		ServiceAccountJSON:  string(m.ServiceAccountJSON.Reveal()),
	})
	if err != nil {
		// json.Marshal of strings cannot fail; do not echo anything of m.
		return push.Redacted{}, push.E(op, push.Internal, errors.New("encode material"))
	}
	if len(b) > MaxSecretSize {
		return push.Redacted{}, push.Errorf(op, push.TooLarge, "the stored credential would be %d bytes, the limit is %d", len(b), MaxSecretSize)
	}
	return push.NewRedacted(b), nil
}

// DecodeMaterial parses a value made by Material.Encode. A value that does
// not parse is Internal (stored data is corrupt); the error never quotes
// the value.
func DecodeMaterial(v push.Redacted) (Material, error) {
	const op = "credential.DecodeMaterial"
	var e envelope
	// json errors may quote a byte of the input: never pass them on.
	if err := json.Unmarshal(v.Reveal(), &e); err != nil || e.V != 1 {
		return Material{}, push.E(op, push.Internal, errors.New("stored secret value is not a version-1 material envelope"))
	}
	red := func(s string) push.Redacted {
		if s == "" {
			return push.Redacted{}
		}
		return push.NewRedacted([]byte(s))
	}
	m := Material{
		Kind:                e.Kind,
		CertificateChainPEM: red(e.CertificateChainPEM),
		PrivateKeyPEM:       red(e.PrivateKeyPEM),
		KeyID:               e.KeyID,
		TeamID:              e.TeamID,
		ServiceAccountJSON:  red(e.ServiceAccountJSON),
	}
	if err := m.Validate(); err != nil {
		return Material{}, push.E(op, push.Internal, errors.New("stored secret value is not valid material"))
	}
	return m, nil
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
	m, err := a.stored(op, p)
	if err != nil {
		return Material{}, err
	}
	ver := m.Secret.VersionID
	if previous {
		ver = m.Secret.PreviousVersionID
		if ver == "" {
			return Material{}, push.Errorf(op, push.NotFound, "app %s has no previous %s credential", id, p)
		}
	}
	mat, err := s.MaterialVersion(ctx, m.Secret.ID, ver)
	if push.Is(err, push.NotFound) {
		// The metadata names a secret (version) the store no longer has:
		// deleted outside mobilepush, or purged.
		return Material{}, push.E(op, push.NotFound, fmt.Errorf("%s credential of app %s: %w", p, id, err)).
			WithMsg("the %s credential of app %s is missing from the secret store; upload it again", p, id)
	}
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
