// Package certinfo inspects uploaded push credentials offline: an APNs
// certificate (.p12 + password), an APNs auth key (.p8) or a Firebase
// service-account key (JSON). It does no I/O; every call returns a Report
// that lists each check with a stable code and a message that says what
// is wrong and how to fix it, the facts found, and (when the credential is
// usable) its normalized secret material for storage.
//
// The codes are API contract (docs/ARCHITECTURE.md, Inspection): callers branch on them and
// the admin portal shows the messages.
package certinfo

import (
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"mobilepush/shared/push"
)

// MaxInputSize is the largest upload inspected (Secrets Manager's value
// limit). Larger input is refused as TooLarge before any parsing.
const MaxInputSize = 64 << 10

// DefaultExpiringWindow is how close to not_after a certificate earns the
// expiring_soon warning when the Inspector sets no window.
const DefaultExpiringWindow = 30 * 24 * time.Hour

// Code is a stable check result. OK is the only code of a usable credential.
type Code string

// Codes shared by every kind.
const (
	OK       Code = "ok"
	TooLarge Code = "too_large"
)

// APNs .p12 codes.
const (
	NotPKCS12           Code = "not_pkcs12"
	WrongPassword       Code = "wrong_password"
	UnsupportedPassword Code = "unsupported_password"
	NoCertificate       Code = "no_certificate"
	NoPrivateKey        Code = "no_private_key"
	KeyMismatch         Code = "key_mismatch"
	MultipleIdentities  Code = "multiple_identities"
	UnsupportedKeyType  Code = "unsupported_key_type"
	NotApplePush        Code = "not_apple_push"
	Expired             Code = "expired"
	NotYetValid         Code = "not_yet_valid"
	BundleIDMismatch    Code = "bundle_id_mismatch"
	EnvironmentMismatch Code = "environment_mismatch"
)

// APNs .p12 warning codes.
const (
	ExpiringSoon    Code = "expiring_soon"
	ChainUnverified Code = "chain_unverified"
)

// APNs .p8 codes.
const (
	NotPEM               Code = "not_pem"
	NotPKCS8             Code = "not_pkcs8"
	NotPrivateKey        Code = "not_private_key"
	EncryptedKey         Code = "encrypted_key"
	UnparsablePrivateKey Code = "unparsable_private_key"
	WrongKeyType         Code = "wrong_key_type"
	InvalidKeyID         Code = "invalid_key_id"
	InvalidTeamID        Code = "invalid_team_id"
)

// FCM service-account codes (plus UnparsablePrivateKey).
const (
	MalformedJSON    Code = "malformed_json"
	WrongType        Code = "wrong_type"
	MissingFields    Code = "missing_fields"
	InvalidProjectID Code = "invalid_project_id"
)

// Check is one named test of an inspection.
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Warning is a non-blocking finding: the credential is usable but needs
// attention.
type Warning struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Facts are what an inspection found in the file. Fields that do not
// apply to a kind, or could not be read, are empty.
type Facts struct {
	Subject            string     `json:"subject,omitempty"`
	Issuer             string     `json:"issuer,omitempty"`
	BundleID           string     `json:"bundle_id,omitempty"`
	TeamID             string     `json:"team_id,omitempty"`
	Topics             []string   `json:"topics,omitempty"`
	Environment        string     `json:"environment,omitempty"` // sandbox | production | both
	NotBefore          *time.Time `json:"not_before,omitempty"`
	NotAfter           *time.Time `json:"not_after,omitempty"`
	DaysLeft           *int       `json:"days_left,omitempty"`
	FingerprintSHA256  string     `json:"fingerprint_sha256,omitempty"`
	KeyType            string     `json:"key_type,omitempty"`
	CertificatesInFile int        `json:"certificates_in_file,omitempty"`
	KeyID              string     `json:"key_id,omitempty"`
	ProjectID          string     `json:"project_id,omitempty"`
	ClientEmail        string     `json:"client_email,omitempty"`
	PrivateKeyID       string     `json:"private_key_id,omitempty"`
	// TokenURI and UniverseDomain are reported as found in an uploaded
	// service account; mobilepush never sends anything to them.
	TokenURI       string `json:"token_uri,omitempty"`
	UniverseDomain string `json:"universe_domain,omitempty"`
}

// Report is the result of one inspection. Code is OK or the first
// blocking problem; Checks lists every check that ran, in order.
// Requested* echo what the caller asked for, never under the names of the
// facts. A Report holds no secret material in any exported field.
type Report struct {
	Kind     push.CredentialKind `json:"kind"`
	Code     Code                `json:"code"`
	OK       bool                `json:"ok"`
	Checks   []Check             `json:"checks"`
	Warnings []Warning           `json:"warnings"`

	RequestedBundleID    string `json:"requested_bundle_id,omitempty"`
	RequestedEnvironment string `json:"requested_environment,omitempty"`
	RequestedKeyID       string `json:"requested_key_id,omitempty"`
	RequestedTeamID      string `json:"requested_team_id,omitempty"`

	Facts

	material *secret
}

