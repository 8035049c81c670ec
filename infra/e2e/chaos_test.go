//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/awsdynamo"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/credential"
	"mobilepush/shared/enqueue"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// chaosLambda is the shape of TestChaosSendKilled: messages of apnsPer
// APNs and fcmPer FCM tokens; the send function killed kills times, the
// kills landing killAfter after the first push of a batch, while the
// fake Apple still holds pushes (each answered after a fresh random
// delay up to apnsSpread), so every kill lands mid-batch and every run
// makes progress.
type chaosLambda struct {
	messages          int
	apnsPer, fcmPer   int
	kills             int
	apnsSpread        time.Duration // each APNs push is answered after a random delay up to this
	fcmLatency        time.Duration // each FCM send is answered after this
	leaseSeconds      int           // the send function's LEASE_SECONDS
	visibilitySeconds int           // the send queue's visibility timeout
	maxReceiveCount   int           // the send queue's redrive policy: room for the kills and moto's failures
	killAfter         time.Duration // a kill lands this long after the first push of the batch
	driveFor          time.Duration
}

// answer is what an invocation of the send function answered.
type answer struct {
	raw []byte
	err error
}

// killMidBatch waits for the batch's first push (pushes() above base),
// then kills send after killAfter, unless the invocation answers first.
// It returns the invocation's answer and whether the kill landed before
// it (the invocation then failed).
func killMidBatch(t *testing.T, send *function, done <-chan answer, pushes func() int, base int, killAfter time.Duration, kill int) (answer, bool) {
	t.Helper()
	for pushes() <= base {
		select {
		case got := <-done:
			return got, false
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case got := <-done:
		return got, false
	case <-time.After(killAfter):
	}
	if n := send.kill(); n < 2 {
		t.Fatalf("kill %d: killed %d process, want the emulator and its bootstrap", kill, n)
	}
	got := <-done
	if got.err == nil { // it answered as the kill landed
		return got, false
	}
	return got, true
}

// TestChaosSendKilled is the chaos test of the Lambda path: the send
// function's bootstrap under aws-lambda-rie is killed with SIGKILL (the
// emulator's whole process group, as a crash of the execution
// environment) in the middle of an SQS batch from moto, three times, and
// a new emulator takes over. The test drives the event source mapping
// itself: it receives the batch from moto, invokes the function with the
// SQS event, and deletes what the partial batch response reports sent;
// a killed batch is deleted from nothing, and SQS redelivers it after
// the queue's short visibility timeout (which outlasts the function's
// lease, LEASE_SECONDS). A kill lands 1 s after the batch's first push;
// the fake Apple answers each push after a random delay of up to 2 s and
// the fake Google in 1.5 s, so every kill finds pushes in flight on both
// platforms and outcomes recorded.
//
// It checks what a crash must keep true: every token ends with exactly
// one recorded outcome (delivered) in the DynamoDB ledger; the fakes,
// run by the test process so their records survive the kills, saw every
// token, and every repeat with the collapse identity and message id of
// its first push (apns-collapse-id, apns-id and payload on APNs; the
// Android tag, the APNs block's apns-collapse-id, the web push tag and
// the data's message id on FCM); each crash re-sent at least one push
// (the kill landed mid-batch), and FCM repeats were seen; nothing is
// left in flight: both queues
// empty, every message's claim done, no retry attempt.
func TestChaosSendKilled(t *testing.T) {
	requireAWS(t, "the Lambda-path chaos test")
	if testing.Short() {
		t.Skip("SKIPPING the Lambda-path chaos test: it starts and kills emulators (skipped with -short)")
	}
	cfg := chaosLambda{
		messages: 5, apnsPer: 60, fcmPer: 20, kills: 3,
		apnsSpread: 2 * time.Second, fcmLatency: 1500 * time.Millisecond,
		leaseSeconds: 10, visibilitySeconds: 14, maxReceiveCount: 8,
		killAfter: time.Second, driveFor: 3 * time.Minute,
	}
	runChaosLambda(t, cfg)
}

// requireAWS skips what (loudly) without AWS_ENDPOINT_URL, or fails
// under CI=true.
func requireAWS(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		msg := "AWS_ENDPOINT_URL is not set: start moto_server and export AWS_ENDPOINT_URL, AWS_REGION and dummy credentials (make test does) to run " + what
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING, NOT RUN: " + msg)
	}
}

