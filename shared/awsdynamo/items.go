package awsdynamo

import (
	"net/url"
	"strconv"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// Key layout of the single table (pk, sk):
//
//	app         T#<tenant>                   APP#<id>
//	due marker  T#<tenant>                   DUE#<id>#<platform>   (+ due_pk, due_at: the sparse GSI)
//	audit event E#<tenant>#<app>             EV#<event id>
//	grave       GRAVE                        <secret id>
//	claim       M#<tenant>#<message>#<n>     CLAIM                 (+ ttl)
//	outcome     M#<tenant>#<message>#<n>     OUT#<platform>#<token> (+ ttl)
//
// Tenant, app and message ids are query-escaped, so '#' inside them cannot
// make two keys collide.
const (
	attrPK    = "pk"
	attrSK    = "sk"
	attrDuePK = "due_pk"
	attrDueAt = "due_at"
	attrTTL   = "ttl"
	// attrVersion is the app item's optimistic-locking version.
	attrVersion = "version"
	// attrWriteID marks every item a call of Store.Apply puts with an id
	// unique to that call (see Store.Apply).
	attrWriteID = "write_id"

	// DueIndex is the name of the sparse GSI on (due_pk, due_at).
	DueIndex = "due"
	duePK    = "DUE"
	gravePK  = "GRAVE"
	claimSK  = "CLAIM"
)

func esc(s string) string { return url.QueryEscape(s) }

func tenantPK(tenant string) string           { return "T#" + esc(tenant) }
func appSK(id string) string                  { return "APP#" + id }
func auditPK(tenant, app string) string       { return "E#" + esc(tenant) + "#" + esc(app) }
func eventSK(id string) string                { return "EV#" + id }
func dueSK(id string, p push.Platform) string { return "DUE#" + id + "#" + string(p) }
func messagePK(k credential.MessageKey) string {
	return "M#" + esc(k.Tenant) + "#" + esc(k.MessageID) + "#" + strconv.Itoa(k.Attempt)
}
func outcomeSK(p push.Platform, token string) string { return "OUT#" + string(p) + "#" + token }

type statusItem struct {
	State     string    `dynamodbav:"state"`
	Reason    string    `dynamodbav:"reason,omitempty"`
	Message   string    `dynamodbav:"message,omitempty"`
	CheckedAt time.Time `dynamodbav:"checked_at"`
}

type factsItem struct {
	FingerprintSHA256 string    `dynamodbav:"fingerprint_sha256,omitempty"`
	Subject           string    `dynamodbav:"subject,omitempty"`
	BundleID          string    `dynamodbav:"bundle_id,omitempty"`
	TeamID            string    `dynamodbav:"team_id,omitempty"`
	KeyID             string    `dynamodbav:"key_id,omitempty"`
	Topics            []string  `dynamodbav:"topics,omitempty"`
	Environment       string    `dynamodbav:"environment,omitempty"`
	NotBefore         time.Time `dynamodbav:"not_before"`
	NotAfter          time.Time `dynamodbav:"not_after"`
	ProjectID         string    `dynamodbav:"project_id,omitempty"`
	ClientEmail       string    `dynamodbav:"client_email,omitempty"`
	PrivateKeyID      string    `dynamodbav:"private_key_id,omitempty"`
}

type revisionItem struct {
	Kind  string    `dynamodbav:"kind"`
	Facts factsItem `dynamodbav:"facts"`
}

type metaItem struct {
	Kind              string        `dynamodbav:"kind"`
	Facts             factsItem     `dynamodbav:"facts"`
	Status            statusItem    `dynamodbav:"status"`
	SecretID          string        `dynamodbav:"secret_id"`
	VersionID         string        `dynamodbav:"version_id"`
	PreviousVersionID string        `dynamodbav:"previous_version_id,omitempty"`
	Previous          *revisionItem `dynamodbav:"previous,omitempty"`
	DueAt             int64         `dynamodbav:"due_at,omitempty"` // unix seconds; 0 = not indexed
	RotatedAt         time.Time     `dynamodbav:"rotated_at"`
}

type appItem struct {
	PK          string       `dynamodbav:"pk"`
	SK          string       `dynamodbav:"sk"`
	Tenant      string       `dynamodbav:"tenant"`
	AppID       string       `dynamodbav:"app_id"`
	Name        string       `dynamodbav:"name"`
	Description string       `dynamodbav:"description,omitempty"`
	Enabled     bool         `dynamodbav:"enabled"`
	Environment string       `dynamodbav:"environment"`
	APNs        *metaItem    `dynamodbav:"apns,omitempty"`
	FCM         *metaItem    `dynamodbav:"fcm,omitempty"`
	PendingAPNs *pendingItem `dynamodbav:"pending_apns,omitempty"`
	Version     int64        `dynamodbav:"version"`
	CreatedAt   time.Time    `dynamodbav:"created_at"`
	UpdatedAt   time.Time    `dynamodbav:"updated_at"`
}

// pendingItem is an app's pending APNs key request (no secret material).
type pendingItem struct {
	CSRPEM               string    `dynamodbav:"csr_pem"`
	KeyFingerprintSHA256 string    `dynamodbav:"key_fingerprint_sha256"`
	CommonName           string    `dynamodbav:"common_name,omitempty"`
	Email                string    `dynamodbav:"email,omitempty"`
	SecretID             string    `dynamodbav:"secret_id"`
	VersionID            string    `dynamodbav:"version_id"`
	CreatedAt            time.Time `dynamodbav:"created_at"`
	ExpiresAt            time.Time `dynamodbav:"expires_at"`
}

func toPending(p *credential.PendingKey) *pendingItem {
	if p == nil {
		return nil
	}
	return &pendingItem{
		CSRPEM: p.CSRPEM, KeyFingerprintSHA256: p.KeyFingerprintSHA256, CommonName: p.CommonName, Email: p.Email,
		SecretID: p.Secret.ID, VersionID: p.Secret.VersionID, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt,
	}
}

func fromPending(it *pendingItem) *credential.PendingKey {
	if it == nil {
		return nil
	}
	return &credential.PendingKey{
		CSRPEM: it.CSRPEM, KeyFingerprintSHA256: it.KeyFingerprintSHA256, CommonName: it.CommonName, Email: it.Email,
		Secret: credential.SecretRef{ID: it.SecretID, VersionID: it.VersionID}, CreatedAt: it.CreatedAt, ExpiresAt: it.ExpiresAt,
	}
}

// dueItem is an entry of the sparse due index: only these items carry
// due_pk and due_at.
type dueItem struct {
	PK       string `dynamodbav:"pk"`
	SK       string `dynamodbav:"sk"`
	DuePK    string `dynamodbav:"due_pk"`
	DueAt    int64  `dynamodbav:"due_at"`
	Tenant   string `dynamodbav:"tenant"`
	AppID    string `dynamodbav:"app_id"`
	Platform string `dynamodbav:"platform"`
}

type eventItem struct {
	PK             string    `dynamodbav:"pk"`
	SK             string    `dynamodbav:"sk"`
	ID             string    `dynamodbav:"id"`
	Tenant         string    `dynamodbav:"tenant"`
	AppID          string    `dynamodbav:"app_id"`
	At             time.Time `dynamodbav:"at"`
	Actor          string    `dynamodbav:"actor,omitempty"`
	Action         string    `dynamodbav:"action"`
	Platform       string    `dynamodbav:"platform,omitempty"`
	Version        int64     `dynamodbav:"version,omitempty"`
	OldFingerprint string    `dynamodbav:"old_fingerprint,omitempty"`
	NewFingerprint string    `dynamodbav:"new_fingerprint,omitempty"`
	OldNotAfter    time.Time `dynamodbav:"old_not_after"`
	NewNotAfter    time.Time `dynamodbav:"new_not_after"`
	Result         string    `dynamodbav:"result,omitempty"`
	Message        string    `dynamodbav:"message,omitempty"`
}

type graveItem struct {
	PK       string    `dynamodbav:"pk"`
	SK       string    `dynamodbav:"sk"`
	SecretID string    `dynamodbav:"secret_id"`
	Tenant   string    `dynamodbav:"tenant"`
	AppID    string    `dynamodbav:"app_id"`
	Platform string    `dynamodbav:"platform"`
	At       time.Time `dynamodbav:"at"`
}

type claimItem struct {
	PK         string    `dynamodbav:"pk"`
	SK         string    `dynamodbav:"sk"`
	Tenant     string    `dynamodbav:"tenant"`
	MessageID  string    `dynamodbav:"message_id"`
	Attempt    int       `dynamodbav:"attempt"`
	Owner      string    `dynamodbav:"owner"`
	State      string    `dynamodbav:"state"`
	LeaseUntil int64     `dynamodbav:"lease_until"` // unix nanoseconds
	Leases     int       `dynamodbav:"leases"`
	TTL        int64     `dynamodbav:"ttl"` // unix seconds: DynamoDB TTL
	ExpiresAt  time.Time `dynamodbav:"expires_at"`
}

type outcomeItem struct {
	PK        string       `dynamodbav:"pk"`
	SK        string       `dynamodbav:"sk"`
	Platform  string       `dynamodbav:"platform"`
	Token     string       `dynamodbav:"token"`
	Result    push.Outcome `dynamodbav:"result"`
	Reason    string       `dynamodbav:"reason,omitempty"`
	At        time.Time    `dynamodbav:"at"`
	TTL       int64        `dynamodbav:"ttl"`
	ExpiresAt time.Time    `dynamodbav:"expires_at"`
}

func toFacts(f credential.Facts) factsItem {
	return factsItem{
		FingerprintSHA256: f.FingerprintSHA256, Subject: f.Subject, BundleID: f.BundleID,
		TeamID: f.TeamID, KeyID: f.KeyID, Topics: f.Topics, Environment: f.Environment,
		NotBefore: f.NotBefore, NotAfter: f.NotAfter, ProjectID: f.ProjectID,
		ClientEmail: f.ClientEmail, PrivateKeyID: f.PrivateKeyID,
	}
}

func fromFacts(f factsItem) credential.Facts {
	return credential.Facts{
		FingerprintSHA256: f.FingerprintSHA256, Subject: f.Subject, BundleID: f.BundleID,
		TeamID: f.TeamID, KeyID: f.KeyID, Topics: f.Topics, Environment: f.Environment,
		NotBefore: f.NotBefore, NotAfter: f.NotAfter, ProjectID: f.ProjectID,
		ClientEmail: f.ClientEmail, PrivateKeyID: f.PrivateKeyID,
	}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func toMeta(m *credential.Meta) *metaItem {
	if m == nil {
		return nil
	}
	it := &metaItem{
		Kind: string(m.Kind), Facts: toFacts(m.Facts),
		Status:   statusItem{State: string(m.Status.State), Reason: m.Status.Reason, Message: m.Status.Message, CheckedAt: m.Status.CheckedAt},
		SecretID: m.Secret.ID, VersionID: m.Secret.VersionID, PreviousVersionID: m.Secret.PreviousVersionID,
		DueAt: unixOrZero(m.DueAt), RotatedAt: m.RotatedAt,
	}
	if m.Previous != nil {
		it.Previous = &revisionItem{Kind: string(m.Previous.Kind), Facts: toFacts(m.Previous.Facts)}
	}
	return it
}

func fromMeta(it *metaItem) *credential.Meta {
	if it == nil {
		return nil
	}
	m := &credential.Meta{
		Kind: push.CredentialKind(it.Kind), Facts: fromFacts(it.Facts),
		Status: credential.Status{State: credential.State(it.Status.State), Reason: it.Status.Reason, Message: it.Status.Message, CheckedAt: it.Status.CheckedAt},
		Secret: credential.SecretRef{ID: it.SecretID, VersionID: it.VersionID, PreviousVersionID: it.PreviousVersionID},
		DueAt:  timeOrZero(it.DueAt), RotatedAt: it.RotatedAt,
	}
	if it.Previous != nil {
		m.Previous = &credential.Revision{Kind: push.CredentialKind(it.Previous.Kind), Facts: fromFacts(it.Previous.Facts)}
	}
	return m
}

func toApp(a *credential.App) appItem {
	return appItem{
		PK: tenantPK(a.Tenant), SK: appSK(a.ID), Tenant: a.Tenant, AppID: a.ID,
		Name: a.Name, Description: a.Description, Enabled: a.Enabled, Environment: string(a.Environment),
		APNs: toMeta(a.APNs), FCM: toMeta(a.FCM), PendingAPNs: toPending(a.PendingAPNs), Version: a.Version, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

func fromApp(it appItem) credential.App {
	return credential.App{
		Tenant: it.Tenant, ID: it.AppID, Name: it.Name, Description: it.Description, Enabled: it.Enabled,
		Environment: push.Environment(it.Environment), APNs: fromMeta(it.APNs), FCM: fromMeta(it.FCM),
		PendingAPNs: fromPending(it.PendingAPNs), Version: it.Version, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
}

func toEvent(e credential.Event) eventItem {
	return eventItem{
		PK: auditPK(e.Tenant, e.AppID), SK: eventSK(e.ID), ID: e.ID, Tenant: e.Tenant, AppID: e.AppID,
		At: e.At, Actor: e.Actor, Action: string(e.Action), Platform: string(e.Platform), Version: e.Version,
		OldFingerprint: e.OldFingerprint, NewFingerprint: e.NewFingerprint,
		OldNotAfter: e.OldNotAfter, NewNotAfter: e.NewNotAfter, Result: e.Result, Message: e.Message,
	}
}

func fromEvent(it eventItem) credential.Event {
	return credential.Event{
		ID: it.ID, Tenant: it.Tenant, AppID: it.AppID, At: it.At, Actor: it.Actor,
		Action: credential.Action(it.Action), Platform: push.Platform(it.Platform), Version: it.Version,
		OldFingerprint: it.OldFingerprint, NewFingerprint: it.NewFingerprint,
		OldNotAfter: it.OldNotAfter, NewNotAfter: it.NewNotAfter, Result: it.Result, Message: it.Message,
	}
}

func fromClaim(it claimItem) credential.Claim {
	return credential.Claim{
		Key:   credential.MessageKey{Tenant: it.Tenant, MessageID: it.MessageID, Attempt: it.Attempt},
		Owner: it.Owner, State: credential.ClaimState(it.State), LeaseUntil: time.Unix(0, it.LeaseUntil).UTC(),
		Leases: it.Leases, ExpiresAt: it.ExpiresAt,
	}
}
