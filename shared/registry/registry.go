// Package registry is the admin use cases (docs/ARCHITECTURE.md, Credential lifecycle):
// register apps, upload and rotate their push credentials, roll back,
// re-validate, send a test push, and read the audit trail. Every upload is
// inspected offline (certinfo) and then proven live against Apple or
// Google (a Prover) before anything is stored; a rejected upload changes
// nothing. It is the one place where those rules live: the HTTP API, the
// Lambda functions and the local server all call it.
package registry

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// Prover proves a credential against the provider without a visible push
// (docs/ARCHITECTURE.md, Live check). topic is the APNs topic (the bundle id); env selects the
// APNs gateway and is ignored for FCM. It never returns secret material.
type Prover interface {
	Prove(ctx context.Context, m credential.Material, env push.Environment, topic string) push.LiveResult
}

// TestPusher sends one real notification for POST /v1/apps/{id}/test-push
// through the same clients the sender uses (clientpool).
type TestPusher interface {
	TestPush(ctx context.Context, m credential.Material, env push.Environment, topic string, msg TestMessage) (Answer, error)
}

// TestMessage is the notification of a test push.
type TestMessage struct {
	Token string
	Title string
	Body  string
}

// Answer is a provider's answer to one push: the HTTP status, its reason
// or error code, and the provider's message id.
type Answer struct {
	Platform  push.Platform `json:"platform"`
	Status    int           `json:"status"`
	Reason    string        `json:"reason,omitempty"`
	MessageID string        `json:"message_id,omitempty"`
	Delivered bool          `json:"delivered"`
}

