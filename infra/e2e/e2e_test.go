//go:build linux

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
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
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gopkg.in/yaml.v3"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/alert"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/awsevents/eventstest"
	"mobilepush/shared/enqueue"
	"mobilepush/shared/expiry"
	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/h2client"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// TestE2E proves the four functions end to end as the binaries Lambda
// would run: each bootstrap under its own aws-lambda-rie,
// against moto_server and the fake APNs and FCM, driven with the events
// Lambda delivers:
//
//  1. register: POST /v1/apps (API Gateway HTTP API v2 event, JWT
//     authorizer claims) with a .p12 certificate expiring in 20 days and
//     a service account -> 201;
//  2. validate: POST /v1/apps/{id}/validate -> live_ok on both platforms;
//  3. enqueue with shared/enqueue to the send queue in moto, receive it,
//     and invoke send with the SQS event built from it -> the fakes got
//     exactly one push per token, no batch item failures, and the token
//     the fake Apple answers 410 Unregistered is announced in a "Device
//     Tokens Invalid" event on the bus;
//  4. expiry with the schedule's Input from template.yaml -> a "Push
//     Credential Expiring" event for the 30-day threshold (the
//     certificate's thresholds are already crossed: no clock moves);
//  5. register again, certificates without a Mac: POST
//     /v1/apps/{id}/apns/csr, Apple's aps.cer for the request (the
//     stand-in authority) uploaded with cer_base64 -> live_ok, the request
//     consumed and its key's secret scheduled for deletion.
//
// Events are read from SQS taps on the bus (moto cannot deliver to the
// template's SNS target).
func TestE2E(t *testing.T) {
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		const msg = "AWS_ENDPOINT_URL is not set: start moto_server and export AWS_ENDPOINT_URL, AWS_REGION and dummy credentials (make test does) to run the end-to-end test"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING E2E, NOT RUN: " + msg)
	}
	cfg := dynamotest.AWSConfig(t)
	start := time.Now()
	root := filepath.Dir(dynamotest.TemplatePath(t))
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}

	rie := findRIE(t)
	bootstraps := buildBootstraps(t, root, dir)
	t.Logf("built in %s", time.Since(start).Round(time.Millisecond))
	// The whole drive once per HTTP/2 stack the functions may send over
	// (the template's Http2Client parameter, HTTP2_CLIENT).
	for _, stack := range h2client.Stacks {
		t.Run(string(stack), func(t *testing.T) {
			e2eDrive(t, e2eSetup{cfg: cfg, root: root, rie: rie, bootstraps: bootstraps, logDir: logDir}, stack)
		})
	}
}

// e2eSetup is what the drives of TestE2E share: the AWS configuration,
// the module root, aws-lambda-rie, the built functions and the log
// directory.
type e2eSetup struct {
	cfg        aws.Config
	root, rie  string
	bootstraps map[string]string
	logDir     string
}

