package expiry_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"
	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/awsdynamo"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/awssecrets"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

const (
	totalApps = 10000
	dueApps   = 10
)

// countingMeta counts, at the store port, the apps read and the index
// entries returned.
type countingMeta struct {
	credential.MetadataStore
	mu      sync.Mutex
	apps    map[string]bool
	entries int
}

func (c *countingMeta) App(ctx context.Context, tenant, id string) (credential.App, error) {
	c.mu.Lock()
	c.apps[tenant+"/"+id] = true
	c.mu.Unlock()
	return c.MetadataStore.App(ctx, tenant, id)
}

func (c *countingMeta) Due(ctx context.Context, now time.Time, limit int) ([]credential.Due, error) {
	d, err := c.MetadataStore.Due(ctx, now, limit)
	c.mu.Lock()
	c.entries += len(d)
	c.mu.Unlock()
	return d, err
}

func (c *countingMeta) reset() {
	c.mu.Lock()
	c.apps, c.entries = map[string]bool{}, 0
	c.mu.Unlock()
}

// TestRunReadsOnlyDueBolt: 10,000 apps, 10 due: the run reads 10 index
// entries and 10 apps (counted by the store).
func TestRunReadsOnlyDueBolt(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	meta := &countingMeta{MetadataStore: s}
	e := newEnv(t, meta, s, nil)
	now := e.clock.Now()
	ctx := context.Background()
	// The apps not due, written with the store's own Apply (certificates
	// far from expiry, so each has an index entry in the future).
	start := time.Now()
	for i := range totalApps - dueApps {
		a := farApp(fmt.Sprintf("bulk-%d", i%50), fmt.Sprintf("app-%05d", i), now)
		if err := s.Apply(ctx, credential.Change{Tenant: a.Tenant, AppID: a.ID, App: &a}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d apps in %v", totalApps-dueApps, time.Since(start).Round(time.Millisecond))
	var due []credential.App
	for i := range dueApps {
		due = append(due, e.create(certificate(fmt.Sprintf("due%d", i), now.Add(time.Duration(10+i)*day)), nil))
	}
	meta.reset()
	sum := e.run()
	if sum.Examined != dueApps || sum.AlertsSent() != dueApps {
		t.Fatalf("summary = %+v", sum)
	}
	if meta.entries != dueApps || len(meta.apps) != dueApps {
		t.Errorf("read %d index entries and %d apps, want %d and %d", meta.entries, len(meta.apps), dueApps, dueApps)
	}
	for _, a := range due {
		if !meta.apps[a.Tenant+"/"+a.ID] {
			t.Errorf("due app %s not read", a.ID)
		}
	}
	s.Close()
	// The store really holds 10,000 apps.
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	_ = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("apps")).ForEachBucket(func(k []byte) error {
			n += tx.Bucket([]byte("apps")).Bucket(k).Stats().KeyN
			return nil
		})
	})
	if n != totalApps {
		t.Errorf("store holds %d apps, want %d", n, totalApps)
	}
}

// farApp is an app whose certificate expires in a year.
func farApp(tenant, id string, now time.Time) credential.App {
	na := now.Add(365 * day)
	return credential.App{
		Tenant: tenant, ID: id, Name: id, Enabled: true, Environment: push.Production, Version: 1, CreatedAt: now, UpdatedAt: now,
		APNs: &credential.Meta{
			Kind: push.APNsP12, Facts: credential.Facts{FingerprintSHA256: fingerprint(id), BundleID: "com.example." + id, NotAfter: na},
			Status: credential.Status{State: credential.OK, CheckedAt: now}, Secret: credential.SecretRef{ID: "secret-" + id, VersionID: "v1"},
			DueAt: na.Add(-60 * day), RotatedAt: now,
		},
	}
}

// getItems counts the items GetItem reads, by key.
type getItems struct {
	mu   sync.Mutex
	keys map[string]int
}

