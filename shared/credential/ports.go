package credential

import (
	"context"
	"errors"
	"time"

	"mobilepush/shared/push"
)

// Sentinel errors the stores and the Service wrap (inside a *push.Error
// that carries the Kind); branch on them with errors.Is.
var (
	ErrAppExists       = errors.New("app already exists")                            // Conflict
	ErrVersionMismatch = errors.New("app version changed")                           // PreconditionFailed
	ErrLeaseHeld       = errors.New("message is leased by another worker")           // Conflict
	ErrMessageDone     = errors.New("message is already complete")                   // Conflict
	ErrLeaseLost       = errors.New("lease on message is no longer held")            // PreconditionFailed
	ErrOutcomeRecorded = errors.New("an outcome is already recorded for this token") // Conflict
	ErrStaleCredential = errors.New("credential version changed")                    // Conflict
	ErrContention      = errors.New("concurrent write to the same item, retry")      // Transient
)

// Change is one atomic write of an app: the new state, the version the
// stored app must have, the audit events describing the change, and the
// secrets to bury (see Grave). A store applies all of it or none of it.
type Change struct {
	Tenant string
	AppID  string
	// App is the new state (its Version already incremented); nil deletes
	// the app.
	App *App
	// Expect is the version the stored app must have; 0 means the app must
	// not exist yet (create).
	Expect int64
	Events []Event // at most 3
	Bury   []Grave // at most 3
}

// AppStore keeps apps. Stores derive the expiry index from each app's
// Meta.DueAt (an entry per platform with a non-zero DueAt) in the same
// atomic write.
type AppStore interface {
	// App returns the app (tenant, id).
	// Errors: NotFound (also for another tenant's app), Transient, Internal.
	App(ctx context.Context, tenant, id string) (App, error)

	// Apps returns at most limit apps of tenant whose ID sorts after
	// after ("" = from the start), ordered by ID.
	// Errors: Transient, Internal.
	Apps(ctx context.Context, tenant, after string, limit int) ([]App, error)

	// Apply writes c atomically. Expect 0 creates: Conflict (ErrAppExists)
	// when the app exists. Otherwise NotFound when it does not, and
	// PreconditionFailed (ErrVersionMismatch) when its version is not
	// c.Expect. A store that detects a concurrent write to the same item
	// without knowing the outcome returns Transient wrapping ErrContention.
	// Errors: Conflict, NotFound, PreconditionFailed, Transient, Internal.
	Apply(ctx context.Context, c Change) error
}

// AuditLog keeps the audit trail of apps. Events outlive the app they
// describe.
type AuditLog interface {
	// AppendEvent adds e to the trail of (e.Tenant, e.AppID); e.ID is set.
	// Errors: Conflict (an event with that ID exists), Transient, Internal.
	AppendEvent(ctx context.Context, e Event) error

	// Events returns at most limit events of (tenant, appID) with an ID
	// below before ("" = from the newest), newest first.
	// Errors: Transient, Internal.
	Events(ctx context.Context, tenant, appID, before string, limit int) ([]Event, error)
}

// DueIndex answers the expiry checker's one question without a scan.
type DueIndex interface {
	// Due returns at most limit index entries with DueAt <= now, across
	// tenants, oldest DueAt first. It reads only the index.
	// Errors: Transient, Internal.
	Due(ctx context.Context, now time.Time, limit int) ([]Due, error)
}

// Graveyard lists the secrets buried by a Change whose deletion is not
// yet scheduled.
type Graveyard interface {
	// Graves returns at most limit graves, in no particular order.
	// Errors: Transient, Internal.
	Graves(ctx context.Context, limit int) ([]Grave, error)

	// Unbury removes the grave of secretID; removing a missing grave is
	// not an error.
	// Errors: Transient, Internal.
	Unbury(ctx context.Context, secretID string) error
}