// e2eDrive is TestE2E's drive with the functions sending over stack, on
// AWS resources and fakes of its own.
func e2eDrive(t *testing.T, set e2eSetup, stack h2client.Stack) {
	start := time.Now()
	cfg, root, rie, bootstraps := set.cfg, set.root, set.rie, set.bootstraps
	dir := t.TempDir()
	logDir := filepath.Join(set.logDir, string(stack))
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	dumpLogsOnFailure(t, logDir)

	// AWS resources in moto, unique to this run (moto is shared and never reset).
	ddb := dynamodb.NewFromConfig(cfg)
	q := sqs.NewFromConfig(cfg)
	eb := eventbridge.NewFromConfig(cfg)
	table := dynamotest.CreateTable(t, ddb)
	bus, tapURL := eventstest.Tap(t, eb, q) // credential events -> tap
	tapTokenEvents(t, eb, q, bus, tapURL)   // and Device Tokens Invalid, which the template's rule does not route
	sendURL := createQueue(t, q, "mobilepush-e2e-send-")
	deadURL := createQueue(t, q, "mobilepush-e2e-dlq-")
	prefix := dynamotest.UniqueName("mobilepush-e2e/") + "/"
	deleteSecretsAtEnd(t, secretsmanager.NewFromConfig(cfg), prefix)

	// The fake Apple (production and sandbox) and Google.
	apnsProd := startAPNs(t, push.Production)
	apnsSandbox := startAPNs(t, push.Sandbox)
	google := fcmtest.NewServer(t, fcmtest.Options{AcceptAnyKey: true, RecordMessages: true})
	roots := writeRoots(t, dir, apnsProd.Certificate, apnsSandbox.Certificate, serverCertificate(t, google.URL, google.RootCAs))

	env := functionEnv(map[string]string{
		"TABLE_NAME":            table,
		"SECRET_PREFIX":         prefix,
		"EVENT_BUS_NAME":        bus,
		"SEND_QUEUE_URL":        sendURL,
		"DEAD_LETTER_QUEUE_URL": deadURL,
		"APNS_PRODUCTION_URL":   apnsProd.URL,
		"APNS_SANDBOX_URL":      apnsSandbox.URL,
		"FCM_URL":               google.URL,
		"GOOGLE_TOKEN_URL":      google.TokenURL,
		"TENANT_CLAIM":          "tenant",
		"HTTP2_CLIENT":          string(stack),
		"SSL_CERT_FILE":         roots,
		"SSL_CERT_DIR":          filepath.Dir(roots), // only our roots: nothing else is trusted
	})
	fns := map[string]*function{}
	for _, name := range functionNames {
		fenv := append(slices.Clone(env), "AWS_LAMBDA_FUNCTION_NAME=mobilepush-e2e-"+name, "AWS_LAMBDA_FUNCTION_TIMEOUT=60")
		fns[name] = startFunction(t, rie, name, bootstraps[name], logDir, fenv)
	}
	t.Logf("setup done in %s: table %s, bus %s, 4 emulators", time.Since(start).Round(time.Millisecond), table, bus)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute) // bounds the drive below; each invocation has 90 s
	defer cancel()

	tenant := dynamotest.UniqueName("tenant-e2e-")
	claims := map[string]string{"tenant": tenant, "sub": "e2e-operator"}

	// 1. Register an app with a certificate expiring in 20 days and a service account.
	const bundle = "com.example.e2e"
	notAfter := time.Now().Add(20*24*time.Hour + time.Hour)
	p12 := mintP12(t, bundle, notAfter, "e2e-password")
	project := dynamotest.UniqueName("e2e-")
	sa, err := testcred.ServiceAccount{ProjectID: project, Key: rsaKey(t)}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	createBody := map[string]any{
		"name":        "E2E app",
		"environment": "production",
		"apns":        map[string]any{"bundle_id": bundle, "p12_base64": base64.StdEncoding.EncodeToString(p12), "password": "e2e-password"},
		"fcm":         map[string]any{"service_account_json": string(sa)},
	}
	var created struct {
		ID   string `json:"id"`
		APNs struct {
			Status   string `json:"status"`
			NotAfter string `json:"not_after"`
		} `json:"apns"`
		FCM struct {
			Status    string `json:"status"`
			ProjectID string `json:"project_id"`
		} `json:"fcm"`
	}
	status, body := callAPI(t, ctx, fns["register"], http.MethodPost, "/v1/apps", nil, claims, createBody, &created)
	if status != http.StatusCreated || created.ID == "" {
		t.Fatalf("register: status %d, want 201 with an id: %s", status, body)
	}
	t.Logf("registered app %s (apns %s, fcm %s)", created.ID, created.APNs.Status, created.FCM.Status)

	// 2. Validate it: both platforms proven live against the fakes.
	var validated struct {
		Validations []struct {
			Platform string `json:"platform"`
			Status   struct {
				State string `json:"state"`
			} `json:"status"`
			Live struct {
				Code string `json:"code"`
			} `json:"live"`
		} `json:"validations"`
	}
	path := "/v1/apps/" + created.ID + "/validate"
	status, body = callAPI(t, ctx, fns["validate"], http.MethodPost, path, map[string]string{"id": created.ID}, claims, nil, &validated)
	if status != http.StatusOK {
		t.Fatalf("validate: status %d: %s", status, body)
	}
	live := map[string]string{}
	for _, v := range validated.Validations {
		live[v.Platform] = v.Live.Code
	}
	if want := map[string]string{"apns": "live_ok", "fcm": "live_ok"}; !maps.Equal(live, want) {
		t.Fatalf("validate: live codes %v, want %v: %s", live, want, body)
	}

	// 3. Enqueue a message with the Go client; send it as Lambda would.
	apnsTokens := []string{hexToken(t), hexToken(t), hexToken(t)}
	dead := apnsTokens[1]
	apnsProd.Script(dead, apnstest.Response{Status: http.StatusGone, Reason: "Unregistered"})
	fcmTokens := []string{"e2e-fcm-" + dynamotest.UniqueName("a-"), "e2e-fcm-" + dynamotest.UniqueName("b-")}
	apnsProd.Reset()
	apnsSandbox.Reset()
	fcmBefore, checkBefore := google.TotalRequests(), google.Requests(fcm.CheckToken)

	client, err := enqueue.New(q, enqueue.Config{QueueURL: sendURL})
	if err != nil {
		t.Fatal(err)
	}
	msg := enqueue.NewMessage(tenant, created.ID)
	msg.Tokens = push.Tokens{APNs: apnsTokens, FCM: fcmTokens}
	msg.Notification = push.Notification{Title: "E2E", Body: "end to end"}
	msg.Data = map[string]string{"case": "e2e"}
	res, err := client.Send(ctx, msg)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	sqsMsg := receiveOne(t, ctx, q, sendURL)
	if got := aws.ToString(sqsMsg.MessageId); got != res[0].SQSMessageID {
		t.Fatalf("received SQS message %s, enqueued %s", got, res[0].SQSMessageID)
	}
	var sendResp events.SQSEventResponse
	fns["send"].invoke(t, ctx, sqsEvent(sendURL, cfg.Region, sqsMsg), &sendResp)
	if len(sendResp.BatchItemFailures) != 0 {
		t.Fatalf("send: batch item failures %+v", sendResp.BatchItemFailures)
	}
	// Lambda deletes the messages of a successful batch.
	if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(sendURL), ReceiptHandle: sqsMsg.ReceiptHandle}); err != nil {
		t.Fatalf("delete the sent message: %v", err)
	}

	counts := apnsProd.Counts()
	wantAPNs := map[string]int{}
	for _, tok := range apnsTokens {
		wantAPNs[tok] = 1
	}
	if !maps.Equal(counts.ByToken, wantAPNs) {
		t.Errorf("fake APNs (production) pushes per token = %v, want %v", counts.ByToken, wantAPNs)
	}
	if counts.ByStatus[http.StatusOK] != 2 || counts.ByStatus[http.StatusGone] != 1 {
		t.Errorf("fake APNs answers = %v, want 2x200 and 1x410", counts.ByStatus)
	}
	if n := apnsSandbox.Total(); n != 0 {
		t.Errorf("fake APNs (sandbox) got %d pushes for a production app", n)
	}
	for _, tok := range fcmTokens {
		if n := google.Requests(tok); n != 1 {
			t.Errorf("fake FCM got %d pushes for %s, want 1", n, tok)
		}
	}
	// Besides the pushes, the sender may warm a new FCM client up with one
	// validate_only send to fcm.CheckToken (never a device).
	warm := google.Requests(fcm.CheckToken) - checkBefore
	if n := google.TotalRequests() - fcmBefore; n != len(fcmTokens)+warm || warm > 1 {
		t.Errorf("fake FCM got %d sends, want %d pushes and at most one warm-up (%d)", n, len(fcmTokens), warm)
	}
	if m, ok := google.MessageFor(fcmTokens[0]); !ok || m.Project != project || m.ValidateOnly {
		t.Errorf("fake FCM message for %s = %+v (ok %v), want a real send to project %s", fcmTokens[0], m, ok, project)
	} else {
		var fm struct {
			Notification struct{ Title, Body string } `json:"notification"`
			Data         map[string]string            `json:"data"`
		}
		if err := m.Decode(&fm); err != nil || fm.Notification.Title != "E2E" || fm.Data["case"] != "e2e" {
			t.Errorf("fake FCM message = %s (%v), want title E2E and data case=e2e", m.Raw, err)
		}
	}
	if r, ok := apnsProd.LastFor(apnsTokens[0]); !ok || r.Topic != bundle || r.Status != http.StatusOK {
		t.Errorf("fake APNs request for %s = %+v (ok %v), want topic %s answered 200", apnsTokens[0], r, ok, bundle)
	} else {
		var am struct {
			APS struct {
				Alert struct{ Title, Body string } `json:"alert"`
			} `json:"aps"`
			Case string `json:"case"`
		}
		if err := json.Unmarshal(r.Payload, &am); err != nil || am.APS.Alert.Title != "E2E" || am.Case != "e2e" {
			t.Errorf("fake APNs payload = %s (%v), want alert title E2E and case=e2e", r.Payload, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	inv := waitEvent(t, q, tapURL, alert.TokensInvalid, created.ID, 20*time.Second)
	if !slices.Equal(inv.Detail.DeviceTokens, []string{dead}) || inv.Detail.Platform != push.APNs || inv.Detail.Tenant != tenant {
		t.Fatalf("Device Tokens Invalid detail = %+v, want the APNs token %s of tenant %s", inv.Detail, dead, tenant)
	}
	assertQueueEmpty(t, ctx, q, sendURL, "send queue (no retries)")
	assertQueueEmpty(t, ctx, q, deadURL, "dead-letter queue")

	// 4. The daily expiry run, with the schedule's own payload.
	var sum expiry.Summary
	fns["expiry"].invoke(t, ctx, json.RawMessage(scheduleInput(t, root)), &sum)
	if sum.Examined != 1 || sum.Alerts["30"] != 1 || sum.Errors != 0 {
		t.Fatalf("expiry summary = %+v, want 1 examined and one 30-day alert", sum)
	}
	exp := waitEvent(t, q, tapURL, alert.CredentialExpiring, created.ID, 20*time.Second)
	d := exp.Detail
	if d.Platform != push.APNs || d.BundleID != bundle || d.ThresholdDays != 30 || d.DaysLeft == nil || *d.DaysLeft != 20 || d.Tenant != tenant {
		t.Fatalf("Push Credential Expiring detail = %+v, want APNs %s, threshold 30, 20 days left", d, bundle)
	}

	// 5. Certificates without a Mac, through the register function.
	driveSigningRequest(t, ctx, fns["register"], claims, apnsProd, secretsmanager.NewFromConfig(cfg), prefix)
	t.Logf("E2E passed in %s", time.Since(start).Round(time.Millisecond))
}

// functionEnv is the complete environment of every emulator and its
// bootstrap: the AWS endpoint, region and credentials of this test
// process, and vars. Nothing else is inherited (no profiles, no proxies).
func functionEnv(vars map[string]string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_ENDPOINT_URL=" + os.Getenv("AWS_ENDPOINT_URL"),
		"AWS_REGION=" + cmpOr(os.Getenv("AWS_REGION"), "us-east-1"),
		"AWS_ACCESS_KEY_ID=" + cmpOr(os.Getenv("AWS_ACCESS_KEY_ID"), "testing"),
		"AWS_SECRET_ACCESS_KEY=" + cmpOr(os.Getenv("AWS_SECRET_ACCESS_KEY"), "testing"),
		"AWS_EC2_METADATA_DISABLED=true",
		"LOG_LEVEL=info",
	}
	if s := os.Getenv("AWS_SESSION_TOKEN"); s != "" {
		env = append(env, "AWS_SESSION_TOKEN="+s)
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// startAPNs starts a fake APNs for env that accepts any issuer (the
// minted "Apple" authority is per process) and still checks topics,
// environment and validity dates.
func startAPNs(t *testing.T, env push.Environment) *apnstest.Server {
	t.Helper()
	s, err := apnstest.NewServer(apnstest.ServerConfig{Config: apnstest.Config{Environment: env, AcceptAnyIssuer: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// writeRoots writes the fakes' server certificates into one PEM file,
// for SSL_CERT_FILE (Go's system roots honour it on Linux).
func writeRoots(t *testing.T, dir string, certs ...*x509.Certificate) string {
	t.Helper()
	var b strings.Builder
	for _, c := range certs {
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "roots", "fakes.pem")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverCertificate returns the certificate the TLS server at baseURL
// presents, verified against roots (fcmtest.Server exports only its
// pool, and SSL_CERT_FILE needs the certificate itself).
func serverCertificate(t *testing.T, baseURL string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", u.Host, &tls.Config{RootCAs: roots, ServerName: u.Hostname(), NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", baseURL, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// mintP12 issues a universal Apple-style push certificate for bundle,
// valid until notAfter, as an OpenSSL 3 style .p12 with its chain.
func mintP12(t *testing.T, bundle string, notAfter time.Time, password string) []byte {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(testcred.PushCert{BundleID: bundle, NotBefore: time.Now().Add(-24 * time.Hour), NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := id.P12(pkcs12.Modern2023, password, true)
	if err != nil {
		t.Fatal(err)
	}
	return p12
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keys, err := testcred.RSAKeys(1)
	if err != nil {
		t.Fatal(err)
	}
	return keys[0]
}

// hexToken returns a fresh 64-hex-digit APNs device token.
func hexToken(t *testing.T) string {
	t.Helper()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// callAPI invokes an HTTP API function with the payload-2.0 event that
// API Gateway sends after its JWT authorizer verified a token with claims:
// the JSON body base64-encoded, the route key of the template's event.
// It returns the status and body, decoded into out when it is JSON.
func callAPI(t *testing.T, ctx context.Context, f *function, method, path string, params, claims map[string]string, body, out any) (int, string) {
	t.Helper()
	route := path
	for k, v := range params {
		route = strings.ReplaceAll(route, "/"+v, "/{"+k+"}")
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       method + " " + route,
		RawPath:        path,
		Headers:        map[string]string{"accept": "application/json", "authorization": "Bearer e2e.jwt.verified-by-api-gateway", "user-agent": "mobilepush-e2e"},
		PathParameters: params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   method + " " + route,
			AccountID:  "123456789012",
			Stage:      "$default",
			RequestID:  dynamotest.UniqueName("e2e-req-"),
			APIID:      "e2eapi",
			DomainName: "e2eapi.execute-api.us-east-1.amazonaws.com",
			Time:       time.Now().UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: method, Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "mobilepush-e2e",
			},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
			},
		},
	}
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		ev.Headers["content-type"] = "application/json"
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(raw), true
	}
	var resp events.APIGatewayV2HTTPResponse
	f.invoke(t, ctx, ev, &resp)
	text := resp.Body
	if resp.IsBase64Encoded {
		raw, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: response body is not base64: %v", method, path, err)
		}
		text = string(raw)
	}
	if out != nil && strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, text, err)
		}
	}
	return resp.StatusCode, text
}

func createQueue(t *testing.T, q *sqs.Client, prefix string) string {
	t.Helper()
	return createQueueWith(t, q, prefix, map[string]string{"VisibilityTimeout": "360"})
}

// createQueueWith creates a queue of a unique name starting with prefix,
// with attrs, deleted when the test ends.
func createQueueWith(t *testing.T, q *sqs.Client, prefix string, attrs map[string]string) string {
	t.Helper()
	ctx := context.Background()
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(dynamotest.UniqueName(prefix)), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() { _, _ = q.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	return aws.ToString(out.QueueUrl)
}

// tapTokenEvents adds a rule on bus that sends "Device Tokens Invalid"
// events to the tap queue too: eventstest.Tap mirrors the template's
// alert rule, which routes only the credential events.
func tapTokenEvents(t *testing.T, eb *eventbridge.Client, q *sqs.Client, bus, tapURL string) {
	t.Helper()
	ctx := context.Background()
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(tapURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatalf("tap queue arn: %v", err)
	}
	pattern, _ := json.Marshal(map[string]any{"source": []string{alert.Source}, "detail-type": []string{string(alert.TokensInvalid)}})
	const rule = "device-tokens-invalid"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(string(pattern))}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("tap"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	t.Cleanup(func() { // before Tap's cleanup deletes the bus (last in, first out)
		_, _ = eb.RemoveTargets(context.Background(), &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus), Ids: []string{"tap"}})
		_, _ = eb.DeleteRule(context.Background(), &eventbridge.DeleteRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus)})
	})
}

// deleteSecretsAtEnd force-deletes the secrets the functions created
// under prefix, so repeated runs do not pile up in a long-lived moto.
func deleteSecretsAtEnd(t *testing.T, sm *secretsmanager.Client, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{prefix}}}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Logf("list secrets to delete: %v", err)
				return
			}
			for _, s := range page.SecretList {
				if strings.HasPrefix(aws.ToString(s.Name), prefix) {
					_, _ = sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: s.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
				}
			}
		}
	})
}

