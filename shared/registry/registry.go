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
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/expiry"
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
	// expiry.DefaultThresholds): a new certificate is first due when the
	// highest is crossed.
	Thresholds []int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
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
// password), or a .p8 with its key id and team id. BundleID is required
// for both: it is the topic pushes are sent to.
type APNsUpload struct {
	BundleID    string
	P12         []byte
	Password    push.Redacted
	HasPassword bool
	P8          []byte
	KeyID       string
	TeamID      string
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
}

// Warnings returns the report's warnings plus an unreachable provider.
func (c *Checked) Warnings() []certinfo.Warning {
	w := append([]certinfo.Warning(nil), c.Report.Warnings...)
	if c.Live.Code == push.LiveUnreachable {
		w = append(w, certinfo.Warning{Code: certinfo.Code(push.LiveUnreachable), Message: c.Live.Message})
	}
	return w
}

// checkAPNs inspects an APNs upload offline, then live on env.
func (s *Service) checkAPNs(ctx context.Context, op string, up *APNsUpload, env push.Environment) (*Checked, error) {
	var r *certinfo.Report
	switch {
	case up.BundleID == "":
		return nil, push.Errorf(op, push.Invalid, "apns.bundle_id is required")
	case len(up.P12) > 0 && len(up.P8) > 0:
		return nil, push.Errorf(op, push.Invalid, "apns: give either p12 or p8, not both")
	case len(up.P12) > 0:
		if !up.HasPassword {
			return nil, push.Errorf(op, push.Invalid, "apns.password is required with a .p12 (send \"\" for an empty password)")
		}
		r = s.Inspector.P12(up.P12, certinfo.P12Request{Password: string(up.Password.Reveal()), BundleID: up.BundleID, Environment: env})
	case len(up.P8) > 0:
		r = s.Inspector.P8(up.P8, certinfo.P8Request{KeyID: up.KeyID, TeamID: up.TeamID})
		r.RequestedBundleID = up.BundleID
	default:
		return nil, push.Errorf(op, push.Invalid, "apns: give p12 (with password) or p8 (with key_id and team_id)")
	}
	return s.prove(ctx, op, push.APNs, r, liveEnvironment(env, r), up.BundleID)
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
	r := s.Inspector.ServiceAccount(up.ServiceAccountJSON)
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
		due = expiry.FirstDue(s.Thresholds, f.NotAfter, now)
	}
	if r.Kind == certinfo.APNsP8 { // a token key serves any bundle of its team: the app's is its topic
		f.BundleID, f.Topics = topic, []string{topic}
	}
	return &Checked{Platform: p, Report: r, Live: live, upload: credential.Upload{Material: m, Facts: f, Status: st, DueAt: due}}, nil
}

// material maps an OK report's normalized material to the stored form.
func material(r *certinfo.Report) (credential.Material, error) {
	n := r.Normalized()
	switch r.Kind {
	case certinfo.APNsP12:
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
		return credential.Material{Kind: credential.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(key)}, nil
	case certinfo.APNsP8:
		return credential.Material{Kind: credential.APNsP8, PrivateKeyPEM: n, KeyID: r.KeyID, TeamID: r.TeamID}, nil
	case certinfo.FCMJSON:
		return credential.Material{Kind: credential.FCMJSON, ServiceAccountJSON: push.NewRedacted(bytes.Clone(n.Reveal()))}, nil
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
