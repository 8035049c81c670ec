package credentialtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"sync"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// Clock is a settable clock for a Service under test (its Config.Now)
// and whatever runs beside it, safe for concurrent use. Start it at the
// real time: stores compare TTLs with their own clocks.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// faultyMeta wraps a MetadataStore; failApply, when set, decides whether
// an Apply fails before reaching the store.
type faultyMeta struct {
	credential.MetadataStore
	mu        sync.Mutex
	failApply func(c credential.Change) error
}

func (f *faultyMeta) Apply(ctx context.Context, c credential.Change) error {
	f.mu.Lock()
	fail := f.failApply
	f.mu.Unlock()
	if fail != nil {
		if err := fail(c); err != nil {
			return err
		}
	}
	return f.MetadataStore.Apply(ctx, c)
}

func (f *faultyMeta) setFailApply(fn func(c credential.Change) error) {
	f.mu.Lock()
	f.failApply = fn
	f.mu.Unlock()
}

// faultySecrets wraps a SecretStore; it can fail Promote and
// ScheduleDeletion, and counts the calls.
type faultySecrets struct {
	credential.SecretStore
	mu             sync.Mutex
	failPromote    bool
	failDelete     bool
	promotes       int
	deletions      []string
	putVersions    int
	createdSecrets int
}

func (f *faultySecrets) CreateSecret(ctx context.Context, o credential.SecretOwner, v push.Redacted) (string, string, error) {
	f.mu.Lock()
	f.createdSecrets++
	f.mu.Unlock()
	return f.SecretStore.CreateSecret(ctx, o, v)
}

func (f *faultySecrets) PutVersion(ctx context.Context, id string, v push.Redacted) (string, error) {
	f.mu.Lock()
	f.putVersions++
	f.mu.Unlock()
	return f.SecretStore.PutVersion(ctx, id, v)
}

func (f *faultySecrets) Promote(ctx context.Context, id, ver string) error {
	f.mu.Lock()
	f.promotes++
	fail := f.failPromote
	f.mu.Unlock()
	if fail {
		return push.E("fake.Promote", push.Transient, errInjected)
	}
	return f.SecretStore.Promote(ctx, id, ver)
}

func (f *faultySecrets) ScheduleDeletion(ctx context.Context, id string) error {
	f.mu.Lock()
	fail := f.failDelete
	if !fail {
		f.deletions = append(f.deletions, id)
	}
	f.mu.Unlock()
	if fail {
		return push.E("fake.ScheduleDeletion", push.Transient, errInjected)
	}
	return f.SecretStore.ScheduleDeletion(ctx, id)
}

func (f *faultySecrets) set(fn func(f *faultySecrets)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// secretText returns a fresh random marker: every piece of fake material
// contains one, so a leak into an error string can be searched for.
func secretText() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "SECRET" + hex.EncodeToString(b[:])
}

// pem returns a PEM-looking block whose body is random, containing a marker.
func pem(kind, marker string) push.Redacted {
	var b [300]byte
	_, _ = rand.Read(b[:])
	body := base64.StdEncoding.EncodeToString(b[:])
	return push.NewRedacted([]byte("-----BEGIN " + kind + "-----\n" + marker + "\n" + body + "\n-----END " + kind + "-----\n"))
}

// fakeMaterial is test material of kind k with its marker.
type fakeMaterial struct {
	mat    credential.Material
	marker string
	facts  credential.Facts
}

func newMaterial(k push.CredentialKind) fakeMaterial {
	m := secretText()
	fp := secretText()[6:] // a fingerprint-like fact, not secret
	notAfter := time.Now().UTC().Add(200 * 24 * time.Hour).Truncate(time.Second)
	switch k {
	case push.APNsP12:
		return fakeMaterial{
			mat:    credential.Material{Kind: k, CertificateChainPEM: pem("CERTIFICATE", m), PrivateKeyPEM: pem("PRIVATE KEY", m)},
			marker: m,
			facts: credential.Facts{
				FingerprintSHA256: fp, Subject: "UID=com.example.app, CN=Apple Push Services: com.example.app",
				BundleID: "com.example.app", TeamID: "ABCDE12345", Topics: []string{"com.example.app", "com.example.app.voip"},
				Environment: "both", NotBefore: notAfter.Add(-365 * 24 * time.Hour), NotAfter: notAfter,
			},
		}
	case push.APNsP8:
		return fakeMaterial{
			mat:    credential.Material{Kind: k, PrivateKeyPEM: pem("PRIVATE KEY", m), KeyID: "KEY1234567", TeamID: "ABCDE12345"},
			marker: m,
			facts:  credential.Facts{FingerprintSHA256: fp, KeyID: "KEY1234567", TeamID: "ABCDE12345", BundleID: "com.example.app"},
		}
	default:
		js := `{"type":"service_account","project_id":"demo","private_key_id":"` + m + `","private_key":"` + m + `","client_email":"sa@demo.iam.gserviceaccount.com"}`
		return fakeMaterial{
			mat:    credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted([]byte(js))},
			marker: m,
			facts:  credential.Facts{FingerprintSHA256: fp, ProjectID: "demo", ClientEmail: "sa@demo.iam.gserviceaccount.com", PrivateKeyID: "pk1"},
		}
	}
}

func (f fakeMaterial) upload() *credential.Upload {
	return &credential.Upload{Material: f.mat, Facts: f.facts}
}