// receiveOne receives the one message on queueURL (with every system and
// message attribute, as the Lambda event source mapping does), polling
// for at most 20 s.
func receiveOne(t *testing.T, ctx context.Context, q *sqs.Client, queueURL string) sqstypes.Message {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			t.Fatalf("receive from the send queue: %v", err)
		}
		switch len(out.Messages) {
		case 0:
			continue
		case 1:
			return out.Messages[0]
		default:
			t.Fatalf("received %d messages from the send queue, want 1", len(out.Messages))
		}
	}
	t.Fatalf("no message on the send queue within 20s")
	return sqstypes.Message{}
}

// sqsEvent is the event the Lambda SQS event source delivers for the
// batch ms.
func sqsEvent(queueURL, region string, ms ...sqstypes.Message) events.SQSEvent {
	parts := strings.Split(strings.TrimSuffix(queueURL, "/"), "/")
	account, name := parts[len(parts)-2], parts[len(parts)-1]
	var ev events.SQSEvent
	for _, m := range ms {
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		mattrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.MessageAttributes {
			mattrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType)}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             attrs,
			MessageAttributes:      mattrs,
			EventSourceARN:         fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, name),
			EventSource:            "aws:sqs",
			AWSRegion:              region,
		})
	}
	return ev
}

// waitEvent reads the tap queue until an event of type about app
// arrives, for at most wait; other events are logged and dropped.
func waitEvent(t *testing.T, q *sqs.Client, tapURL string, typ alert.Type, appID string, wait time.Duration) eventstest.Received {
	t.Helper()
	deadline := time.Now().Add(wait)
	var seen []string
	for time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(tapURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatalf("receive from the tap: %v", err)
		}
		var found *eventstest.Received
		for _, m := range out.Messages {
			_, _ = q.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(tapURL), ReceiptHandle: m.ReceiptHandle})
			var r eventstest.Received
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &r); err != nil {
				t.Fatalf("tap message %q: %v", aws.ToString(m.Body), err)
			}
			if r.Source == alert.Source && r.DetailType == string(typ) && r.Detail.AppID == appID && found == nil {
				found = &r
				continue
			}
			seen = append(seen, r.DetailType+" "+r.Detail.AppID)
		}
		if found != nil {
			t.Logf("event %q for app %s on the bus (%d others)", typ, appID, len(seen))
			return *found
		}
	}
	t.Fatalf("no %q event for app %s on the bus within %s; saw %q", typ, appID, wait, seen)
	return eventstest.Received{}
}