// chaosMark is where the fakes' records stood at a kill.
type chaosMark struct{ apns, fcm int }

func runChaosLambda(t *testing.T, cfg chaosLambda) {
	start := time.Now()
	awsCfg := dynamotest.AWSConfig(t)
	root := filepath.Dir(dynamotest.TemplatePath(t))
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	rie := findRIE(t)
	bootstraps := buildBootstraps(t, root, dir)
	dumpLogsOnFailure(t, logDir)

	ddb := dynamodb.NewFromConfig(awsCfg)
	q := sqs.NewFromConfig(awsCfg)
	table := dynamotest.CreateTable(t, ddb)
	deadURL := createQueueWith(t, q, "mobilepush-chaos-dlq-", nil)
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": queueARN(t, q, deadURL), "maxReceiveCount": strconv.Itoa(cfg.maxReceiveCount)})
	sendURL := createQueueWith(t, q, "mobilepush-chaos-send-", map[string]string{
		"VisibilityTimeout": strconv.Itoa(cfg.visibilitySeconds), "RedrivePolicy": string(redrive)})
	prefix := dynamotest.UniqueName("mobilepush-chaos/") + "/"
	deleteSecretsAtEnd(t, secretsmanager.NewFromConfig(awsCfg), prefix)

	apple := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{Environment: push.Production, AcceptAnyIssuer: true}})
	google, googleURL, googleCert := startGoogle(t, fcmtest.Options{AcceptAnyKey: true, RecordSent: true}, cfg.fcmLatency)
	roots := writeRoots(t, dir, apple.Certificate, googleCert)
	env := functionEnv(map[string]string{
		"TABLE_NAME":            table,
		"SECRET_PREFIX":         prefix,
		"SEND_QUEUE_URL":        sendURL,
		"DEAD_LETTER_QUEUE_URL": deadURL,
		"LEASE_SECONDS":         strconv.Itoa(cfg.leaseSeconds),
		"APNS_PRODUCTION_URL":   apple.URL,
		"APNS_SANDBOX_URL":      apple.URL,
		"FCM_URL":               googleURL,
		"GOOGLE_TOKEN_URL":      googleURL + fcmtest.TokenPath,
		"TENANT_CLAIM":          "tenant",
		"SSL_CERT_FILE":         roots,
		"SSL_CERT_DIR":          filepath.Dir(roots),
	})
	fenv := func(name string) []string {
		return append(slices.Clone(env), "AWS_LAMBDA_FUNCTION_NAME=mobilepush-chaos-"+name, "AWS_LAMBDA_FUNCTION_TIMEOUT=60")
	}
	register := startFunction(t, rie, "register", bootstraps["register"], logDir, fenv("register"))
	ctx, cancel := context.WithTimeout(context.Background(), cfg.driveFor+time.Minute)
	defer cancel()

	// An app with both platforms, registered through the register function.
	tenant := dynamotest.UniqueName("tenant-chaos-")
	claims := map[string]string{"tenant": tenant, "sub": "chaos-operator"}
	const bundle = "com.example.chaos"
	sa, err := testcred.ServiceAccount{ProjectID: dynamotest.UniqueName("chaos-"), Key: rsaKey(t)}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID string `json:"id"`
	}
	status, body := callAPI(t, ctx, register, http.MethodPost, "/v1/apps", nil, claims, map[string]any{
		"name": "Chaos app", "environment": "production",
		"apns": map[string]any{"bundle_id": bundle, "p12_base64": base64.StdEncoding.EncodeToString(mintP12(t, bundle, time.Now().Add(90*24*time.Hour), "chaos")), "password": "chaos"},
		"fcm":  map[string]any{"service_account_json": string(sa)},
	}, &created)
	if status != http.StatusCreated || created.ID == "" {
		t.Fatalf("register: status %d, want 201 with an id: %s", status, body)
	}
	register.stop()

	// The messages, enqueued with the Go client.
	client, err := enqueue.New(q, enqueue.Config{QueueURL: sendURL})
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]*push.Message, cfg.messages)
	mine := map[string]string{} // token -> its message id
	for i := range msgs {
		m := enqueue.NewMessage(tenant, created.ID)
		for range cfg.apnsPer {
			m.Tokens.APNs = append(m.Tokens.APNs, hexToken(t))
		}
		for j := range cfg.fcmPer {
			m.Tokens.FCM = append(m.Tokens.FCM, fmt.Sprintf("chaos-fcm-%d-%d-%s", i, j, dynamotest.UniqueName("")))
		}
		m.Notification = push.Notification{Title: "Sale", Body: fmt.Sprintf("message %d", i)}
		m.Data = map[string]string{"case": "chaos"}
		msgs[i] = m
	}
	res, err := client.Send(ctx, msgs...)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	for i, r := range res {
		if r.Err != nil || r.MessageID == "" {
			t.Fatalf("enqueue message %d: %+v", i, r)
		}
		for _, tok := range msgs[i].Tokens.APNs {
			mine[tok] = r.MessageID
		}
		for _, tok := range msgs[i].Tokens.FCM {
			mine[tok] = r.MessageID
		}
	}
	t.Logf("setup done in %s: %d messages, %d tokens", time.Since(start).Round(time.Millisecond), len(msgs), len(mine))

	// Every APNs push is answered after a random delay (a new one for each
	// repeat), so answers and outcomes trickle in and a kill always finds
	// pushes in flight.
	for tok := range mine {
		if len(tok) == 64 { // APNs (hex); the FCM tokens start "chaos-fcm-"
			rs := make([]apnstest.Response, cfg.kills+1)
			for i := range rs {
				rs[i].Delay = mrand.N(cfg.apnsSpread)
			}
			apple.Script(tok, rs...)
		}
	}
	store := awsdynamo.New(ddb, table, time.Now)
	recorded := func() int {
		n := 0
		for _, r := range res {
			outs, err := store.Outcomes(ctx, credential.MessageKey{Tenant: tenant, MessageID: r.MessageID})
			if err != nil {
				t.Fatalf("outcomes of %s: %v", r.MessageID, err)
			}
			n += len(outs)
		}
		return n
	}

	// The drive: Lambda's SQS event source mapping, played by the test.
	gen := 1
	send := startFunction(t, rie, fmt.Sprintf("send-%d", gen), bootstraps["send"], logDir, fenv("send"))
	var marks []chaosMark
	deadline := time.Now().Add(cfg.driveFor)
	for batches := 0; ; {
		if time.Now().After(deadline) {
			t.Fatalf("the drive did not finish within %s (%d kills, %d of %d outcomes recorded)", cfg.driveFor, len(marks), recorded(), len(mine))
		}
		batch := receiveBatch(t, ctx, q, sendURL, time.Second)
		if len(batch) == 0 {
			if queueDrained(t, ctx, q, sendURL) {
				if len(marks) < cfg.kills {
					t.Fatalf("every message was sent before kill %d (%d of %d outcomes recorded)", len(marks)+1, recorded(), len(mine))
				}
				break
			}
			continue
		}
		batches++
		done := make(chan answer, 1)
		began, base := time.Now(), len(apple.Requests())
		go func() {
			raw, err := send.post(ctx, sqsEvent(sendURL, awsCfg.Region, batch...))
			done <- answer{raw, err}
		}()
		var got answer
		killed, at := false, 0
		if len(marks) < cfg.kills {
			got, killed = killMidBatch(t, send, done, func() int { return len(apple.Requests()) }, base, cfg.killAfter, len(marks)+1)
			if killed {
				at = recorded()
			}
		} else {
			got = <-done
		}
		if killed {
			if at >= len(mine) {
				t.Fatalf("kill %d landed after every outcome was recorded: not mid-batch", len(marks)+1)
			}
			// The fakes finish recording what the dead process sent.
			time.Sleep(cfg.fcmLatency + 200*time.Millisecond)
			marks = append(marks, chaosMark{len(apple.Requests()), len(google.Sent())})
			t.Logf("kill %d: SIGKILL %d ms into batch %d of %d records, %d of %d outcomes recorded (invoke: %v); the fakes hold %d APNs and %d FCM pushes; SQS redelivers in %d s",
				len(marks), time.Since(began).Milliseconds(), batches, len(batch), at, len(mine), got.err, marks[len(marks)-1].apns, marks[len(marks)-1].fcm, cfg.visibilitySeconds)
			gen++
			send = startFunction(t, rie, fmt.Sprintf("send-%d", gen), bootstraps["send"], logDir, fenv("send"))
			continue // nothing is deleted: the batch comes back after its visibility timeout
		}
		if got.err != nil {
			t.Fatalf("invoke send (batch %d): %v", batches, got.err)
		}
		var resp events.SQSEventResponse
		if err := json.Unmarshal(got.raw, &resp); err != nil {
			t.Fatalf("decode the batch response %s: %v", got.raw, err)
		}
		deleteSucceeded(t, ctx, q, sendURL, batch, resp)
		t.Logf("batch %d: %d records in %s, %d reported failed", batches, len(batch), time.Since(began).Round(time.Millisecond), len(resp.BatchItemFailures))
		if len(resp.BatchItemFailures) > 0 { // redelivered after the visibility timeout; say why
			for _, line := range strings.Split(readFile(send.logPath), "\n") {
				if strings.Contains(line, `"record_failed"`) {
					t.Logf("batch %d: %s", batches, truncate([]byte(line), 400))
				}
			}
		}
	}
	send.stop()
	t.Logf("drive done in %s after %d kills", time.Since(start).Round(time.Millisecond), len(marks))

	// Every token has exactly one recorded outcome, and every claim is done.
	for i, m := range msgs {
		id := res[i].MessageID
		key := credential.MessageKey{Tenant: tenant, MessageID: id}
		outs, err := store.Outcomes(ctx, key)
		if err != nil {
			t.Fatalf("outcomes of %s: %v", id, err)
		}
		want := map[string]bool{}
		for _, tok := range slices.Concat(m.Tokens.APNs, m.Tokens.FCM) {
			want[tok] = true
		}
		got := map[string]int{}
		for _, o := range outs {
			got[o.Token]++
			if !want[o.Token] || o.Result != push.Delivered {
				t.Errorf("message %s: outcome %+v, want delivered for one of its tokens", id, o)
			}
		}
		for tok := range want {
			if got[tok] != 1 {
				t.Errorf("message %s: token %s has %d recorded outcomes, want 1", id, tok, got[tok])
			}
		}
		if len(outs) != len(want) {
			t.Errorf("message %s: %d outcomes for %d tokens", id, len(outs), len(want))
		}
		if c, err := store.Claim(ctx, key); err != nil || c.State != credential.Done {
			t.Errorf("message %s: claim %+v (%v), want done", id, c, err)
		}
		if c, err := store.Claim(ctx, credential.MessageKey{Tenant: tenant, MessageID: id, Attempt: 1}); !push.Is(err, push.NotFound) {
			t.Errorf("message %s: a retry attempt was claimed (%+v, %v); the fakes answered every push 200", id, c, err)
		}
	}
	assertQueueEmpty(t, ctx, q, sendURL, "send queue")
	assertQueueEmpty(t, ctx, q, deadURL, "dead-letter queue")

	// Every repeat carries the identity of its first push.
	apnsResends, fcmResends := make([]int, len(marks)), make([]int, len(marks))
	crashOf := func(at int, mark func(chaosMark) int) int {
		c := 0
		for c < len(marks)-1 && mark(marks[c]) <= at {
			c++
		}
		return c
	}
	seen := map[string]bool{}
	firstAPNs, lastAPNs := map[string]apnstest.Request{}, map[string]int{}
	for i, r := range apple.Requests() {
		id, ok := mine[r.Token]
		if !ok {
			continue
		}
		seen[r.Token] = true
		var payload map[string]any
		if err := json.Unmarshal(r.Payload, &payload); err != nil {
			t.Fatalf("payload of an APNs push: %v", err)
		}
		if want := push.DeriveCollapseID(tenant, id); r.CollapseID != want || payload[push.MessageIDKey] != id {
			t.Errorf("APNs push of message %s: apns-collapse-id %q, %s %v; want %q, %q", id, r.CollapseID, push.MessageIDKey, payload[push.MessageIDKey], want, id)
		}
		if at, repeat := lastAPNs[r.Token]; repeat {
			apnsResends[crashOf(at, func(m chaosMark) int { return m.apns })]++
		}
		lastAPNs[r.Token] = i
		f, repeat := firstAPNs[r.Token]
		if !repeat {
			firstAPNs[r.Token] = r
			continue
		}
		if r.CollapseID != f.CollapseID || r.Header.Get("apns-id") != f.Header.Get("apns-id") || !bytes.Equal(r.Payload, f.Payload) {
			t.Errorf("an APNs repeat of message %s differs from its first push: collapse id %q / %q, apns-id %q / %q, payload %s / %s",
				id, r.CollapseID, f.CollapseID, r.Header.Get("apns-id"), f.Header.Get("apns-id"), r.Payload, f.Payload)
		}
	}
	firstFCM, lastFCM := map[string]fcmtest.Sent{}, map[string]int{}
	for i, s := range google.Sent() {
		id, ok := mine[s.Token]
		if !ok {
			continue
		}
		seen[s.Token] = true
		want := push.DeriveCollapseID(tenant, id)
		if s.AndroidTag != want || s.APNsCollapseID != want || s.WebpushTag != want || s.MessageID != id {
			t.Errorf("FCM push of message %s = %+v; want tag, apns-collapse-id and web push tag %q, message id %q", id, s, want, id)
		}
		if at, repeat := lastFCM[s.Token]; repeat {
			fcmResends[crashOf(at, func(m chaosMark) int { return m.fcm })]++
		}
		lastFCM[s.Token] = i
		f, repeat := firstFCM[s.Token]
		if !repeat {
			firstFCM[s.Token] = s
			continue
		}
		if s != f {
			t.Errorf("an FCM repeat of message %s differs from its first push: %+v / %+v", id, s, f)
		}
	}
	if len(seen) != len(mine) {
		t.Errorf("the fakes saw %d of %d tokens", len(seen), len(mine))
	}
	fcmRepeats := 0
	for c := range marks {
		if apnsResends[c] == 0 {
			t.Errorf("crash %d re-sent no APNs push: the kill did not land with pushes in flight", c+1)
		}
		fcmRepeats += fcmResends[c]
	}
	if fcmRepeats == 0 {
		t.Errorf("no crash re-sent an FCM push: the FCM repeats went unchecked")
	}
	t.Logf("chaos: %d tokens, %d APNs and %d FCM pushes; re-sent per crash: APNs %v, FCM %v; passed in %s",
		len(mine), len(apple.Requests()), len(google.Sent()), apnsResends, fcmResends, time.Since(start).Round(time.Millisecond))
}

