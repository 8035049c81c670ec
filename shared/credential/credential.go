// Package credential is the credential store of mobilepush: apps, the
// metadata of their push credentials (one per platform), the secret
// material behind them, the audit trail, and the send-message claims and
// outcome ledgers the sender keeps (docs/ARCHITECTURE.md, Data model; Credential states).
//
// The package is the domain: it imports only the standard library and
// mobilepush/shared/push. It declares the ports it needs (MetadataStore,
// SecretStore and their parts in ports.go) and a Service that implements
// every operation on top of them. Adapters (awsdynamo, awssecrets,
// boltstore) implement the ports; credentialtest is the conformance suite
// every adapter must pass.
//
// Invariants the Service keeps:
//   - The secret VersionID recorded in the metadata is the only truth about
//     which secret version is in use; secrets are read by VersionID only.
//   - Every metadata write is conditional on the app's version (optimistic
//     locking): an update is applied or rejected, never lost.
//   - A rotation writes the new secret version first (under a stage of the
//     store's own), then commits the metadata, then promotes the version.
//     A failure at any step leaves the previous credential in use.
//   - Every change to an app is written together with its audit event.
//   - Secret material lives in push.Redacted and never appears in an error
//     string or a log line.
package credential

import (
	"time"

	"mobilepush/shared/push"
)

// State is the health of a platform credential (docs/ARCHITECTURE.md, Credential states).
type State string

// The credential states.
const (
	Unconfigured State = "unconfigured" // no credential for the platform
	OK           State = "ok"           // checked and usable
	Expiring     State = "expiring"     // usable, a warning threshold was crossed
	Expired      State = "expired"      // the certificate's not_after has passed
	Invalid      State = "invalid"      // a live check rejected the stored credential
	Suspended    State = "suspended"    // sending hit a credential fault; resumes after re-validation
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case Unconfigured, OK, Expiring, Expired, Invalid, Suspended:
		return true
	}
	return false
}

