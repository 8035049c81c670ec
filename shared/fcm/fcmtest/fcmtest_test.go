package fcmtest_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/testcred"
)

const (
	project = "fake-project"
	email   = "firebase-adminsdk-abc@fake-project.iam.gserviceaccount.com"
	kid     = "1111111111111111111111111111111111111111"
)

func keys(t *testing.T) []*rsa.PrivateKey {
	t.Helper()
	k, err := testcred.RSAKeys(2)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// assertion signs a JWT-bearer assertion; mut edits the claims.
func assertion(t *testing.T, key *rsa.PrivateKey, aud string, mut func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": email, "scope": "https://www.googleapis.com/auth/firebase.messaging", "aud": aud, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if mut != nil {
		mut(claims)
	}
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	in := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + enc.EncodeToString(sig)
}

func postToken(t *testing.T, srv *fcmtest.Server, form url.Values) (int, map[string]any) {
	t.Helper()
	hc := client(srv)
	resp, err := hc.PostForm(srv.TokenURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func client(srv *fcmtest.Server) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = srv.RootCAs
	tr.ForceAttemptHTTP2 = true
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func grant(a string) url.Values {
	return url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {a}}
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	k := keys(t)
	tests := []struct {
		name     string
		opts     fcmtest.Options
		register bool
		key      int
		mut      func(map[string]any)
		form     func(a string) url.Values
		wantCode int
		wantErr  string
		wantDesc string
	}{
		{name: "valid", register: true, wantCode: 200},
		{name: "cloud-platform scope", register: true, mut: func(c map[string]any) { c["scope"] = "https://www.googleapis.com/auth/cloud-platform" }, wantCode: 200},
		{name: "unknown account", wantCode: 400, wantErr: "invalid_grant", wantDesc: fcmtest.DescAccountNotFound},
		{name: "wrong key", register: true, key: 1, wantCode: 400, wantErr: "invalid_grant", wantDesc: fcmtest.DescBadSignature},
		{name: "wrong audience", register: true, mut: func(c map[string]any) { c["aud"] = "https://evil.example/token" }, wantCode: 400, wantErr: "invalid_grant", wantDesc: "Invalid JWT: Failed audience check."},
		{name: "expired", register: true, mut: func(c map[string]any) {
			c["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			c["exp"] = time.Now().Add(-time.Hour).Unix()
		}, wantCode: 400, wantErr: "invalid_grant", wantDesc: fcmtest.DescTimeframe},
		{name: "too long lived", register: true, mut: func(c map[string]any) { c["exp"] = time.Now().Add(2 * time.Hour).Unix() }, wantCode: 400, wantErr: "invalid_grant", wantDesc: fcmtest.DescTimeframe},
		{name: "missing scope", register: true, mut: func(c map[string]any) { c["scope"] = "https://www.googleapis.com/auth/userinfo.email" }, wantCode: 400, wantErr: "invalid_scope"},
		{name: "wrong grant type", register: true, form: func(a string) url.Values { return url.Values{"grant_type": {"password"}, "assertion": {a}} }, wantCode: 400, wantErr: "unsupported_grant_type"},
		{name: "garbage assertion", register: true, form: func(string) url.Values { return grant("a.b.c") }, wantCode: 400, wantErr: "invalid_grant", wantDesc: fcmtest.DescBadSignature},
		{name: "any key: unknown account", opts: fcmtest.Options{AcceptAnyKey: true}, key: 1, wantCode: 200},
		{name: "any key: still checks aud", opts: fcmtest.Options{AcceptAnyKey: true}, mut: func(c map[string]any) { c["aud"] = "https://x/token" }, wantCode: 400, wantErr: "invalid_grant"},
		{name: "any key: still checks scope", opts: fcmtest.Options{AcceptAnyKey: true}, mut: func(c map[string]any) { c["scope"] = "" }, wantCode: 400, wantErr: "invalid_scope"},
		{name: "any key: still checks expiry", opts: fcmtest.Options{AcceptAnyKey: true}, mut: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, wantCode: 400, wantErr: "invalid_grant", wantDesc: fcmtest.DescTimeframe},
		{name: "any key: registered keys still verified", opts: fcmtest.Options{AcceptAnyKey: true}, register: true, key: 1, wantCode: 400, wantErr: "invalid_grant", wantDesc: fcmtest.DescBadSignature},
		{name: "any key: malformed", opts: fcmtest.Options{AcceptAnyKey: true}, form: func(string) url.Values { return grant("x.y.z") }, wantCode: 400, wantErr: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fcmtest.NewServer(t, tt.opts)
			if tt.register {
				srv.AddKey(email, project, kid, &k[0].PublicKey)
			}
			a := assertion(t, k[tt.key], srv.TokenURL, tt.mut)
			form := grant(a)
			if tt.form != nil {
				form = tt.form(a)
			}
			code, body := postToken(t, srv, form)
			if code != tt.wantCode {
				t.Fatalf("status = %d %v, want %d", code, body, tt.wantCode)
			}
			if tt.wantCode == 200 {
				if body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) || !strings.HasPrefix(body["access_token"].(string), "ya29.") {
					t.Errorf("body = %v", body)
				}
				return
			}
			if body["error"] != tt.wantErr || !strings.HasPrefix(body["error_description"].(string), tt.wantDesc) {
				t.Errorf("body = %v, want error %q description %q", body, tt.wantErr, tt.wantDesc)
			}
		})
	}
}

