// Package dynamotest helps tests run the AWS stores against an emulator
// (moto_server): it gates them on AWS_ENDPOINT_URL, creates the table from
// template.yaml's own definition, so code and template cannot drift,
// opens a fresh pair of stores, and it counts the calls and items a client
// makes with an SDK middleware.
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mobilepush/shared/awsdynamo"
	"mobilepush/shared/awssecrets"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"
	"gopkg.in/yaml.v3"
)

// Client is a DynamoDB client on cfg whose calls pass through the given
// middleware (Counter.Register, Isolation.Register, a test's own).
func Client(cfg aws.Config, mw ...func(*middleware.Stack) error) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, mw...)
	})
}

// Stores returns a fresh pair of AWS stores on the emulator of cfg: an
// awsdynamo.Store on a new table, its client's calls passing through
// Isolation (moto's transactions are not isolated) and then mw, and an
// awssecrets.Store under a unique name prefix.
func Stores(t testing.TB, cfg aws.Config, mw ...func(*middleware.Stack) error) (*awsdynamo.Store, *awssecrets.Store) {
	t.Helper()
	iso := &Isolation{}
	ddb := Client(cfg, append([]func(*middleware.Stack) error{iso.Register}, mw...)...)
	secrets := awssecrets.New(secretsmanager.NewFromConfig(cfg), awssecrets.Config{Prefix: UniqueName("mobilepush-test/") + "/"})
	return awsdynamo.New(ddb, CreateTable(t, ddb), nil), secrets
}

// AWSConfig returns the SDK configuration for the emulator named by
// AWS_ENDPOINT_URL (read by the SDK itself, as in production). Without the
// variable the test is skipped with a loud message, or fails when CI=true,
// so a CI run never passes without the AWS tests.
func AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		msg := "AWS_ENDPOINT_URL is not set: start moto_server (make test does) to run the AWS store tests"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING AWS TESTS: " + msg)
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("load the AWS SDK configuration: %v", err)
	}
	return cfg
}

// TableLogicalID is the template resource that defines the table.
const TableLogicalID = "Table"

// TemplatePath returns the path of template.yaml at the module root,
// found by walking up from the working directory to go.mod.
func TemplatePath(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "template.yaml")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("dynamotest: no go.mod above the working directory")
		}
		dir = parent
	}
}

type keyElement struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

type tableProperties struct {
	BillingMode          string `yaml:"BillingMode"`
	AttributeDefinitions []struct {
		AttributeName string `yaml:"AttributeName"`
		AttributeType string `yaml:"AttributeType"`
	} `yaml:"AttributeDefinitions"`
	KeySchema              []keyElement `yaml:"KeySchema"`
	GlobalSecondaryIndexes []struct {
		IndexName  string       `yaml:"IndexName"`
		KeySchema  []keyElement `yaml:"KeySchema"`
		Projection struct {
			ProjectionType   string   `yaml:"ProjectionType"`
			NonKeyAttributes []string `yaml:"NonKeyAttributes"`
		} `yaml:"Projection"`
	} `yaml:"GlobalSecondaryIndexes"`
	PointInTimeRecoverySpecification struct {
		PointInTimeRecoveryEnabled bool `yaml:"PointInTimeRecoveryEnabled"`
	} `yaml:"PointInTimeRecoverySpecification"`
	TimeToLiveSpecification struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
	SSESpecification struct {
		SSEEnabled bool `yaml:"SSEEnabled"`
	} `yaml:"SSESpecification"`
}

// understood lists the table properties TableSpec translates; any other
// property in the template is an error, so nothing is silently dropped.
var understood = []string{
	"BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes",
	"PointInTimeRecoverySpecification", "TimeToLiveSpecification", "SSESpecification",
}