// Service implements the use cases. Store, Inspector and Prover are
// required; Pusher is needed only for TestPush; Events, when set, receives
// "Push Credential Rotated" on every rotation and rollback.
type Service struct {
	Store     *credential.Service
	Inspector *certinfo.Inspector
	Prover    Prover
	Pusher    TestPusher
	Events    alert.Publisher
	// Thresholds are the expiry checker's alert thresholds in days (nil:
	// push.DefaultThresholds): a new certificate is first due when the
	// highest is crossed.
	Thresholds []int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Inspections bounds the offline inspections run at once (0:
	// DefaultInspections()); more wait for a slot.
	Inspections int

	inspectOnce sync.Once
	inspect     *inspections
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Principal is who calls: the tenant whose apps they may see and the
// subject recorded as the actor of audit events.
type Principal struct {
	Tenant  string
	Subject string
}

// APNsUpload is an APNs credential as uploaded: a .p12 with its password
// (HasPassword false means none was given; an empty password given is a
// password), a PEM bundle (certificate and key; Password decrypts an
// encrypted key), Apple's certificate (.cer) made from the app's pending
// signing request, or a .p8 with its key id and team id. BundleID is
// required for all: it is the topic pushes are sent to.
type APNsUpload struct {
	BundleID    string
	P12         []byte
	Password    push.Redacted
	HasPassword bool
	PEM         []byte
	Cer         []byte
	P8          []byte
	KeyID       string
	TeamID      string
}

// formats names the credential files of up that are set.
func (up *APNsUpload) formats() []string {
	var f []string
	for _, x := range []struct {
		name string
		b    []byte
	}{{"p12", up.P12}, {"pem", up.PEM}, {"cer", up.Cer}, {"p8", up.P8}} {
		if len(x.b) > 0 {
			f = append(f, x.name)
		}
	}
	return f
}

// FCMUpload is a Firebase service-account key as uploaded.
type FCMUpload struct {
	ServiceAccountJSON []byte
}

// Rejection is the error of an upload that failed the offline or the live
// check: the full report and, when it got that far, the live result. It
// never holds secret material.
type Rejection struct {
	Platform push.Platform
	Report   *certinfo.Report
	Live     *push.LiveResult
}

// Code is the rejection's stable code: the report's code, else the live code.
func (r *Rejection) Code() string {
	if r.Report != nil && !r.Report.OK {
		return string(r.Report.Code)
	}
	if r.Live != nil {
		return string(r.Live.Code)
	}
	return "rejected"
}

// Message says what is wrong and how to fix it.
func (r *Rejection) Message() string {
	if r.Report != nil && !r.Report.OK {
		for _, c := range r.Report.Checks {
			if !c.OK {
				return c.Message
			}
		}
	}
	if r.Live != nil {
		return r.Live.Message
	}
	return "the credential was rejected"
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("%s credential rejected: %s", r.Platform, r.Code())
}

func reject(op string, rej *Rejection) error {
	return &push.Error{Op: op, Kind: push.Unprocessable, Code: rej.Code(), Msg: rej.Message(), Err: rej}
}

// Checked is the outcome of checking one upload: the report, the live
// result, and the warnings an administrator should see.
type Checked struct {
	Platform push.Platform    `json:"platform"`
	Report   *certinfo.Report `json:"report"`
	Live     push.LiveResult  `json:"live"`
	upload   credential.Upload
	// fromPending names the pending key a .cer was paired with.
	fromPending *credential.SecretRef
}

// Warnings returns the report's warnings plus an unreachable provider.
func (c *Checked) Warnings() []certinfo.Warning {
	w := append([]certinfo.Warning(nil), c.Report.Warnings...)
	if c.Live.Code == push.LiveUnreachable {
		w = append(w, certinfo.Warning{Code: certinfo.Code(push.LiveUnreachable), Message: c.Live.Message})
	}
	return w
}

// checkAPNs inspects an APNs upload offline, then live on env. A .cer is
// paired with pending, the app's pending signing request (nil: none).
func (s *Service) checkAPNs(ctx context.Context, op string, up *APNsUpload, env push.Environment, pending *pendingPair) (*Checked, error) {
	formats := up.formats()
	switch {
	case up.BundleID == "":
		return nil, push.Errorf(op, push.Invalid, "apns.bundle_id is required")
	case !validBundleID(up.BundleID):
		// It becomes the apns-topic header of the live check and of
		// every push: refused before any connection sees it.
		return nil, push.Errorf(op, push.Invalid, "apns.bundle_id: at most %d letters, digits, '-' and '.' (e.g. com.example.app)", maxBundleID)
	case len(formats) > 1:
		return nil, push.Errorf(op, push.Invalid, "apns: give one of p12, pem, cer or p8, not %s", strings.Join(formats, " and "))
	case len(up.P12) > 0 && !up.HasPassword:
		return nil, push.Errorf(op, push.Invalid, "apns.password is required with a .p12 (send \"\" for an empty password)")
	case len(up.Cer) > 0 && pending == nil:
		return nil, noPendingRequest(op, "")
	case len(formats) == 0:
		return nil, push.Errorf(op, push.Invalid, "apns: give p12 (with password), pem, cer (after a signing request) or p8 (with key_id and team_id)")
	}
	r, err := s.inspected(ctx, op, func(in *certinfo.Inspector) *certinfo.Report {
		switch {
		case len(up.P12) > 0:
			return in.P12(up.P12, certinfo.P12Request{Password: string(up.Password.Reveal()), BundleID: up.BundleID, Environment: env})
		case len(up.PEM) > 0:
			return in.PEMBundle(up.PEM, certinfo.P12Request{Password: string(up.Password.Reveal()), BundleID: up.BundleID, Environment: env})
		case len(up.Cer) > 0:
			return in.Cer(up.Cer, certinfo.CerRequest{Key: pending.key, RequestedAt: pending.meta.CreatedAt, BundleID: up.BundleID, Environment: env})
		}
		r := in.P8(up.P8, certinfo.P8Request{KeyID: up.KeyID, TeamID: up.TeamID})
		r.RequestedBundleID = up.BundleID
		return r
	})
	if err != nil {
		return nil, err
	}
	c, err := s.prove(ctx, op, push.APNs, r, liveEnvironment(env, r), up.BundleID)
	if err == nil && len(up.Cer) > 0 {
		ref := pending.meta.Secret
		c.fromPending = &ref
	}
	return c, err
}

// maxBundleID is Apple's limit on a bundle id (CFBundleIdentifier), with
// room for a topic suffix such as ".complication".
const maxBundleID = 155 + len(".complication")

// validBundleID reports whether id has the form of a bundle id (or an
// APNs topic made from one): letters, digits, '-' and '.'.
func validBundleID(id string) bool {
	if len(id) > maxBundleID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// liveEnvironment is the APNs gateway a live check uses: the requested
// one, else the one the certificate serves (production when both).
func liveEnvironment(env push.Environment, r *certinfo.Report) push.Environment {
	switch {
	case env != "":
		return env
	case r.Environment == string(push.Sandbox):
		return push.Sandbox
	}
	return push.Production
}

// checkFCM inspects a service account offline, then live.
func (s *Service) checkFCM(ctx context.Context, op string, up *FCMUpload) (*Checked, error) {
	if len(up.ServiceAccountJSON) == 0 {
		return nil, push.Errorf(op, push.Invalid, "fcm.service_account_json is required")
	}
	r, err := s.inspected(ctx, op, func(in *certinfo.Inspector) *certinfo.Report { return in.ServiceAccount(up.ServiceAccountJSON) })
	if err != nil {
		return nil, err
	}
	return s.prove(ctx, op, push.FCM, r, "", "")
}

// prove turns an OK report into material, proves it live and builds the
// upload to store; a failed report or a live rejection is a Rejection.
func (s *Service) prove(ctx context.Context, op string, p push.Platform, r *certinfo.Report, env push.Environment, topic string) (*Checked, error) {
	if !r.OK {
		return nil, reject(op, &Rejection{Platform: p, Report: r})
	}
	m, err := material(r)
	if err != nil {
		return nil, push.E(op, push.Internal, err)
	}
	live := s.Prover.Prove(ctx, m, env, topic)
	if live.Code.Rejected() {
		return nil, reject(op, &Rejection{Platform: p, Report: r, Live: &live})
	}
	now := s.now()
	st := credential.Status{State: credential.OK, CheckedAt: now, Message: "Checked offline and accepted by the provider."}
	for _, w := range r.Warnings {
		if w.Code == certinfo.ExpiringSoon {
			st = credential.Status{State: credential.Expiring, Reason: string(w.Code), Message: w.Message, CheckedAt: now}
		}
	}
	if live.Code == push.LiveUnreachable && st.State == credential.OK {
		st.Reason, st.Message = string(push.LiveUnreachable), live.Message
	}
	f := facts(r)
	var due time.Time
	if !f.NotAfter.IsZero() {
		due = push.FirstDue(s.Thresholds, f.NotAfter, now)
	}
	if r.Kind == push.APNsP8 { // a token key serves any bundle of its team: the app's is its topic
		f.BundleID, f.Topics = topic, []string{topic}
	}
	return &Checked{Platform: p, Report: r, Live: live, upload: credential.Upload{Material: m, Facts: f, Status: st, DueAt: due}}, nil
}

// material maps an OK report's normalized material to the stored form.
func material(r *certinfo.Report) (credential.Material, error) {
	n := r.Normalized()
	switch r.Kind {
	case push.APNsP12:
		var chain, key []byte
		for rest := n.Reveal(); ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "CERTIFICATE" {
				chain = append(chain, pem.EncodeToMemory(b)...)
			} else {
				key = pem.EncodeToMemory(b)
			}
		}
		if len(chain) == 0 || len(key) == 0 {
			return credential.Material{}, errors.New("normalized .p12 material lacks its chain or key")
		}
		return credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(key)}, nil
	case push.APNsP8:
		return credential.Material{Kind: push.APNsP8, PrivateKeyPEM: n, KeyID: r.KeyID, TeamID: r.TeamID}, nil
	case push.FCMJSON:
		return credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted(bytes.Clone(n.Reveal()))}, nil
	}
	return credential.Material{}, fmt.Errorf("unknown report kind %q", r.Kind)
}

// facts copies the stored facts of a report.
func facts(r *certinfo.Report) credential.Facts {
	f := credential.Facts{
		FingerprintSHA256: r.FingerprintSHA256, Subject: r.Subject, BundleID: r.BundleID, TeamID: r.TeamID,
		KeyID: r.KeyID, Topics: r.Topics, Environment: r.Environment,
		ProjectID: r.ProjectID, ClientEmail: r.ClientEmail, PrivateKeyID: r.PrivateKeyID,
	}
	if r.NotBefore != nil {
		f.NotBefore = *r.NotBefore
	}
	if r.NotAfter != nil {
		f.NotAfter = *r.NotAfter
	}
	return f
}