// startGoogle serves a fake Google with opts over HTTP/2 TLS on
// loopback, every send read in full, then held for latency (not the
// validate_only ones), then handled
// by the fake even when its client died meanwhile: Google has the push
// the moment it has the request, and may deliver it. It returns the
// fake, its base URL and its certificate.
func startGoogle(t *testing.T, opts fcmtest.Options, latency time.Duration) (*fcmtest.Fake, string, *x509.Certificate) {
	t.Helper()
	fake := fcmtest.New(opts)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, ":send") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return // not received in full: the client died first
			}
			var req struct {
				ValidateOnly bool `json:"validate_only"`
			}
			if json.Unmarshal(body, &req) == nil && !req.ValidateOnly { // the sender's warm-up check is not held
				time.Sleep(latency)
			}
			r = r.WithContext(context.WithoutCancel(r.Context()))
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		fake.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return fake, srv.URL, srv.Certificate()
}

// receiveBatch receives up to 10 messages from queueURL (every attribute,
// as the event source mapping does), waiting at most wait for the first.
func receiveBatch(t *testing.T, ctx context.Context, q *sqs.Client, queueURL string, wait time.Duration) []sqstypes.Message {
	t.Helper()
	out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: int32(wait / time.Second),
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		t.Fatalf("receive from %s: %v", queueURL, err)
	}
	return out.Messages
}

// deleteSucceeded deletes the records of batch the partial batch
// response resp does not report failed, as the event source mapping
// does.
func deleteSucceeded(t *testing.T, ctx context.Context, q *sqs.Client, queueURL string, batch []sqstypes.Message, resp events.SQSEventResponse) {
	t.Helper()
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range batch {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(entries) == 0 {
		return
	}
	out, err := q.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
	if err != nil {
		t.Fatalf("delete the sent records: %v", err)
	}
	if len(out.Failed) != 0 {
		t.Fatalf("delete the sent records: %d failed: %+v", len(out.Failed), out.Failed)
	}
}

// queueDrained reports whether queueURL holds no message, visible, in
// flight or delayed.
func queueDrained(t *testing.T, ctx context.Context, q *sqs.Client, queueURL string) bool {
	t.Helper()
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		t.Fatalf("queue attributes: %v", err)
	}
	for _, v := range out.Attributes {
		if n, _ := strconv.Atoi(v); n != 0 {
			return false
		}
	}
	return true
}

// queueARN returns the ARN of queueURL.
func queueARN(t *testing.T, q *sqs.Client, queueURL string) string {
	t.Helper()
	out, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("queue arn: %v", err)
	}
	return out.Attributes["QueueArn"]
}
