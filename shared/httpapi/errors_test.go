package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"mobilepush/shared/awsdynamo/dynamotest"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// leaks are what an error body must never hold: the words of an AWS SDK
// error (its operation, HTTP and request parts), a secret's ARN, the
// operation or type names of Go code ("credential.Get",
// "*types.ResourceNotFoundException"), the "op: kind:" prefix of
// push.Error's text, and the marks of a bad format.
var leaks = []struct {
	name string
	re   *regexp.Regexp
}{
	{"SDK operation error", regexp.MustCompile(`(?i)operation error|api error|https response error|StatusCode:|RequestID:`)},
	{"ARN", regexp.MustCompile(`arn:aws`)},
	{"Go name", regexp.MustCompile(`\*?\b[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*`)},
	{"error text prefix", regexp.MustCompile(`\b(not_found|invalid|unprocessable|conflict|precondition_failed|too_large|unauthorized|transient|internal|other): `)},
	{"format error", regexp.MustCompile(`%!|<nil>`)},
}

// TestErrorBodiesAreSafe drives an API session into an error of every
// kind, including credentials whose secrets the store can no longer find
// (deleted behind the service's back) and a stored secret that does not
// decode, and checks that each error body holds its stable code and a
// message written for the caller, never a dependency's words, while the
// log line of the request still carries the cause.
func TestErrorBodiesAreSafe(t *testing.T) { eachBackend(t, testErrorBodiesAreSafe) }

