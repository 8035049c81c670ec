package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"mobilepush/shared/alert"
	"mobilepush/shared/awsdynamo"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/awsevents/eventstest"
	"mobilepush/shared/awssecrets"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// TestRunReportsMissingConfiguration: run fails at init, before serving,
// and names every problem at once.
func TestRunReportsMissingConfiguration(t *testing.T) {
	env := map[string]string{"EXPIRY_THRESHOLDS_DAYS": "30,0", "APNS_PRODUCTION_URL": "not a url"}
	err := run(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("run succeeded without configuration")
	}
	for _, want := range []string{"TABLE_NAME is not set", "EVENT_BUS_NAME is not set", "threshold 0", "APNS_PRODUCTION_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// TestHandlerWithSchedulePayload invokes the handler as EventBridge
// Scheduler does (the template's raw Input, no envelope) against moto: a
// certificate with 5 days left gets its 7-day alert on the bus (read from
// an SQS tap of the alert rule), and the metrics are embedded-metric lines.
func TestHandlerWithSchedulePayload(t *testing.T) {
	cfg := dynamotest.AWSConfig(t)
	ctx := context.Background()
	iso := &dynamotest.Isolation{}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, iso.Register) })
	table := dynamotest.CreateTable(t, ddb)
	prefix := dynamotest.UniqueName("mobilepush-test/") + "/"
	q := sqs.NewFromConfig(cfg)
	bus, queue := eventstest.Tap(t, eventbridge.NewFromConfig(cfg), q)

	creds := credential.NewService(credential.Config{
		Meta:    awsdynamo.New(ddb, table, nil),
		Secrets: awssecrets.New(secretsmanager.NewFromConfig(cfg), awssecrets.Config{Prefix: prefix}),
	})
	tenant := dynamotest.UniqueName("tenant-")
	app, err := creds.Create(ctx, credential.CreateRequest{Tenant: tenant, Name: "Soon", Enabled: true, APNs: &credential.Upload{
		Material: credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted([]byte("chain")), PrivateKeyPEM: push.NewRedacted([]byte("key"))},
		Facts:    credential.Facts{FingerprintSHA256: "f1", BundleID: "com.example.soon", NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)},
	}})
	if err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"TABLE_NAME": table, "EVENT_BUS_NAME": bus, "SECRET_PREFIX": prefix}
	var metrics, logs bytes.Buffer
	h, err := newHandler(ctx, func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)), &metrics)
	if err != nil {
		t.Fatal(err)
	}
	payload := json.RawMessage(`{"source":"mobilepush.schedule","check":"expiry"}`)
	sum, err := h(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Examined != 1 || sum.Alerts["7"] != 1 || sum.Errors != 0 {
		t.Fatalf("summary = %+v; logs: %s", sum, logs.String())
	}
	got := eventstest.Receive(t, q, queue, 1, 5*time.Second)
	if got[0].DetailType != string(alert.CredentialExpiring) || got[0].Detail.AppID != app.ID || got[0].Detail.ThresholdDays != 7 || *got[0].Detail.DaysLeft != 5 {
		t.Fatalf("event = %+v", got[0])
	}
	if !strings.Contains(logs.String(), `"msg":"expiry_run"`) {
		t.Errorf("no run summary in the log: %s", logs.String())
	}
	first, _, _ := strings.Cut(metrics.String(), "\n")
	var emf struct {
		AWS struct {
			CloudWatchMetrics []struct{ Namespace string } `json:"CloudWatchMetrics"`
		} `json:"_aws"`
		AlertsSent int
	}
	if err := json.Unmarshal([]byte(first), &emf); err != nil || len(emf.AWS.CloudWatchMetrics) != 1 || emf.AlertsSent != 1 {
		t.Errorf("metrics line %q: %v", first, err)
	}

	// The next daily run has nothing due.
	if sum, err := h(ctx, payload); err != nil || sum.Examined != 0 {
		t.Fatalf("second run = %+v, %v", sum, err)
	}
}