func (g *getItems) Register(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("expiryGetItems",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if gi, ok := in.Parameters.(*dynamodb.GetItemInput); ok {
				pk, _ := gi.Key["pk"].(*types.AttributeValueMemberS)
				sk, _ := gi.Key["sk"].(*types.AttributeValueMemberS)
				if pk != nil && sk != nil {
					g.mu.Lock()
					g.keys[pk.Value+" "+sk.Value]++
					g.mu.Unlock()
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// TestRunReadsOnlyDueMoto: the same on DynamoDB (moto), counted with SDK
// middlewares: one Query on the due index reading 10 items, GetItem on the
// 10 due apps only, no Scan. The bulk apps are written with
// BatchWriteItem in the store's key layout (a small app item + its due marker).
func TestRunReadsOnlyDueMoto(t *testing.T) {
	t.Parallel()
	cfg := dynamotest.AWSConfig(t)
	counter := dynamotest.NewCounter()
	gets := &getItems{keys: map[string]int{}}
	iso := &dynamotest.Isolation{}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, iso.Register, counter.Register, gets.Register)
	})
	table := dynamotest.CreateTable(t, ddb)
	sm := awssecrets.New(secretsmanager.NewFromConfig(cfg), awssecrets.Config{Prefix: dynamotest.UniqueName("mobilepush-test/") + "/"})
	e := newEnv(t, awsdynamo.New(ddb, table, nil), sm, nil)
	now := e.clock.Now()
	ctx := context.Background()

	// The due apps first: moto copies the whole table on every
	// transaction, so each is cheaper on an empty table.
	for i := range dueApps {
		e.create(certificate(fmt.Sprintf("due%d", i), now.Add(time.Duration(10+i)*day)), nil)
	}
	start := time.Now()
	bulkTenant := dynamotest.UniqueName("bulk-")
	var reqs []types.WriteRequest
	flush := func() {
		t.Helper()
		for len(reqs) > 0 {
			out, err := ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
			if err != nil {
				t.Fatalf("batch write: %v", err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
	var wg sync.WaitGroup
	batches := make(chan []types.WriteRequest)
	var failed sync.Once
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				for len(b) > 0 {
					out, err := ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: b}})
					if err != nil {
						failed.Do(func() { t.Errorf("batch write: %v", err) })
						break
					}
					b = out.UnprocessedItems[table]
				}
			}
		}()
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	pk := "T#" + url.QueryEscape(bulkTenant)
	for i := range totalApps - dueApps {
		id := fmt.Sprintf("app-%05d", i)
		dueAt := now.Add(305 * day).Unix()
		// The app item is kept small (the checker never reads these
		// apps, and moto copies the whole table on every transaction).
		appItem := map[string]types.AttributeValue{
			"pk": s(pk), "sk": s("APP#" + id), "tenant": s(bulkTenant), "app_id": s(id), "name": s(id), "version": n(1),
		}
		marker := map[string]types.AttributeValue{
			"pk": s(pk), "sk": s("DUE#" + id + "#apns"), "due_pk": s("DUE"), "due_at": n(dueAt),
			"tenant": s(bulkTenant), "app_id": s(id), "platform": s("apns"),
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: appItem}}, types.WriteRequest{PutRequest: &types.PutRequest{Item: marker}})
		if len(reqs) == 24 {
			batches <- reqs
			reqs = nil
		}
	}
	close(batches)
	wg.Wait()
	flush()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("wrote %d apps (with index entries) in %v", totalApps-dueApps, time.Since(start).Round(time.Millisecond))

	// The bulk apps are in the index, in the future.
	start = time.Now()
	if all, err := e.creds.Due(ctx, now.Add(400*day), credential.MaxPageLimit); err != nil || len(all) != credential.MaxPageLimit {
		t.Fatalf("index entries a year ahead = %d (%v), want a full page", len(all), err)
	}

	t.Logf("index query took %v", time.Since(start).Round(time.Millisecond))
	counter.Reset()
	gets.mu.Lock()
	gets.keys = map[string]int{}
	gets.mu.Unlock()
	start = time.Now()
	sum := e.run()
	t.Logf("run took %v", time.Since(start).Round(time.Millisecond))
	if sum.Examined != dueApps || sum.AlertsSent() != dueApps {
		t.Fatalf("summary = %+v", sum)
	}
	apps := 0
	gets.mu.Lock()
	for k := range gets.keys {
		if strings.Contains(k, " APP#") {
			apps++
		}
	}
	gets.mu.Unlock()
	tests := []struct {
		name      string
		got, want int
	}{
		{"Scan calls", counter.Calls("Scan"), 0},
		{"Query calls on the due index", counter.QueriesOn(awsdynamo.DueIndex), 1},
		{"items the due Query read", counter.Scanned("Query"), dueApps},
		{"distinct app items read", apps, dueApps},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