// Status is a platform credential's state with the reason code and human
// message that explain it, and when it was last checked.
type Status struct {
	State     State     `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Message   string    `json:"message,omitempty"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Facts are the non-secret facts inspection found in a credential
// (docs/ARCHITECTURE.md, Inspection). Fields that do not apply to the kind are empty.
type Facts struct {
	FingerprintSHA256 string    `json:"fingerprint_sha256,omitempty"`
	Subject           string    `json:"subject,omitempty"`
	BundleID          string    `json:"bundle_id,omitempty"`
	TeamID            string    `json:"team_id,omitempty"`
	KeyID             string    `json:"key_id,omitempty"`
	Topics            []string  `json:"topics,omitempty"`
	Environment       string    `json:"environment,omitempty"` // sandbox | production | both
	NotBefore         time.Time `json:"not_before,omitzero"`
	NotAfter          time.Time `json:"not_after,omitzero"`
	ProjectID         string    `json:"project_id,omitempty"`
	ClientEmail       string    `json:"client_email,omitempty"`
	PrivateKeyID      string    `json:"private_key_id,omitempty"`
}

// SecretRef locates the secret material of a platform credential: the
// secret (an id or ARN chosen by the SecretStore), the version in use and
// the version a rollback restores.
type SecretRef struct {
	ID                string `json:"id"`
	VersionID         string `json:"version_id"`
	PreviousVersionID string `json:"previous_version_id,omitempty"`
}

// Revision is what a rollback restores besides the secret version: the
// kind and facts of the previous credential.
type Revision struct {
	Kind  push.CredentialKind `json:"kind"`
	Facts Facts               `json:"facts"`
}

// Meta is the metadata of one platform's credential on an app: its kind,
// facts, status, where its secret is, and when the expiry checker is due
// to look at it.
type Meta struct {
	Kind      push.CredentialKind `json:"kind"`
	Facts     Facts               `json:"facts"`
	Status    Status              `json:"status"`
	Secret    SecretRef           `json:"secret"`
	Previous  *Revision           `json:"previous,omitempty"` // nil when there is nothing to roll back to
	DueAt     time.Time           `json:"due_at,omitzero"`    // zero: not in the expiry index
	RotatedAt time.Time           `json:"rotated_at,omitzero"`
}

// App is a registered mobile app of a tenant and the metadata of its push
// credentials. It never holds secret material.
type App struct {
	Tenant      string           `json:"tenant"`
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Enabled     bool             `json:"enabled"`
	Environment push.Environment `json:"environment"`
	APNs        *Meta            `json:"apns,omitempty"`
	FCM         *Meta            `json:"fcm,omitempty"`
	// PendingAPNs is the signing request waiting for Apple's certificate
	// (see PendingKey), nil when none was made; an expired one may linger
	// until it is replaced, discarded or the app is deleted.
	PendingAPNs *PendingKey `json:"pending_apns,omitempty"`
	Version     int64       `json:"version"` // starts at 1; +1 on every change
	CreatedAt   time.Time   `json:"created_at"`
	UpdatedAt   time.Time   `json:"updated_at"`
}

// Meta returns the credential metadata of platform p, or nil when the app
// has none.
func (a *App) Meta(p push.Platform) *Meta {
	switch p {
	case push.APNs:
		return a.APNs
	case push.FCM:
		return a.FCM
	}
	return nil
}

// setMeta replaces the metadata of platform p (nil removes it).
func (a *App) setMeta(p push.Platform, m *Meta) {
	switch p {
	case push.APNs:
		a.APNs = m
	case push.FCM:
		a.FCM = m
	}
}

// Status returns the status of platform p: Unconfigured when the app has
// no credential for it.
func (a *App) Status(p push.Platform) Status {
	if m := a.Meta(p); m != nil {
		return m.Status
	}
	return Status{State: Unconfigured}
}

// Clone returns a deep copy of a, so that a caller may change it without
// touching a cached or shared value.
func (a App) Clone() App {
	a.APNs = a.APNs.clone()
	a.FCM = a.FCM.clone()
	if a.PendingAPNs != nil {
		p := *a.PendingAPNs
		a.PendingAPNs = &p
	}
	return a
}

func (m *Meta) clone() *Meta {
	if m == nil {
		return nil
	}
	c := *m
	c.Facts.Topics = append([]string(nil), m.Facts.Topics...)
	if m.Previous != nil {
		p := *m.Previous
		p.Facts.Topics = append([]string(nil), m.Previous.Facts.Topics...)
		c.Previous = &p
	}
	return &c
}

// Due is an entry of the expiry index: a platform credential whose next
// check is due at DueAt.
type Due struct {
	Tenant   string        `json:"tenant"`
	AppID    string        `json:"app_id"`
	Platform push.Platform `json:"platform"`
	DueAt    time.Time     `json:"due_at"`
}

// Grave records a secret whose metadata is gone and whose deletion must
// still be scheduled. It is written in the same atomic change that drops
// the metadata, so a crash never orphans the secret: Service.Sweep
// finishes the job.
type Grave struct {
	SecretID string        `json:"secret_id"`
	Tenant   string        `json:"tenant"`
	AppID    string        `json:"app_id"`
	Platform push.Platform `json:"platform"`
	At       time.Time     `json:"at"`
}

// Action names what an audit event records.
type Action string

// The actions the Service records; callers may record others with
// Service.AppendAudit (e.g. "validate", "test_push").
const (
	ActionCreate   Action = "create"
	ActionUpdate   Action = "update"
	ActionRotate   Action = "rotate"
	ActionRollback Action = "rollback"
	ActionRemove   Action = "remove_platform"
	ActionDelete   Action = "delete"
	ActionStatus   Action = "status"
)

// Event is one entry of an app's audit trail: who changed what and when,
// the old and new fingerprint and expiry, and the result.
type Event struct {
	ID             string        `json:"id"` // sortable: newer events have greater IDs
	Tenant         string        `json:"tenant"`
	AppID          string        `json:"app_id"`
	At             time.Time     `json:"at"`
	Actor          string        `json:"actor,omitempty"`
	Action         Action        `json:"action"`
	Platform       push.Platform `json:"platform,omitempty"`
	Version        int64         `json:"version,omitempty"` // the app version the change produced
	OldFingerprint string        `json:"old_fingerprint,omitempty"`
	NewFingerprint string        `json:"new_fingerprint,omitempty"`
	OldNotAfter    time.Time     `json:"old_not_after,omitzero"`
	NewNotAfter    time.Time     `json:"new_not_after,omitzero"`
	Result         string        `json:"result,omitempty"`
	Message        string        `json:"message,omitempty"`
}

// Page asks for one page of a listing: an opaque Cursor from the previous
// page ("" for the first) and at most Limit entries (0 = DefaultPageLimit).
type Page struct {
	Cursor string
	Limit  int
}

// Paging limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// AppPage is one page of apps, ordered by ID; Next is the cursor of the
// following page, "" when this is the last.
type AppPage struct {
	Apps []App
	Next string
}

// EventPage is one page of audit events, newest first; Next is the cursor
// of the following (older) page, "" when this is the last.
type EventPage struct {
	Events []Event
	Next   string
}
