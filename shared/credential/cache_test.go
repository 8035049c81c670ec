package credential_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// countingSource is a CacheSource fake that counts the reads that reach it.
type countingSource struct {
	mu       sync.Mutex
	apps     map[string]credential.App
	material map[credential.SecretRef]credential.Material
	gets     int
	reads    int
	fail     error
}

func (s *countingSource) Get(_ context.Context, tenant, id string) (credential.App, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.fail != nil {
		return credential.App{}, s.fail
	}
	a, ok := s.apps[tenant+"/"+id]
	if !ok {
		return credential.App{}, push.E("fake.Get", push.NotFound, nil)
	}
	return a.Clone(), nil
}

func (s *countingSource) MaterialVersion(_ context.Context, secretID, versionID string) (credential.Material, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	m, ok := s.material[credential.SecretRef{ID: secretID, VersionID: versionID}]
	if !ok {
		return credential.Material{}, push.E("fake.MaterialVersion", push.NotFound, nil)
	}
	return m, nil
}

func (s *countingSource) counts() (gets, reads int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.reads
}

func (s *countingSource) rotate(tenant, id, version string, m credential.Material) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[tenant+"/"+id]
	a.APNs = &credential.Meta{Kind: m.Kind, Secret: credential.SecretRef{ID: "sec", VersionID: version}}
	a.Version++
	s.apps[tenant+"/"+id] = a
	s.material[credential.SecretRef{ID: "sec", VersionID: version}] = m
}

