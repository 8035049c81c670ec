package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/credential/credentialtest"
	"mobilepush/shared/httpapi"
	"mobilepush/shared/registry"
)

// benchFleet is the size of the tenant the fleet benchmark lists.
const benchFleet = 2000

// tenantAuth authenticates every request as tenant.
type tenantAuth string

func (a tenantAuth) Authenticate(*http.Request) (registry.Principal, error) {
	return registry.Principal{Tenant: string(a), Subject: "bench"}, nil
}

// countingMeta counts the apps the store hands the service.
type countingMeta struct {
	credential.MetadataStore
	mu   sync.Mutex
	apps int
}

func (c *countingMeta) Apps(ctx context.Context, tenant, after string, limit int) ([]credential.App, error) {
	a, err := c.MetadataStore.Apps(ctx, tenant, after, limit)
	c.mu.Lock()
	c.apps += len(a)
	c.mu.Unlock()
	return a, err
}

func (c *countingMeta) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.apps
	c.apps = 0
	return n
}

// seedBenchFleet writes n apps of tenant (credentialtest.FleetApp) straight
// into the metadata store, eight at a time (the listing reads no secret).
func seedBenchFleet(b *testing.B, meta credential.MetadataStore, tenant string, n int) {
	b.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			a := credentialtest.FleetApp(tenant, i, now)
			errs <- meta.Apply(context.Background(), credential.Change{Tenant: tenant, AppID: a.ID, App: &a})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
}

// BenchmarkFleetList measures GET /v1/apps with q and status, and GET
// /v1/summary, through the HTTP handler over a tenant of 2,000 apps (with
// another tenant's 50 beside it) on the embedded bbolt store: the time
// per call and the apps read per call; "x-get-app" is the listing's time
// over GET /v1/apps/{id} (one app), both measured alternately in one
// loop. The same on DynamoDB under moto is awsdynamo's
// BenchmarkFleetListDynamo.
func BenchmarkFleetList(b *testing.B) {
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "data.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	seedBenchFleet(b, st, "bench", benchFleet)
	seedBenchFleet(b, st, "other", 50)
	fleetCalls(b, st)
}

// fleetCalls runs the fleet benchmark's calls over meta, already seeded
// with tenant "bench".
func fleetCalls(b *testing.B, meta credential.MetadataStore) {
	counting := &countingMeta{MetadataStore: meta}
	svc := credential.NewService(credential.Config{Meta: counting})
	h := httpapi.New(httpapi.Config{Registry: &registry.Service{Store: svc}, Auth: tenantAuth("bench")})
	get := func(b *testing.B, path string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
	}
	const list = "/v1/apps?q=brand1&status=expiring,expired&limit=50"
	for _, tc := range []struct{ name, path string }{
		{"get-app", "/v1/apps/app-00001"},
		{"list-q-status", list},
		{"summary", "/v1/summary"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			counting.take()
			n := 0
			for b.Loop() {
				get(b, tc.path)
				n++
			}
			b.ReportMetric(float64(counting.take())/float64(n), "apps-read/op")
		})
	}
	b.Run("ratio", func(b *testing.B) {
		var one, fleet time.Duration
		for b.Loop() {
			t0 := time.Now()
			get(b, "/v1/apps/app-00001")
			t1 := time.Now()
			get(b, list)
			fleet += time.Since(t1)
			one += t1.Sub(t0)
		}
		b.ReportMetric(float64(fleet)/float64(one), "x-get-app")
	})
}