// Spec is what the template says about the table, as SDK inputs.
type Spec struct {
	Create *dynamodb.CreateTableInput
	TTL    *dynamodb.UpdateTimeToLiveInput        // nil when the template sets none
	PITR   *dynamodb.UpdateContinuousBackupsInput // nil when not enabled
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func checkNoIntrinsics(n *yaml.Node) error {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return fmt.Errorf("line %d: intrinsic function %s in the table properties", n.Line, n.Tag)
	}
	for _, c := range n.Content {
		if n.Kind == yaml.MappingNode && strings.HasPrefix(c.Value, "Fn::") {
			return fmt.Errorf("line %d: intrinsic function %s in the table properties", c.Line, c.Value)
		}
		if err := checkNoIntrinsics(c); err != nil {
			return err
		}
	}
	return nil
}

// TableSpec reads the properties of the AWS::DynamoDB::Table resource
// logicalID in a CloudFormation template and returns the SDK inputs that
// create it under the name table. Short tags elsewhere in the template
// (!Ref, !GetAtt) are fine; in the table's properties they are an error.
func TableSpec(template []byte, logicalID, table string) (Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return Spec{}, fmt.Errorf("parse template: %w", err)
	}
	if len(doc.Content) == 0 {
		return Spec{}, errors.New("empty template")
	}
	res := mapValue(mapValue(doc.Content[0], "Resources"), logicalID)
	if res == nil {
		return Spec{}, fmt.Errorf("template has no resource %s", logicalID)
	}
	if typ := mapValue(res, "Type"); typ == nil || typ.Value != "AWS::DynamoDB::Table" {
		return Spec{}, fmt.Errorf("resource %s is not an AWS::DynamoDB::Table", logicalID)
	}
	props := mapValue(res, "Properties")
	if props == nil || props.Kind != yaml.MappingNode {
		return Spec{}, fmt.Errorf("resource %s has no Properties", logicalID)
	}
	if err := checkNoIntrinsics(props); err != nil {
		return Spec{}, err
	}
	for i := 0; i < len(props.Content); i += 2 {
		if k := props.Content[i].Value; !slices.Contains(understood, k) {
			return Spec{}, fmt.Errorf("table property %s is not translated by dynamotest: add it", k)
		}
	}
	var p tableProperties
	if err := props.Decode(&p); err != nil {
		return Spec{}, fmt.Errorf("decode table properties: %w", err)
	}

	keys := func(ks []keyElement) []types.KeySchemaElement {
		var out []types.KeySchemaElement
		for _, k := range ks {
			out = append(out, types.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType)})
		}
		return out
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingMode(p.BillingMode),
		KeySchema:   keys(p.KeySchema),
	}
	for _, a := range p.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	for _, g := range p.GlobalSecondaryIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName),
			KeySchema: keys(g.KeySchema),
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionType(g.Projection.ProjectionType),
				NonKeyAttributes: g.Projection.NonKeyAttributes,
			},
		})
	}
	if p.SSESpecification.SSEEnabled {
		in.SSESpecification = &types.SSESpecification{Enabled: aws.Bool(true)}
	}
	spec := Spec{Create: in}
	if t := p.TimeToLiveSpecification; t.AttributeName != "" {
		spec.TTL = &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(table),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String(t.AttributeName), Enabled: aws.Bool(t.Enabled),
			},
		}
	}
	if p.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled {
		spec.PITR = &dynamodb.UpdateContinuousBackupsInput{
			TableName: aws.String(table),
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: aws.Bool(true),
			},
		}
	}
	return spec, nil
}