func p8(key string) credential.Material {
	return credential.Material{Kind: push.APNsP8, PrivateKeyPEM: push.NewRedacted([]byte(key)), KeyID: "KEY1234567", TeamID: "TEAM123456"}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestCacheReadThrough(t *testing.T) {
	ctx := context.Background()
	src := &countingSource{apps: map[string]credential.App{"t/a": {Tenant: "t", ID: "a", Version: 1}}, material: map[credential.SecretRef]credential.Material{}}
	src.rotate("t", "a", "v1", p8("key-one"))
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := credential.NewCache(src, credential.CacheConfig{TTL: 30 * time.Second, Now: clk.Now})

	read := func() (credential.App, credential.Material) {
		t.Helper()
		a, m, err := c.Credential(ctx, "t", "a", push.APNs)
		if err != nil {
			t.Fatal(err)
		}
		return a, m
	}
	type step struct {
		name              string
		advance           time.Duration
		rotateTo          string
		wantKey           string
		wantGets, wantRds int
	}
	steps := []step{
		{name: "cold read fetches both", wantKey: "key-one", wantGets: 1, wantRds: 1},
		{name: "cached read makes no call", advance: 29 * time.Second, wantKey: "key-one", wantGets: 1, wantRds: 1},
		{name: "rotation not yet seen within the TTL", rotateTo: "v2", wantKey: "key-one", wantGets: 1, wantRds: 1},
		{name: "after the TTL the new version is read", advance: 2 * time.Second, wantKey: "key-v2", wantGets: 2, wantRds: 2},
		{name: "expired metadata, same version: the secret stays cached", advance: 31 * time.Second, wantKey: "key-v2", wantGets: 3, wantRds: 2},
	}
	for _, s := range steps {
		clk.t = clk.t.Add(s.advance)
		if s.rotateTo != "" {
			src.rotate("t", "a", s.rotateTo, p8("key-"+s.rotateTo))
		}
		_, m := read()
		gets, reads := src.counts()
		if string(m.PrivateKeyPEM.Reveal()) != s.wantKey || gets != s.wantGets || reads != s.wantRds {
			t.Fatalf("%s: key %q, gets %d, reads %d; want %q, %d, %d", s.name, m.PrivateKeyPEM.Reveal(), gets, reads, s.wantKey, s.wantGets, s.wantRds)
		}
	}

	// The caller's copy is its own.
	a, _ := read()
	a.APNs.Secret.VersionID = "tampered"
	if b, _ := read(); b.APNs.Secret.VersionID == "tampered" {
		t.Fatal("a caller's change reached the cache")
	}

	// Forget drops the metadata; errors are never cached.
	c.Forget("t", "a")
	src.mu.Lock()
	src.fail = push.E("fake.Get", push.Transient, nil)
	src.mu.Unlock()
	if _, _, err := c.Credential(ctx, "t", "a", push.APNs); !push.Is(err, push.Transient) {
		t.Fatalf("after Forget with a failing source: %v, want Transient", err)
	}
	src.mu.Lock()
	src.fail = nil
	src.mu.Unlock()
	read()
	if _, _, err := c.Credential(ctx, "t", "a", push.FCM); !push.Is(err, push.NotFound) {
		t.Fatalf("missing platform: %v, want NotFound", err)
	}
}

func TestCacheTTLIsCapped(t *testing.T) {
	src := &countingSource{apps: map[string]credential.App{"t/a": {Tenant: "t", ID: "a"}}}
	clk := &fakeClock{t: time.Unix(0, 0)}
	c := credential.NewCache(src, credential.CacheConfig{TTL: time.Hour, Now: clk.Now})
	for _, d := range []time.Duration{0, 59 * time.Second, 2 * time.Second} {
		clk.t = clk.t.Add(d)
		if _, err := c.App(context.Background(), "t", "a"); err != nil {
			t.Fatal(err)
		}
	}
	if gets, _ := src.counts(); gets != 2 {
		t.Fatalf("gets = %d, want 2: a TTL over %v is capped", gets, credential.MaxCacheTTL)
	}
}

// newBoltService returns a Service over a fresh boltstore with one app
// holding an APNs .p12 credential.
func newBoltService(tb testing.TB) *credential.Service {
	tb.Helper()
	s, err := boltstore.Open(filepath.Join(tb.TempDir(), "bench.db"), boltstore.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	svc := credential.NewService(credential.Config{Meta: s, Secrets: s})
	mat := credential.Material{
		Kind:                push.APNsP12,
		CertificateChainPEM: push.NewRedacted([]byte("-----BEGIN CERTIFICATE-----\n" + fmt.Sprintf("%01500d", 7) + "\n-----END CERTIFICATE-----\n")),
		PrivateKeyPEM:       push.NewRedacted([]byte("-----BEGIN PRIVATE KEY-----\n" + fmt.Sprintf("%0200d", 3) + "\n-----END PRIVATE KEY-----\n")),
	}
	_, err = svc.Create(context.Background(), credential.CreateRequest{
		Tenant: "bench", ID: "app", Name: "bench", Enabled: true,
		APNs: &credential.Upload{Material: mat, Facts: credential.Facts{NotAfter: time.Now().Add(365 * 24 * time.Hour)}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return svc
}

// countingService counts the calls a Cache makes to the Service.
type countingService struct {
	*credential.Service
	mu    sync.Mutex
	calls int
}

func (c *countingService) Get(ctx context.Context, tenant, id string) (credential.App, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Service.Get(ctx, tenant, id)
}

func (c *countingService) MaterialVersion(ctx context.Context, secretID, versionID string) (credential.Material, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Service.MaterialVersion(ctx, secretID, versionID)
}

func TestCacheOverServiceMakesNoStoreCall(t *testing.T) {
	src := &countingService{Service: newBoltService(t)}
	c := credential.NewCache(src, credential.CacheConfig{})
	ctx := context.Background()
	if _, _, err := c.Credential(ctx, "bench", "app", push.APNs); err != nil {
		t.Fatal(err)
	}
	if src.calls != 2 {
		t.Fatalf("cold read made %d calls, want 2 (metadata and secret)", src.calls)
	}
	for range 1000 {
		if _, _, err := c.Credential(ctx, "bench", "app", push.APNs); err != nil {
			t.Fatal(err)
		}
	}
	if src.calls != 2 {
		t.Fatalf("1000 cached reads made %d store calls, want 0", src.calls-2)
	}
}

// BenchmarkCacheCredential measures the send path's read of an app and its
// credential material: cold (through the Service to boltstore: bbolt read,
// JSON, AES-GCM) versus cached, in the same run, and reports the ratio.
func BenchmarkCacheCredential(b *testing.B) {
	benchCache(b, func(ctx context.Context, c *credential.Cache) error {
		_, _, err := c.Credential(ctx, "bench", "app", push.APNs)
		return err
	})
}

// BenchmarkCacheApp measures the metadata read alone, cold versus cached.
func BenchmarkCacheApp(b *testing.B) {
	benchCache(b, func(ctx context.Context, c *credential.Cache) error {
		_, err := c.App(ctx, "bench", "app")
		return err
	})
}

func benchCache(b *testing.B, read func(context.Context, *credential.Cache) error) {
	src := &countingService{Service: newBoltService(b)}
	ctx := context.Background()

	// Baseline in the same run: cold reads, each through a new cache.
	const coldReads = 500
	start := time.Now()
	for range coldReads {
		if err := read(ctx, credential.NewCache(src, credential.CacheConfig{})); err != nil {
			b.Fatal(err)
		}
	}
	cold := float64(time.Since(start).Nanoseconds()) / coldReads

	c := credential.NewCache(src, credential.CacheConfig{})
	if err := read(ctx, c); err != nil {
		b.Fatal(err)
	}
	before := src.calls
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := read(ctx, c); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cached := float64(b.Elapsed().Nanoseconds()) / float64(n)
	b.ReportMetric(cold, "cold-ns/read")
	b.ReportMetric(cached, "cached-ns/read")
	b.ReportMetric(cold/cached, "cold/cached")
	b.ReportMetric(float64(src.calls-before), "store-calls")
	if src.calls != before {
		b.Errorf("cached reads made %d store calls, want 0", src.calls-before)
	}
	if cached >= 1000 {
		b.Errorf("cached read costs %.0f ns, want under 1 µs", cached)
	}
}