// secret holds a usable credential's material until it is asked for:
// inspection does not pay for encoding what only storage needs. Every
// way of printing it shows a placeholder.
type secret struct {
	normalize func() ([]byte, error)
}

func (*secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }
func (*secret) GoString() string           { return "[redacted]" }

// Normalized returns the credential's secret material in the form it is
// stored, or a zero Redacted unless the Report is OK:
//   - apns_p12: the certificate chain as PEM ("CERTIFICATE" blocks, leaf
//     first) followed by the private key as PKCS#8 PEM ("PRIVATE KEY");
//     never the .p12 password, which nothing needs after the upload.
//   - apns_p8: the PKCS#8 PEM key with LF line endings.
//   - fcm_json: the service-account JSON, UTF-8 without BOM, with a
//     repaired private_key if its newlines were escaped twice.
//
// It encodes the material on each call; a failure to encode (which a
// successful inspection rules out) yields a zero Redacted.
func (r *Report) Normalized() push.Redacted {
	if !r.OK || r.material == nil {
		return push.Redacted{}
	}
	b, err := r.material.normalize()
	if err != nil {
		return push.Redacted{}
	}
	return push.NewRedacted(b)
}

// withMaterial records material that is already encoded.
func (r *Report) withMaterial(b []byte) {
	r.material = &secret{normalize: func() ([]byte, error) { return b, nil }}
}

// Err returns nil for an OK report, otherwise a *push.Error of Kind
// Unprocessable (TooLarge for too_large) whose Code is the report's code
// and whose client message is that of the first failed check.
func (r *Report) Err() error {
	if r.OK {
		return nil
	}
	kind := push.Unprocessable
	if r.Code == TooLarge {
		kind = push.TooLarge
	}
	e := &push.Error{Op: "certinfo." + string(r.Kind), Kind: kind, Code: string(r.Code)}
	for _, c := range r.Checks {
		if !c.OK {
			e.Msg = c.Message
			break
		}
	}
	return e
}

// pass and fail record a check; the first failure sets the report's code.
func (r *Report) pass(name, msg string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Code: OK, Message: msg})
}

func (r *Report) fail(name string, code Code, msg string) {
	r.Checks = append(r.Checks, Check{Name: name, Code: code, Message: msg})
	if r.Code == OK {
		r.Code = code
		r.OK = false
	}
}

func (r *Report) warn(code Code, msg string) {
	r.Warnings = append(r.Warnings, Warning{Code: code, Message: msg})
}

func newReport(k push.CredentialKind) *Report {
	return &Report{Kind: k, Code: OK, OK: true, Checks: []Check{}, Warnings: []Warning{}}
}

// newCertReport is the report of an APNs certificate with its key asked
// for bundleID in env (a .p12, a .cer with its key, a PEM bundle).
func newCertReport(bundleID string, env push.Environment) *Report {
	r := newReport(push.APNsP12)
	r.RequestedBundleID = bundleID
	r.RequestedEnvironment = string(env)
	return r
}

// oversized fails the size check when data is over MaxInputSize, telling
// what the upload (noun: "file", "text") typically weighs and what to
// upload instead; it reports whether it failed.
func (r *Report) oversized(data []byte, noun, typical, advice string) bool {
	if len(data) <= MaxInputSize {
		return false
	}
	r.fail("size", TooLarge, fmt.Sprintf("The %s is %d bytes; %s and the limit is %d bytes. %s", noun, len(data), typical, MaxInputSize, advice))
	return true
}

// Inspector inspects credentials. The zero value is ready to use: it
// reads the real clock, warns 30 days before expiry and verifies chains
// against the system roots (which honour SSL_CERT_FILE).
type Inspector struct {
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// ExpiringWindow is how long before not_after the expiring_soon
	// warning starts; zero means DefaultExpiringWindow.
	ExpiringWindow time.Duration
	// Roots verifies certificate chains; nil means the system roots.
	Roots *x509.CertPool
}

func (in *Inspector) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func (in *Inspector) window() time.Duration {
	if in.ExpiringWindow > 0 {
		return in.ExpiringWindow
	}
	return DefaultExpiringWindow
}

var systemRoots = sync.OnceValue(func() *x509.CertPool {
	p, err := x509.SystemCertPool()
	if err != nil || p == nil {
		return x509.NewCertPool()
	}
	return p
})

func (in *Inspector) roots() *x509.CertPool {
	if in.Roots != nil {
		return in.Roots
	}
	return systemRoots()
}