// UniqueName returns prefix followed by a random suffix: tests share one
// emulator and never reset it.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// CreateTable creates a table with a unique name from template.yaml's
// Table resource (with its TTL and point-in-time recovery settings), waits
// until it is active, deletes it when the test ends, and returns its name.
func CreateTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	raw, err := os.ReadFile(TemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	name := UniqueName("mobilepush-test-")
	spec, err := TableSpec(raw, TableLogicalID, name)
	if err != nil {
		t.Fatalf("table from template.yaml: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateTable(ctx, spec.Create); err != nil {
		t.Fatalf("create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 20*time.Second); err != nil {
		t.Fatalf("wait for table %s: %v", name, err)
	}
	if spec.TTL != nil {
		if _, err := client.UpdateTimeToLive(ctx, spec.TTL); err != nil {
			t.Fatalf("enable TTL on %s: %v", name, err)
		}
	}
	if spec.PITR != nil {
		if _, err := client.UpdateContinuousBackups(ctx, spec.PITR); err != nil {
			t.Fatalf("enable point-in-time recovery on %s: %v", name, err)
		}
	}
	return name
}

// Counter counts the DynamoDB operations a client makes and the items its
// Query and Scan calls read (ScannedCount). Add it with
// dynamodb.Options.APIOptions = append(..., counter.Register).
type Counter struct {
	mu      sync.Mutex
	calls   map[string]int
	scanned map[string]int
	indexes map[string]int // Query calls per IndexName ("" = the table)
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter {
	return &Counter{calls: map[string]int{}, scanned: map[string]int{}, indexes: map[string]int{}}
}

// Register adds the counting middleware to a client's stack.
func (c *Counter) Register(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("dynamotestCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op := middleware.GetOperationName(ctx)
			out, md, err := next.HandleInitialize(ctx, in)
			c.mu.Lock()
			defer c.mu.Unlock()
			c.calls[op]++
			switch r := out.Result.(type) {
			case *dynamodb.QueryOutput:
				c.scanned[op] += int(r.ScannedCount)
				if q, ok := in.Parameters.(*dynamodb.QueryInput); ok {
					c.indexes[aws.ToString(q.IndexName)]++
				}
			case *dynamodb.ScanOutput:
				c.scanned[op] += int(r.ScannedCount)
			}
			return out, md, err
		}), middleware.After)
}

// Calls returns how many calls of operation op (e.g. "Scan") were made.
func (c *Counter) Calls(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// Scanned returns how many items operation op read in total.
func (c *Counter) Scanned(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.scanned[op]
}

// QueriesOn returns how many Query calls targeted index ("" = the table).
func (c *Counter) QueriesOn(index string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.indexes[index]
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.scanned, c.indexes = map[string]int{}, map[string]int{}, map[string]int{}
}

// Isolation makes a client's calls safe against moto's TransactWriteItems,
// which is not isolated: it snapshots every table it touches and, when a
// condition fails, restores that snapshot, silently undoing writes other
// requests made meanwhile (moto dynamodb/models transact_write_items). Real
// DynamoDB has no such behaviour. Isolation runs each TransactWriteItems
// alone (a write lock) and every other call of the client beside the others
// (a read lock), so the emulator behaves as DynamoDB does for the calls of
// this process. Add it with dynamodb.Options.APIOptions.
type Isolation struct{ mu sync.RWMutex }

// Register adds the isolating middleware to a client's stack.
func (l *Isolation) Register(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("dynamotestIsolation",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) == "TransactWriteItems" {
				l.mu.Lock()
				defer l.mu.Unlock()
			} else {
				l.mu.RLock()
				defer l.mu.RUnlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// ReadUnits adds up, per Query answer, the read capacity units DynamoDB
// charges a strongly consistent Query: the sizes of the items returned
// (attribute names plus values, as DynamoDB sizes them), rounded up to
// 4 KB per call. Add it with dynamodb.Options.APIOptions; Take returns
// the sums since the last Take and resets them.
type ReadUnits struct {
	mu      sync.Mutex
	units   int
	bytes   int
	queries int
}

func avSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(v.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		n := 3
		for k, x := range v.Value {
			n += len(k) + avSize(x) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, x := range v.Value {
			n += avSize(x) + 1
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	}
	return 0
}

func (r *ReadUnits) Register(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("benchReadUnits",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if q, ok := out.Result.(*dynamodb.QueryOutput); ok {
				size := 0
				for _, it := range q.Items {
					for k, v := range it {
						size += len(k) + avSize(v)
					}
				}
				r.mu.Lock()
				r.queries++
				r.bytes += size
				r.units += (size + 4095) / 4096
				r.mu.Unlock()
			}
			return out, md, err
		}), middleware.After)
}

func (r *ReadUnits) Take() (units, bytes, queries int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	units, bytes, queries = r.units, r.bytes, r.queries
	r.units, r.bytes, r.queries = 0, 0, 0
	return
}
