package awsdynamo_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"

	"mobilepush/shared/awsdynamo"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/credential"
	"mobilepush/shared/credential/credentialtest"
	"mobilepush/shared/push"
)

func TestAWSConformance(t *testing.T) {
	cfg := dynamotest.AWSConfig(t)
	credentialtest.Run(t, func(t *testing.T) (credential.MetadataStore, credential.SecretStore) {
		return dynamotest.Stores(t, cfg)
	})
}

// newStore is a Store on a new table of the emulator whose client's calls
// pass through the given middleware.
func newStore(t testing.TB, mw ...func(*middleware.Stack) error) *awsdynamo.Store {
	t.Helper()
	ddb := dynamotest.Client(dynamotest.AWSConfig(t), mw...)
	return awsdynamo.New(ddb, dynamotest.CreateTable(t, ddb), nil)
}

// TestDueReadsOnlyTheIndex counts, with an SDK middleware, what the
// expiry query reads: one Query on the due GSI, only the due items, no Scan,
// however many apps exist.
func TestDueReadsOnlyTheIndex(t *testing.T) {
	counter := dynamotest.NewCounter()
	store := newStore(t, counter.Register)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)

	const apps = 40
	for i := range apps {
		dueAt := now.Add(time.Duration(i+1) * time.Hour) // not due
		if i%6 == 0 {
			dueAt = now.Add(-time.Duration(i+1) * time.Minute) // due
		}
		app := credential.App{
			Tenant: fmt.Sprintf("tenant-%d", i%5), ID: fmt.Sprintf("app-%02d", i), Name: "n", Environment: push.Production, Version: 1,
			CreatedAt: now, UpdatedAt: now,
			APNs: &credential.Meta{Kind: push.APNsP8, Status: credential.Status{State: credential.OK}, Secret: credential.SecretRef{ID: "s", VersionID: "v"}, DueAt: dueAt},
		}
		if i%2 == 0 { // an app without a credential has no index entry
			app.APNs = nil
		}
		if err := store.Apply(ctx, credential.Change{Tenant: app.Tenant, AppID: app.ID, App: &app}); err != nil {
			t.Fatal(err)
		}
	}
	wantDue := 0
	for i := range apps {
		if i%6 == 0 && i%2 != 0 {
			wantDue++
		}
	}

	counter.Reset()
	got, err := store.Due(ctx, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != wantDue {
		t.Fatalf("due entries = %d, want %d: %+v", len(got), wantDue, got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].DueAt.Before(got[i-1].DueAt) {
			t.Fatalf("due entries not oldest first: %+v", got)
		}
	}
	tests := []struct {
		name      string
		got, want int
	}{
		{"Scan calls", counter.Calls("Scan"), 0},
		{"Query calls", counter.Calls("Query"), 1},
		{"Query calls on the due index", counter.QueriesOn(awsdynamo.DueIndex), 1},
		{"items read", counter.Scanned("Query"), wantDue},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// TestNoScanInConformance runs the whole conformance suite's operations through
// a counting client: nothing may Scan.
func TestNoScanInConformance(t *testing.T) {
	cfg := dynamotest.AWSConfig(t)
	counter := dynamotest.NewCounter()
	credentialtest.Run(t, func(t *testing.T) (credential.MetadataStore, credential.SecretStore) {
		return dynamotest.Stores(t, cfg, counter.Register)
	})
	// The suite's subtests are parallel: count when they are all done.
	t.Cleanup(func() {
		if n := counter.Calls("Scan"); n != 0 {
			t.Errorf("Scan calls = %d, want 0", n)
		}
		if counter.Calls("Query") == 0 || counter.Calls("TransactWriteItems") == 0 {
			t.Error("the counter saw no traffic: is the middleware registered?")
		}
	})
}

func TestTableSpecFromTemplate(t *testing.T) {
	raw, err := os.ReadFile(dynamotest.TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := dynamotest.TableSpec(raw, dynamotest.TableLogicalID, "x")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want string
	}{
		{"billing", string(spec.Create.BillingMode), "PAY_PER_REQUEST"},
		{"gsi", aws.ToString(spec.Create.GlobalSecondaryIndexes[0].IndexName), awsdynamo.DueIndex},
		{"ttl attribute", aws.ToString(spec.TTL.TimeToLiveSpecification.AttributeName), "ttl"},
		{"pitr", fmt.Sprint(spec.PITR != nil), "true"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}

	bad := []struct {
		name, yaml string
	}{
		{"intrinsic", "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: !Ref Mode\n"},
		{"unknown property", "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      StreamSpecification: {StreamViewType: NEW_IMAGE}\n"},
		{"missing", "Resources:\n  Other:\n    Type: AWS::SQS::Queue\n"},
	}
	for _, tt := range bad {
		if _, err := dynamotest.TableSpec([]byte(tt.yaml), dynamotest.TableLogicalID, "x"); err == nil {
			t.Errorf("%s: TableSpec accepted it", tt.name)
		}
	}
}

// loseResponses makes the next n successful calls of operation op fail
// after DynamoDB applied them, with the connection error a response
// damaged in transit gives, so the SDK retries a request that already
// took effect.
type loseResponses struct {
	op atomic.Value // string
	n  atomic.Int32
}

func (l *loseResponses) next(op string) {
	l.op.Store(op)
	l.n.Store(1)
}

func (l *loseResponses) register(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("loseResponses",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			if err == nil && middleware.GetOperationName(ctx) == l.op.Load() && l.n.Add(-1) >= 0 {
				return out, md, &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}
			}
			return out, md, err
		}), "Retry", middleware.After)
}

