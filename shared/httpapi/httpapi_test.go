package httpapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/alert"
	"mobilepush/shared/apitoken"
	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/httpapi"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
	"mobilepush/shared/testcred"
)

// proverFunc is a fake Prover: the tests that need Apple's and Google's
// real answers run against the apnstest/fcmtest fakes (see live_test.go); this
// one isolates the HTTP layer.
type proverFunc func(m credential.Material, env push.Environment, topic string) push.LiveResult

func (f proverFunc) Prove(_ context.Context, m credential.Material, env push.Environment, topic string) push.LiveResult {
	return f(m, env, topic)
}

var accept = proverFunc(func(credential.Material, push.Environment, string) push.LiveResult {
	return push.LiveResult{Code: push.LiveOK, Message: "accepted"}
})

// api is a test server over a bbolt store with tokens for two tenants,
// capturing every log line.
type api struct {
	srv    *httptest.Server
	tokens map[string]string // tenant -> bearer token
	logs   *bytes.Buffer
	mu     sync.Mutex
	bodies []string // every response body, for the secret scan
	events []alert.Event
	// The stores under the API, for changing things behind its back.
	meta    credential.MetadataStore
	secrets credential.SecretStore
	// pushErr, when set, is what the fake TestPusher fails with.
	pushErr error
}

// TestPush is the api's fake registry.TestPusher: delivered, or pushErr.
func (a *api) TestPush(_ context.Context, m credential.Material, _ push.Environment, _ string, _ registry.TestMessage) (registry.Answer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pushErr != nil {
		return registry.Answer{}, a.pushErr
	}
	return registry.Answer{Platform: m.Kind.Platform(), Status: 200, Delivered: true}, nil
}

// Publish is the api's fake alert.Publisher: it keeps the events.
func (a *api) Publish(_ context.Context, evs []alert.Event) []error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, evs...)
	return make([]error, len(evs))
}

// backends are the stores the API tests run on: the embedded default and
// DynamoDB + Secrets Manager on moto (skipped loudly without
// AWS_ENDPOINT_URL, failing when CI=true).
var backends = []string{"bolt", "aws"}

// stores opens a fresh pair of stores of backend.
func stores(t testing.TB, backend string) (credential.MetadataStore, credential.SecretStore) {
	t.Helper()
	if backend == "aws" {
		return dynamotest.Stores(t, dynamotest.AWSConfig(t))
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, st
}

// eachBackend runs test as a subtest on every backend.
func eachBackend(t *testing.T, test func(t *testing.T, backend string)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

func newAPI(t *testing.T, prover registry.Prover) *api { return newAPIOn(t, "bolt", prover) }

func newAPIOn(t *testing.T, backend string, prover registry.Prover) *api {
	t.Helper()
	dir := t.TempDir()
	meta, secrets := stores(t, backend)
	toks, err := apitoken.Open(filepath.Join(dir, "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{tokens: map[string]string{}, logs: &bytes.Buffer{}, meta: meta, secrets: secrets}
	for _, tenant := range []string{"acme", "globex"} {
		if a.tokens[tenant], err = toks.Issue(tenant); err != nil {
			t.Fatal(err)
		}
	}
	roots, err := appleRoots()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&a.mu, a.logs}, nil))
	reg := &registry.Service{
		Store:     credential.NewService(credential.Config{Meta: meta, Secrets: secrets, Logger: logger}),
		Inspector: &certinfo.Inspector{Roots: roots},
		Prover:    prover,
		Pusher:    a,
		Events:    a,
	}
	a.srv = httptest.NewServer(httpapi.New(httpapi.Config{Registry: reg, Auth: toks, Logger: logger}))
	t.Cleanup(a.srv.Close)
	return a
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func appleRoots() (*x509.CertPool, error) {
	ca, err := testcred.AppleWWDR()
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	p.AddCert(ca.Root())
	return p, nil
}

// do sends a request as tenant ("" = no token) and decodes the JSON answer.
func (a *api) do(t *testing.T, tenant, method, path string, body any, hdr ...string) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case *multipartBody:
		rd, ct = bytes.NewReader(b.buf.Bytes()), b.contentType
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if tenant != "" {
		req.Header.Set("Authorization", "Bearer "+a.tokens[tenant])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a.mu.Lock()
	a.bodies = append(a.bodies, string(raw))
	a.mu.Unlock()
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: response is not JSON: %s", method, path, raw)
		}
	}
	return resp.StatusCode, resp.Header, out
}

type multipartBody struct {
	buf         bytes.Buffer
	contentType string
}

func form(t *testing.T, fields map[string]string, files map[string][]byte) *multipartBody {
	t.Helper()
	m := &multipartBody{}
	w := multipart.NewWriter(&m.buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range files {
		fw, err := w.CreateFormFile(k, k+".bin")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(v)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m.contentType = w.FormDataContentType()
	return m
}

// creds are credentials minted for one test run.
type creds struct {
	p12, sandboxP12, expiredP12 []byte
	cer                         []byte
	p8                          string
	sa                          string
	saKeyPEM                    string
}

const p12Password = "hunter2-p12-password"

func mint(t *testing.T) creds {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	issue := func(spec testcred.PushCert) *testcred.Identity {
		id, err := ca.IssuePush(spec)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	enc := func(id *testcred.Identity) []byte {
		b, err := id.P12(pkcs12.Modern2023, p12Password, true)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var c creds
	good := issue(testcred.PushCert{BundleID: "com.acme.app"})
	c.p12, c.cer = enc(good), good.Cert.Raw
	c.sandboxP12 = enc(issue(testcred.PushCert{BundleID: "com.acme.app", Environment: testcred.SandboxOnly}))
	c.expiredP12 = enc(issue(testcred.PushCert{BundleID: "com.acme.app", NotBefore: timeAgo(400), NotAfter: timeAgo(2)}))
	p8, err := testcred.NewP8()
	if err != nil {
		t.Fatal(err)
	}
	c.p8 = string(p8)
	m, err := testcred.ServiceAccount{}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	c.saKeyPEM = m["private_key"].(string)
	b, _ := json.Marshal(m)
	c.sa = string(b)
	return c
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func timeAgo(days int) time.Time { return time.Now().Add(-time.Duration(days) * 24 * time.Hour) }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