func testErrorBodiesAreSafe(t *testing.T, backend string) {
	ctx := context.Background()
	a := newAPIOn(t, backend, accept)
	c := mint(t)
	apnsBody := func(p12 []byte) map[string]any {
		return map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(p12), "password": p12Password}
	}
	create := func(body map[string]any) string {
		t.Helper()
		status, _, app := a.do(t, "acme", "POST", "/v1/apps", body)
		if status != http.StatusCreated {
			t.Fatalf("create %v = %d %v", body["name"], status, app)
		}
		return str(app, "id")
	}
	full := create(map[string]any{"name": "Full", "apns": apnsBody(c.p12), "fcm": map[string]any{"service_account_json": c.sa}})
	sandbox := create(map[string]any{"name": "Sandbox", "environment": "sandbox", "apns": apnsBody(c.sandboxP12)})
	lost := create(map[string]any{"name": "Lost", "apns": apnsBody(c.p12), "fcm": map[string]any{"service_account_json": c.sa}})
	corrupt := create(map[string]any{"name": "Corrupt", "apns": apnsBody(c.p12)})

	// Behind the service's back: the store schedules lost's APNs secret
	// for deletion, and its FCM secret goes for good (on AWS, deleted
	// without a recovery window; the embedded store has only the first).
	// corrupt's current version becomes bytes that do not decode.
	app := func(id string) credential.App {
		t.Helper()
		got, err := a.meta.App(ctx, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	lostApp := app(lost)
	if err := a.secrets.ScheduleDeletion(ctx, lostApp.APNs.Secret.ID); err != nil {
		t.Fatal(err)
	}
	gone := "scheduled for deletion" // the cause the log must show
	lostCause := map[push.Platform]string{push.APNs: gone, push.FCM: gone}
	if backend == "aws" {
		sm := secretsmanager.NewFromConfig(dynamotest.AWSConfig(t))
		if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(lostApp.FCM.Secret.ID), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		lostCause = map[push.Platform]string{push.APNs: "InvalidRequestException", push.FCM: "ResourceNotFoundException"}
	} else if err := a.secrets.ScheduleDeletion(ctx, lostApp.FCM.Secret.ID); err != nil {
		t.Fatal(err)
	}
	cur := app(corrupt)
	ver, err := a.secrets.PutVersion(ctx, cur.APNs.Secret.ID, push.NewRedacted([]byte(`{"v":1,"kind":"apns_p12","private_key_pem":"x"`)))
	if err != nil {
		t.Fatal(err)
	}
	next := cur.Clone()
	next.Version++
	next.APNs.Secret.VersionID = ver
	if err := a.meta.Apply(ctx, credential.Change{Tenant: "acme", AppID: corrupt, App: &next, Expect: cur.Version}); err != nil {
		t.Fatal(err)
	}
	sdkFailure := errors.New("operation error SNS: Publish, https response error StatusCode: 500, RequestID: 0f5e-test, api error InternalFailure: boom")

	steps := []struct {
		name       string
		tenant     string
		method     string
		path       string
		body       any
		hdr        []string
		wantStatus int
		wantCode   string
		wantLog    string // in the request's log lines: the cause
	}{
		{"no token", "", "GET", "/v1/apps", nil, nil, 401, "unauthorized", ""},
		{"bad token", "", "GET", "/v1/apps", nil, []string{"Authorization", "Bearer mp_nope"}, 401, "unauthorized", ""},
		{"no such route", "acme", "GET", "/v1/nothing", nil, nil, 404, "not_found", ""},
		{"no such app", "acme", "GET", "/v1/apps/nope", nil, nil, 404, "not_found", "does not exist"},
		{"another tenant's app", "globex", "GET", "/v1/apps/" + full, nil, nil, 404, "not_found", ""},
		{"no such platform", "acme", "PUT", "/v1/apps/" + full + "/webpush", map[string]any{}, nil, 404, "not_found", ""},
		{"no credential of the platform", "acme", "POST", "/v1/apps/" + corrupt + "/test-push", map[string]any{"platform": "fcm", "token": "t"}, nil, 404, "not_found", ""},
		{"secret scheduled for deletion behind the service's back", "acme", "POST", "/v1/apps/" + lost + "/validate", nil, nil, 404, "not_found", lostCause[push.APNs]},
		{"secret deleted behind the service's back", "acme", "POST", "/v1/apps/" + lost + "/test-push", map[string]any{"platform": "fcm", "token": "t"}, nil, 404, "not_found", lostCause[push.FCM]},
		{"malformed JSON", "acme", "PATCH", "/v1/apps/" + full, []byte("{"), nil, 400, "invalid", ""},
		{"unknown field", "acme", "PATCH", "/v1/apps/" + full, []byte(`{"nmae":"x"}`), nil, 400, "invalid", ""},
		{"bad If-Match", "acme", "PATCH", "/v1/apps/" + full, map[string]any{"name": "x"}, []string{"If-Match", "three"}, 400, "invalid", ""},
		{"bad cursor", "acme", "GET", "/v1/apps?cursor=%21%21", nil, nil, 400, "invalid", ""},
		{"bad limit", "acme", "GET", "/v1/apps?limit=x", nil, nil, 400, "invalid", ""},
		{"bad environment", "acme", "POST", "/v1/apps", map[string]any{"name": "x", "environment": "staging"}, nil, 400, "invalid", ""},
		{"bad name", "acme", "POST", "/v1/apps", map[string]any{"name": ""}, nil, 400, "invalid", ""},
		{"wrong password", "acme", "POST", "/v1/apps", map[string]any{"name": "x", "apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": "nope"}}, nil, 422, "wrong_password", ""},
		{"sandbox-only certificate for production", "acme", "PATCH", "/v1/apps/" + sandbox, map[string]any{"environment": "production"}, nil, 422, "environment_mismatch", ""},
		{"app exists", "acme", "POST", "/v1/apps", map[string]any{"id": full, "name": "again"}, nil, 409, "conflict", ""},
		{"nothing to roll back to", "acme", "POST", "/v1/apps/" + full + "/apns/rollback", nil, nil, 409, "conflict", ""},
		{"stale If-Match", "acme", "PATCH", "/v1/apps/" + full, map[string]any{"name": "x"}, []string{"If-Match", `"99"`}, 412, "precondition_failed", ""},
		{"body too large", "acme", "PATCH", "/v1/apps/" + full, append([]byte(`{"name":"`), bytes.Repeat([]byte("x"), 600<<10)...), nil, 413, "too_large", ""},
		{"stored secret does not decode", "acme", "POST", "/v1/apps/" + corrupt + "/validate", nil, nil, 500, "internal", "not a version-1 material envelope"},
		{"provider SDK failure", "acme", "POST", "/v1/apps/" + full + "/test-push", map[string]any{"platform": "apns", "token": strings.Repeat("ab", 32)}, nil, 503, "transient", "RequestID: 0f5e-test"},
		{"a new upload replaces the lost secret", "acme", "PUT", "/v1/apps/" + lost + "/fcm", map[string]any{"fcm": map[string]any{"service_account_json": c.sa}}, nil, 200, "", ""},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.wantStatus == 503 {
				a.mu.Lock()
				a.pushErr = sdkFailure
				a.mu.Unlock()
				defer func() { a.mu.Lock(); a.pushErr = nil; a.mu.Unlock() }()
			}
			reqID := fmt.Sprintf("%s-err-%d", backend, i)
			status, hdr, body := a.do(t, s.tenant, s.method, s.path, s.body, append([]string{"X-Request-Id", reqID}, s.hdr...)...)
			if status != s.wantStatus || str(body, "error", "code") != s.wantCode {
				t.Fatalf("= %d %v, want %d %s", status, body, s.wantStatus, s.wantCode)
			}
			if status < 400 {
				return
			}
			msg := str(body, "error", "message")
			t.Logf("%d %s: %s", status, s.wantCode, msg)
			if msg == "" {
				t.Errorf("no message: %v", body)
			}
			raw, _ := json.Marshal(body)
			for _, l := range leaks {
				if m := l.re.FindString(string(raw)); m != "" {
					t.Errorf("the body holds a %s (%q): %s", l.name, m, raw)
				}
			}
			if s.wantLog != "" {
				if hdr.Get("X-Request-Id") != reqID {
					t.Fatalf("X-Request-Id = %q, want %q", hdr.Get("X-Request-Id"), reqID)
				}
				if lines := a.logLines(reqID); !strings.Contains(lines, s.wantLog) {
					t.Errorf("the log lines of the request lack the cause %q:\n%s", s.wantLog, lines)
				}
			}
		})
	}
}

// logLines returns the log lines of request reqID.
func (a *api) logLines(reqID string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, line := range strings.Split(a.logs.String(), "\n") {
		if strings.Contains(line, `"request_id":"`+reqID+`"`) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