// Ledger keeps send-message claims and per-token outcome ledgers. Every
// entry carries ExpiresAt (the store's TTL); an expired entry reads as
// absent.
type Ledger interface {
	// Lease claims the message c.Key for c.Owner until c.LeaseUntil: when
	// no claim exists, when the existing one is c.Owner's, or when its
	// lease ended before now (a take-over; Attempts counts the leases).
	// It returns the stored claim.
	// Errors: Conflict (ErrLeaseHeld: another owner's lease is live;
	// ErrMessageDone: the message is complete), Transient, Internal.
	Lease(ctx context.Context, c Claim, now time.Time) (Claim, error)

	// Record adds the outcome of one token, if and only if owner holds a
	// live lease on key and no outcome is recorded for the token.
	// Errors: PreconditionFailed (ErrLeaseLost), Conflict
	// (ErrOutcomeRecorded), Transient, Internal.
	Record(ctx context.Context, key MessageKey, owner string, o Outcome, now time.Time) error

	// RecordAll adds the outcomes of several tokens of key, each under the
	// rules of Record, in as few writes as the store can: an outcome whose
	// token already has one is refused without failing the others, and so
	// is a token given again later in outs (the first stands). It returns one
	// error per outcome, in the order of outs: nil when that outcome is
	// recorded, else the error Record would have returned for it (a
	// failure of the whole call is repeated for every outcome it left
	// unrecorded).
	// Errors (per outcome): PreconditionFailed (ErrLeaseLost), Conflict
	// (ErrOutcomeRecorded), Transient, Internal.
	RecordAll(ctx context.Context, key MessageKey, owner string, outs []Outcome, now time.Time) []error

	// Outcomes returns every outcome recorded for key, in no particular
	// order (none: an empty slice).
	// Errors: Transient, Internal.
	Outcomes(ctx context.Context, key MessageKey) ([]Outcome, error)

	// Complete marks the message done, if owner still holds its claim;
	// completing a message owner already completed is not an error.
	// Errors: PreconditionFailed (ErrLeaseLost), NotFound, Transient, Internal.
	Complete(ctx context.Context, key MessageKey, owner string, expiresAt time.Time) error

	// Claim returns the claim of key.
	// Errors: NotFound, Transient, Internal.
	Claim(ctx context.Context, key MessageKey) (Claim, error)
}

// MetadataStore is everything the Service keeps besides secret values:
// in AWS one DynamoDB table, locally one bbolt file.
type MetadataStore interface {
	AppStore
	AuditLog
	DueIndex
	Graveyard
	Ledger
}

// SecretOwner names the platform credential a secret belongs to; stores
// use it for the secret's name and tags.
type SecretOwner struct {
	Tenant   string
	AppID    string
	Platform push.Platform
	// Pending marks the secret of a pending key (a signing request's
	// private key), which is never a credential in use.
	Pending bool
}

// SecretStore keeps secret values, versioned. Values are opaque bytes
// (Material.Encode) of at most MaxSecretSize bytes. Versions are read by
// VersionID only, never by stage.
type SecretStore interface {
	// CreateSecret makes a new secret for owner whose first version holds
	// value, and returns the secret's ID and that version's ID. Every call
	// makes a new secret (its name ends with a random id).
	// Errors: TooLarge, Transient, Internal.
	CreateSecret(ctx context.Context, owner SecretOwner, value push.Redacted) (id, versionID string, err error)

	// PutVersion adds value as a new version of secret id under the
	// store's pending stage; the current version stays current.
	// Errors: NotFound, TooLarge, Transient, Internal.
	PutVersion(ctx context.Context, id string, value push.Redacted) (versionID string, err error)

	// ReadVersion returns the value of version versionID of secret id.
	// Errors: NotFound (no such secret or version, or the secret is
	// scheduled for deletion), Transient, Internal.
	ReadVersion(ctx context.Context, id, versionID string) (push.Redacted, error)

	// Promote makes versionID the current version of secret id (the one
	// it replaces becomes the previous). Promoting the current version is
	// not an error.
	// Errors: NotFound, Transient, Internal.
	Promote(ctx context.Context, id, versionID string) error

	// ScheduleDeletion schedules secret id for deletion after the store's
	// recovery window. A missing or already scheduled secret is not an
	// error.
	// Errors: Transient, Internal.
	ScheduleDeletion(ctx context.Context, id string) error
}
