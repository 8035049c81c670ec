package awssecrets_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/awssecrets"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// client returns a Secrets Manager client for the emulator named by
// AWS_ENDPOINT_URL, counting its calls. Without the variable the test
// skips loudly, or fails when CI=true (see dynamotest.AWSConfig).
func client(t *testing.T) (*secretsmanager.Client, *calls) {
	t.Helper()
	cfg := dynamotest.AWSConfig(t)
	c := &calls{n: map[string]int{}}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.APIOptions = append(o.APIOptions, c.register)
	}), c
}

type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) register(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.n[middleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

func stages(t *testing.T, sm *secretsmanager.Client, id string) map[string][]string {
	t.Helper()
	d, err := sm.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return d.VersionIdsToStages
}

func hasStage(m map[string][]string, ver, stage string) bool { return slices.Contains(m[ver], stage) }

func TestStagesNameTagsAndDeletion(t *testing.T) {
	sm, _ := client(t)
	ctx := context.Background()
	prefix := dynamotest.UniqueName("mobilepush-test/") + "/"
	store := awssecrets.New(sm, awssecrets.Config{Prefix: prefix, KMSKeyID: "alias/mobilepush-test"})
	owner := credential.SecretOwner{Tenant: "acme corp#1", AppID: "app-1", Platform: push.APNs}

	id, v1, err := store.CreateSecret(ctx, owner, push.NewRedacted([]byte("one")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	name := aws.ToString(d.Name)
	if !strings.HasPrefix(name, prefix+"acme_corp_1/app-1/apns-") || len(name) != len(prefix+"acme_corp_1/app-1/apns-")+16 {
		t.Errorf("secret name = %q, want prefix/tenant/app/platform-<random id>", name)
	}
	tags := map[string]string{}
	for _, tg := range d.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags["tenant"] != owner.Tenant || tags["app_id"] != owner.AppID || tags["platform"] != "apns" || tags["purpose"] != "credential" {
		t.Errorf("tags = %v", tags)
	}

	// A signing request's pending key is a secret of its own, named and
	// tagged as such.
	pendingOwner := owner
	pendingOwner.Pending = true
	pid, _, err := store.CreateSecret(ctx, pendingOwner, push.NewRedacted([]byte("pending")))
	if err != nil {
		t.Fatal(err)
	}
	pd, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(pid)})
	if err != nil {
		t.Fatal(err)
	}
	if n := aws.ToString(pd.Name); !strings.HasPrefix(n, prefix+"acme_corp_1/app-1/apns-pending-") {
		t.Errorf("pending key secret name = %q, want prefix/tenant/app/apns-pending-<random id>", n)
	}
	ptags := map[string]string{}
	for _, tg := range pd.Tags {
		ptags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if ptags["purpose"] != "pending_key" || ptags["platform"] != "apns" {
		t.Errorf("pending key tags = %v", ptags)
	}
	if aws.ToString(d.KmsKeyId) != "alias/mobilepush-test" {
		t.Errorf("kms key = %q", aws.ToString(d.KmsKeyId))
	}

	// A new version is pending; AWSCURRENT stays until Promote.
	v2, err := store.PutVersion(ctx, id, push.NewRedacted([]byte("two")))
	if err != nil {
		t.Fatal(err)
	}
	st := stages(t, sm, id)
	if !hasStage(st, v1, "AWSCURRENT") || !hasStage(st, v2, awssecrets.PendingStage) || hasStage(st, v2, "AWSCURRENT") {
		t.Fatalf("stages after PutVersion = %v", st)
	}
	for ver, want := range map[string]string{v1: "one", v2: "two"} {
		got, err := store.ReadVersion(ctx, id, ver)
		if err != nil || string(got.Reveal()) != want {
			t.Fatalf("ReadVersion(%s) = %q, %v; want %q", ver, got.Reveal(), err, want)
		}
	}
	if err := store.Promote(ctx, id, v2); err != nil {
		t.Fatal(err)
	}
	st = stages(t, sm, id)
	if !hasStage(st, v2, "AWSCURRENT") || !hasStage(st, v1, "AWSPREVIOUS") {
		t.Fatalf("stages after Promote = %v", st)
	}
	if err := store.Promote(ctx, id, v2); err != nil {
		t.Fatalf("promoting the current version again: %v", err)
	}
	// Roll back by promoting the previous version.
	if err := store.Promote(ctx, id, v1); err != nil {
		t.Fatal(err)
	}
	if st = stages(t, sm, id); !hasStage(st, v1, "AWSCURRENT") || !hasStage(st, v2, "AWSPREVIOUS") {
		t.Fatalf("stages after rollback = %v", st)
	}

	// Deletion is scheduled, not forced: the secret can be restored.
	if err := store.ScheduleDeletion(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := store.ScheduleDeletion(ctx, id); err != nil {
		t.Fatalf("scheduling twice: %v", err)
	}
	if _, err := store.ReadVersion(ctx, id, v1); !push.Is(err, push.NotFound) {
		t.Fatalf("reading a deleted secret: %v, want NotFound", err)
	}
	if _, err := sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(id)}); err != nil {
		t.Fatalf("restore a secret scheduled for deletion: %v", err)
	}
	if err := store.ScheduleDeletion(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := store.ScheduleDeletion(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"); err != nil {
		t.Fatalf("scheduling a missing secret: %v", err)
	}
}

func TestTooLargeMakesNoCall(t *testing.T) {
	sm, calls := client(t)
	store := awssecrets.New(sm, awssecrets.Config{Prefix: dynamotest.UniqueName("mobilepush-test/") + "/"})
	big := push.NewRedacted(bytes.Repeat([]byte("x"), credential.MaxSecretSize+1))
	_, _, err := store.CreateSecret(context.Background(), credential.SecretOwner{Tenant: "t", AppID: "a", Platform: push.FCM}, big)
	if !push.Is(err, push.TooLarge) {
		t.Fatalf("CreateSecret of %d bytes: %v, want TooLarge", len(big.Reveal()), err)
	}
	_, err = store.PutVersion(context.Background(), "any", big)
	if !push.Is(err, push.TooLarge) {
		t.Fatalf("PutVersion: %v, want TooLarge", err)
	}
	if n := calls.total(); n != 0 {
		t.Fatalf("%d AWS calls for values over the limit, want 0", n)
	}
	// Exactly at the limit is accepted.
	id, ver, err := store.CreateSecret(context.Background(), credential.SecretOwner{Tenant: "t", AppID: "a", Platform: push.FCM},
		push.NewRedacted(bytes.Repeat([]byte("y"), credential.MaxSecretSize)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.ScheduleDeletion(context.Background(), id) })
	if got, err := store.ReadVersion(context.Background(), id, ver); err != nil || len(got.Reveal()) != credential.MaxSecretSize {
		t.Fatalf("read back %d bytes, %v", len(got.Reveal()), err)
	}
}

func TestNotFound(t *testing.T) {
	sm, _ := client(t)
	store := awssecrets.New(sm, awssecrets.Config{})
	ctx := context.Background()
	missing := "mobilepush-test/missing-" + dynamotest.UniqueName("")
	tests := []struct {
		name string
		err  error
	}{
		{"read", func() error {
			_, err := store.ReadVersion(ctx, missing, "00000000-0000-0000-0000-000000000000")
			return err
		}()},
		{"put", func() error { _, err := store.PutVersion(ctx, missing, push.NewRedacted([]byte("x"))); return err }()},
		{"promote", store.Promote(ctx, missing, "00000000-0000-0000-0000-000000000000")},
	}
	for _, tt := range tests {
		if !push.Is(tt.err, push.NotFound) {
			t.Errorf("%s: %v, want NotFound", tt.name, tt.err)
		}
	}
}

func TestPromoteUnknownVersion(t *testing.T) {
	sm, _ := client(t)
	store := awssecrets.New(sm, awssecrets.Config{Prefix: dynamotest.UniqueName("mobilepush-test/") + "/"})
	ctx := context.Background()
	id, _, err := store.CreateSecret(ctx, credential.SecretOwner{Tenant: "t", AppID: "a", Platform: push.APNs}, push.NewRedacted([]byte("v")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.ScheduleDeletion(context.Background(), id) })
	if err := store.Promote(ctx, id, "00000000-0000-0000-0000-000000000000"); !push.Is(err, push.NotFound) {
		t.Fatalf("Promote(unknown version) = %v, want NotFound", err)
	}
}
