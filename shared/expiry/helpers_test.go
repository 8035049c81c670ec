package expiry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/credential/credentialtest"
	"mobilepush/shared/expiry"
	"mobilepush/shared/push"
)

// publisher records what it publishes; fail, when set, fails every event.
type publisher struct {
	mu     sync.Mutex
	events []alert.Event
	fail   error
}

func (p *publisher) Publish(_ context.Context, events []alert.Event) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]error, len(events))
	for i, e := range events {
		if p.fail != nil {
			out[i] = p.fail
			continue
		}
		p.events = append(p.events, e)
	}
	return out
}

func (p *publisher) setFail(err error) {
	p.mu.Lock()
	p.fail = err
	p.mu.Unlock()
}

// take returns and forgets the events published so far.
func (p *publisher) take() []alert.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.events
	p.events = nil
	return out
}

// prover answers every live check with the verdict set for the key id (or
// project id) of the material's facts; the default accepts.
type prover struct {
	mu      sync.Mutex
	verdict map[string]push.LiveCode
	calls   []string
}

func (p *prover) Prove(_ context.Context, m credential.Material, _ push.Environment, _ string) push.LiveResult {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := m.KeyID
	if m.Kind == push.FCMJSON {
		id = string(m.ServiceAccountJSON.Reveal())
	}
	p.calls = append(p.calls, id)
	code := p.verdict[id]
	if code == "" {
		code = push.LiveOK
	}
	return push.LiveResult{Code: code, ProviderReason: string(code), Message: "verdict " + string(code)}
}

func (p *prover) set(id string, code push.LiveCode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.verdict == nil {
		p.verdict = map[string]push.LiveCode{}
	}
	p.verdict[id] = code
}

func (p *prover) takeCalls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.calls
	p.calls = nil
	return out
}

// env is a checker over one store backend.
type env struct {
	t     *testing.T
	ctx   context.Context
	clock *credentialtest.Clock
	creds *credential.Service
	pub   *publisher
	prov  *prover
	chk   *expiry.Checker
}

// backend makes a fresh metadata and secret store.
type backend struct {
	name string
	open func(t *testing.T) (credential.MetadataStore, credential.SecretStore)
}

func boltBackend(t *testing.T) (credential.MetadataStore, credential.SecretStore) {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, s
}

// motoBackend uses moto_server through the real SDK; dynamotest.AWSConfig
// skips loudly without AWS_ENDPOINT_URL (fails when CI=true).
func motoBackend(t *testing.T) (credential.MetadataStore, credential.SecretStore) {
	t.Helper()
	return dynamotest.Stores(t, dynamotest.AWSConfig(t))
}

var backends = []backend{{"bolt", boltBackend}, {"moto", motoBackend}}

// forEachBackend runs test once per store backend.
func forEachBackend(t *testing.T, test func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			meta, secrets := b.open(t)
			test(t, newEnv(t, meta, secrets, nil))
		})
	}
}

func newEnv(t *testing.T, meta credential.MetadataStore, secrets credential.SecretStore, tune func(*expiry.Config)) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: credentialtest.NewClock(time.Now().UTC().Truncate(time.Second)), pub: &publisher{}, prov: &prover{}}
	e.creds = credential.NewService(credential.Config{Meta: meta, Secrets: secrets, Now: e.clock.Now})
	cfg := expiry.Config{Store: e.creds, Prover: e.prov, Publisher: e.pub, Now: e.clock.Now}
	if tune != nil {
		tune(&cfg)
	}
	chk, err := expiry.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.chk = chk
	return e
}

func fingerprint(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// certificate is an APNs .p12 upload valid until notAfter, identified by name.
func certificate(name string, notAfter time.Time) *credential.Upload {
	return &credential.Upload{
		Material: credential.Material{
			Kind:                push.APNsP12,
			CertificateChainPEM: push.NewRedacted([]byte("-----BEGIN CERTIFICATE-----\n" + name + "\n-----END CERTIFICATE-----\n")),
			PrivateKeyPEM:       push.NewRedacted([]byte("-----BEGIN PRIVATE KEY-----\n" + name + "\n-----END PRIVATE KEY-----\n")),
		},
		Facts: credential.Facts{FingerprintSHA256: fingerprint(name), BundleID: "com.example." + name, Environment: "both", NotAfter: notAfter},
	}
}

// p8Key is an APNs token key whose key id is id, last checked at checked.
func p8Key(id string, checked time.Time) *credential.Upload {
	return &credential.Upload{
		Material: credential.Material{Kind: push.APNsP8, PrivateKeyPEM: push.NewRedacted([]byte("-----BEGIN PRIVATE KEY-----\n" + id + "\n-----END PRIVATE KEY-----\n")), KeyID: id, TeamID: "TEAM000001"},
		Facts:    credential.Facts{FingerprintSHA256: fingerprint(id), KeyID: id, TeamID: "TEAM000001", BundleID: "com.example.p8"},
		Status:   credential.Status{State: credential.OK, CheckedAt: checked},
	}
}

// serviceAccount is an FCM key whose JSON is body, last checked at checked.
func serviceAccount(body string, checked time.Time) *credential.Upload {
	return &credential.Upload{
		Material: credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted([]byte(body))},
		Facts:    credential.Facts{FingerprintSHA256: fingerprint(body), ProjectID: "project-" + body},
		Status:   credential.Status{State: credential.OK, CheckedAt: checked},
	}
}

var appSeq struct {
	mu sync.Mutex
	n  int
}

// create registers an app of a unique tenant with the given credentials.
func (e *env) create(apns, fcm *credential.Upload) credential.App {
	e.t.Helper()
	appSeq.mu.Lock()
	appSeq.n++
	n := appSeq.n
	appSeq.mu.Unlock()
	a, err := e.creds.Create(e.ctx, credential.CreateRequest{
		Tenant: dynamotest.UniqueName("tenant-"), ID: fmt.Sprintf("app-%d", n), Name: fmt.Sprintf("App %d", n),
		Enabled: true, Environment: push.Production, APNs: apns, FCM: fcm,
	})
	if err != nil {
		e.t.Fatalf("create app: %v", err)
	}
	return a
}

// run runs the checker once at the clock's time.
func (e *env) run() expiry.Summary {
	e.t.Helper()
	s, err := e.chk.Run(e.ctx)
	if err != nil {
		e.t.Fatalf("run at %s: %v", e.clock.Now().Format(time.RFC3339), err)
	}
	return s
}

func (e *env) get(a credential.App) credential.App {
	e.t.Helper()
	got, err := e.creds.Get(e.ctx, a.Tenant, a.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// levels renders events as "type/threshold/days_left" for comparison.
func levels(evs []alert.Event) []string {
	var out []string
	for _, ev := range evs {
		left := "-"
		if ev.Detail.DaysLeft != nil {
			left = fmt.Sprint(*ev.Detail.DaysLeft)
		}
		out = append(out, fmt.Sprintf("%s/%d/%s", ev.Type, ev.Detail.ThresholdDays, left))
	}
	return out
}