// TestTokenEndpointWithGoogleLibrary: Google's own JWT-bearer client
// (golang.org/x/oauth2/google) gets a token from the fake.
func TestTokenEndpointWithGoogleLibrary(t *testing.T) {
	t.Parallel()
	srv := fcmtest.NewServer(t, fcmtest.Options{})
	sa, err := testcred.ServiceAccount{ProjectID: project, ClientEmail: email, PrivateKeyID: kid, Key: keys(t)[0]}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddServiceAccount(sa); err != nil {
		t.Fatal(err)
	}
	cfg, err := google.JWTConfigFromJSON(sa, "https://www.googleapis.com/auth/firebase.messaging")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TokenURL = srv.TokenURL
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client(srv))
	tok, err := cfg.TokenSource(ctx).Token()
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Valid() || tok.TokenType != "Bearer" {
		t.Errorf("token = %+v", tok)
	}
}

// token gets an access token for the registered account.
func token(t *testing.T, srv *fcmtest.Server) string {
	t.Helper()
	code, body := postToken(t, srv, grant(assertion(t, keys(t)[0], srv.TokenURL, nil)))
	if code != 200 {
		t.Fatalf("token: %d %v", code, body)
	}
	return body["access_token"].(string)
}

func send(t *testing.T, srv *fcmtest.Server, project, bearer, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/projects/"+project+"/messages:send", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client(srv).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol = %s, want HTTP/2", resp.Proto)
	}
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return resp.StatusCode, resp.Header, out
}

func TestSendEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		project    string
		noAuth     bool
		script     func(*fcmtest.Server)
		body       string
		wantCode   int
		wantStatus string
		wantFCM    string
		wantField  string
		wantName   string
	}{
		{name: "validate only", body: `{"message":{"token":"t1"},"validate_only":true}`, wantCode: 200, wantName: "projects/fake-project/messages/fake_message_id"},
		{name: "send", body: `{"message":{"token":"t1","data":{"a":"b"},"android":{"ttl":"3600s","priority":"high"}}}`, wantCode: 200},
		{name: "no bearer", noAuth: true, body: `{"message":{"token":"t1"}}`, wantCode: 401, wantStatus: "UNAUTHENTICATED"},
		{name: "other project", project: "someone-else", body: `{"message":{"token":"t1"}}`, wantCode: 403, wantStatus: "PERMISSION_DENIED"},
		{name: "no target", body: `{"message":{"data":{"a":"b"}}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantFCM: "INVALID_ARGUMENT", wantField: "message"},
		{name: "two targets", body: `{"message":{"token":"t1","topic":"news"}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantField: "message"},
		{name: "data not string", body: `{"message":{"token":"t1","data":{"a":1}}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantField: "message.data[0].value"},
		{name: "bad ttl", body: `{"message":{"token":"t1","android":{"ttl":"3600"}}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantField: "message.android.ttl"},
		{name: "too big", body: `{"message":{"token":"t1","data":{"a":"` + strings.Repeat("x", 4100) + `"}}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantField: "message"},
		{name: "unknown field", body: `{"message":{"token":"t1"},"dry":true}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "unregistered", script: func(s *fcmtest.Server) { s.ScriptToken("t1", fcmtest.Unregistered()) }, body: `{"message":{"token":"t1"}}`, wantCode: 404, wantStatus: "NOT_FOUND", wantFCM: "UNREGISTERED"},
		{name: "quota", script: func(s *fcmtest.Server) { s.ScriptToken("t1", fcmtest.QuotaExceeded("7")) }, body: `{"message":{"token":"t1"}}`, wantCode: 429, wantStatus: "RESOURCE_EXHAUSTED", wantFCM: "QUOTA_EXCEEDED"},
		{name: "project sender mismatch", script: func(s *fcmtest.Server) { s.ScriptProject(project, fcmtest.SenderIDMismatch()) }, body: `{"message":{"token":"t1"}}`, wantCode: 403, wantStatus: "PERMISSION_DENIED", wantFCM: "SENDER_ID_MISMATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := fcmtest.NewServer(t, fcmtest.Options{})
			srv.AddKey(email, project, kid, &keys(t)[0].PublicKey)
			if tt.script != nil {
				tt.script(srv)
			}
			bearer := ""
			if !tt.noAuth {
				bearer = token(t, srv)
			}
			p := project
			if tt.project != "" {
				p = tt.project
			}
			code, hdr, body := send(t, srv, p, bearer, tt.body)
			if code != tt.wantCode {
				t.Fatalf("status = %d %v, want %d", code, body, tt.wantCode)
			}
			if code == 200 {
				name, _ := body["name"].(string)
				if !strings.HasPrefix(name, "projects/"+project+"/messages/") || (tt.wantName != "" && name != tt.wantName) {
					t.Errorf("name = %q, want %q", name, tt.wantName)
				}
				return
			}
			e, _ := body["error"].(map[string]any)
			if e["status"] != tt.wantStatus || e["code"] != float64(tt.wantCode) || e["message"] == "" {
				t.Errorf("error = %v, want status %s", e, tt.wantStatus)
			}
			var fcmCode, field string
			details, _ := e["details"].([]any)
			for _, d := range details {
				d := d.(map[string]any)
				switch d["@type"] {
				case "type.googleapis.com/google.firebase.fcm.v1.FcmError":
					fcmCode, _ = d["errorCode"].(string)
				case "type.googleapis.com/google.rpc.BadRequest":
					field, _ = d["fieldViolations"].([]any)[0].(map[string]any)["field"].(string)
				}
			}
			if (tt.wantFCM != "" && fcmCode != tt.wantFCM) || (tt.wantField != "" && field != tt.wantField) {
				t.Errorf("details = %v, want errorCode %q field %q", details, tt.wantFCM, tt.wantField)
			}
			if tt.wantCode == 429 && hdr.Get("Retry-After") != "7" {
				t.Errorf("Retry-After = %q, want 7", hdr.Get("Retry-After"))
			}
		})
	}
}

func TestScriptSequenceAndCounts(t *testing.T) {
	t.Parallel()
	srv := fcmtest.NewServer(t, fcmtest.Options{})
	srv.AddKey(email, project, kid, &keys(t)[0].PublicKey)
	srv.ScriptToken("flaky", fcmtest.Unavailable(""), fcmtest.OK())
	bearer := token(t, srv)
	want := []int{503, 200, 200}
	for i, w := range want {
		if code, _, body := send(t, srv, project, bearer, `{"message":{"token":"flaky"}}`); code != w {
			t.Errorf("send %d: status %d %v, want %d", i, code, body, w)
		}
	}
	if got := srv.Requests("flaky"); got != 3 {
		t.Errorf("Requests = %d, want 3", got)
	}
	if got := srv.TotalRequests(); got != 3 {
		t.Errorf("TotalRequests = %d, want 3", got)
	}
	m, ok := srv.LastMessage()
	if !ok || m.Token != "flaky" || m.Project != project || m.ClientEmail != email {
		t.Errorf("LastMessage = %+v, %v", m, ok)
	}
	srv.RevokeAccessTokens()
	if code, _, _ := send(t, srv, project, bearer, `{"message":{"token":"flaky"}}`); code != 401 {
		t.Errorf("after revocation: status %d, want 401", code)
	}
}