// assertQueueEmpty checks that queueURL holds no message, visible,
// in flight or delayed.
func assertQueueEmpty(t *testing.T, ctx context.Context, q *sqs.Client, queueURL, what string) {
	t.Helper()
	out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}})
	if err != nil {
		t.Fatalf("%s attributes: %v", what, err)
	}
	for k, v := range out.Attributes {
		if n, _ := strconv.Atoi(v); n != 0 {
			t.Errorf("%s: %s = %s, want 0", what, k, v)
		}
	}
}

// scheduleInput returns the Input of the ExpirySchedule's target in
// template.yaml: what EventBridge Scheduler hands the expiry function.
func scheduleInput(t *testing.T, root string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil || len(doc.Content) == 0 {
		t.Fatalf("parse template.yaml: %v", err)
	}
	n := doc.Content[0]
	for _, key := range []string{"Resources", "ExpirySchedule", "Properties", "Target", "Input"} {
		n = mapValue(n, key)
		if n == nil {
			t.Fatalf("template.yaml has no Resources.ExpirySchedule.Properties.Target.Input (missing %s)", key)
		}
	}
	if !json.Valid([]byte(n.Value)) {
		t.Fatalf("ExpirySchedule Input %q is not JSON", n.Value)
	}
	return n.Value
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