// TestApplyRetryMeetsItsOwnWrite: a transaction whose response is lost
// after it was applied is retried by the SDK; the retry meets its own
// write and must report success, not a conflict (moto, unlike DynamoDB,
// ignores the ClientRequestToken that makes such a retry a no-op).
func TestApplyRetryMeetsItsOwnWrite(t *testing.T) {
	lose := &loseResponses{}
	store := newStore(t, lose.register)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	app := credential.App{Tenant: "t", ID: "a", Name: "n", Environment: push.Production, Version: 1, CreatedAt: now, UpdatedAt: now,
		APNs: &credential.Meta{Kind: push.APNsP8, Status: credential.Status{State: credential.OK}, Secret: credential.SecretRef{ID: "s", VersionID: "v"}, DueAt: now}}
	event := func(id string, v int64) []credential.Event {
		return []credential.Event{{ID: id, Tenant: "t", AppID: "a", At: now, Action: credential.ActionUpdate, Version: v}}
	}
	updated := app
	updated.Version, updated.Name = 2, "renamed"

	tests := []struct {
		name    string
		change  credential.Change
		wantApp *credential.App // nil: the app is gone
	}{
		{"create", credential.Change{Tenant: "t", AppID: "a", App: &app, Events: event("e1", 1)}, &app},
		{"update", credential.Change{Tenant: "t", AppID: "a", App: &updated, Expect: 1, Events: event("e2", 2)}, &updated},
		{"delete", credential.Change{Tenant: "t", AppID: "a", Expect: 2, Events: event("e3", 3)}, nil},
	}
	for _, tt := range tests {
		lose.next("TransactWriteItems")
		if err := store.Apply(ctx, tt.change); err != nil {
			t.Fatalf("%s: Apply after a lost response = %v, want nil", tt.name, err)
		}
		if lose.n.Load() != 0 {
			t.Fatalf("%s: no response was lost (the test does not test anything)", tt.name)
		}
		got, err := store.App(ctx, "t", "a")
		switch {
		case tt.wantApp == nil && !push.Is(err, push.NotFound):
			t.Fatalf("%s: App = %+v, %v; want NotFound", tt.name, got, err)
		case tt.wantApp != nil && (err != nil || got.Version != tt.wantApp.Version || got.Name != tt.wantApp.Name):
			t.Fatalf("%s: App = %+v, %v; want version %d named %q", tt.name, got, err, tt.wantApp.Version, tt.wantApp.Name)
		}
	}

	// The audit log and the outcome ledger are idempotent the same way.
	lose.next("PutItem")
	if err := store.AppendEvent(ctx, event("e9", 0)[0]); err != nil || lose.n.Load() != 0 {
		t.Fatalf("AppendEvent after a lost response = %v (lost: %v), want nil", err, lose.n.Load() == 0)
	}
	key := credential.MessageKey{Tenant: "t", MessageID: "m", Attempt: 1}
	if _, err := store.Lease(ctx, credential.Claim{Key: key, Owner: "w", LeaseUntil: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		t.Fatal(err)
	}
	lose.next("TransactWriteItems")
	o := credential.Outcome{Platform: push.APNs, Token: "tok", Result: push.Delivered, At: now, ExpiresAt: now.Add(time.Hour)}
	if err := store.Record(ctx, key, "w", o, now); err != nil || lose.n.Load() != 0 {
		t.Fatalf("Record after a lost response = %v (lost: %v), want nil", err, lose.n.Load() == 0)
	}
	if err := store.Record(ctx, key, "w", o, now); !errors.Is(err, credential.ErrOutcomeRecorded) {
		t.Fatalf("recording the outcome again = %v, want ErrOutcomeRecorded", err)
	}

	// A real conflict is still one: another call's write is not ours.
	lose.n.Store(0)
	err := store.Apply(ctx, credential.Change{Tenant: "t", AppID: "b", App: &credential.App{Tenant: "t", ID: "b", Name: "n", Environment: push.Production, Version: 1}, Events: event("e4", 1)})
	if err != nil {
		t.Fatal(err)
	}
	err = store.Apply(ctx, credential.Change{Tenant: "t", AppID: "b", App: &credential.App{Tenant: "t", ID: "b", Name: "other", Environment: push.Production, Version: 1}, Events: event("e5", 1)})
	if !errors.Is(err, credential.ErrAppExists) {
		t.Fatalf("creating an existing app = %v, want ErrAppExists", err)
	}
}

// TestFleetReadsOnlyTheTenantsApps counts what a filtered listing and a
// summary read: Query calls on the table only (no Scan, no GetItem, no
// index), only the caller's app items (not their due markers, not another
// tenant's apps), and no secret (the Service has no SecretStore here).
func TestFleetReadsOnlyTheTenantsApps(t *testing.T) {
	counter := dynamotest.NewCounter()
	store := newStore(t, counter.Register)
	svc := credential.NewService(credential.Config{Meta: store})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	const mine, others = 23, 7
	for i := range mine + others {
		ten := "fleet-mine"
		if i >= mine {
			ten = "fleet-other"
		}
		app := credential.App{
			Tenant: ten, ID: fmt.Sprintf("app-%02d", i), Name: fmt.Sprintf("App %d", i), Environment: push.Production, Version: 1,
			CreatedAt: now, UpdatedAt: now,
			APNs: &credential.Meta{Kind: push.APNsP12, Status: credential.Status{State: credential.Expiring}, Secret: credential.SecretRef{ID: "s", VersionID: "v"},
				Facts: credential.Facts{NotAfter: now.Add(time.Duration(i+1) * 24 * time.Hour)}, DueAt: now.Add(time.Hour)},
		}
		if i%3 == 0 {
			app.APNs.Status.State = credential.OK
		}
		if err := store.Apply(ctx, credential.Change{Tenant: ten, AppID: app.ID, App: &app}); err != nil {
			t.Fatal(err)
		}
	}
	counter.Reset()
	page, err := svc.Find(ctx, "fleet-mine", credential.Query{Text: "app", States: []credential.State{credential.Expiring}, Page: credential.Page{Limit: 5}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := svc.Summarize(ctx, "fleet-mine", 0)
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != mine-(mine+2)/3 || sum.Apps != mine || len(page.Apps) != 5 {
		t.Fatalf("listing total %d (%d apps), summary of %d apps; want %d, 5, %d", page.Total, len(page.Apps), sum.Apps, mine-(mine+2)/3, mine)
	}
	tests := []struct {
		name      string
		got, want int
	}{
		{"Scan calls", counter.Calls("Scan"), 0},
		{"GetItem calls", counter.Calls("GetItem"), 0},
		{"Query calls", counter.Calls("Query"), 2},
		{"Query calls on the table", counter.QueriesOn(""), 2},
		{"items read", counter.Scanned("Query"), 2 * mine},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}
