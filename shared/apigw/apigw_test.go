package apigw

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"mobilepush/shared/push"
)

func loadEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestHandlerRoundTrip(t *testing.T) {
	ev := loadEvent(t, "get-app.json")
	var seen struct {
		method, path, id, query, body, ifMatch, cookie, reqID, tenant, sub string
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/apps/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		who, err := Authenticator{TenantClaim: "tenant"}.Authenticate(r)
		if err != nil {
			t.Errorf("authenticate: %v", err)
		}
		seen.method, seen.path, seen.id, seen.query, seen.body = r.Method, r.URL.Path, r.PathValue("id"), r.URL.Query().Get("limit"), string(b)
		seen.ifMatch, seen.cookie, seen.reqID, seen.tenant, seen.sub = r.Header.Get("If-Match"), r.Header.Get("Cookie"), RequestID(r), who.Tenant, who.Subject
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"4"`)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	resp, err := Handler(mux)(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, got, want string }{
		{"method", seen.method, "PUT"},
		{"path", seen.path, "/v1/apps/app 1"},
		{"path value", seen.id, "app 1"},
		{"query", seen.query, "5"},
		{"base64 body", seen.body, `{"name":"Acme"}`},
		{"header", seen.ifMatch, `"3"`},
		{"cookies", seen.cookie, "a=1; b=2"},
		{"request id", seen.reqID, "JKJaXmPLvHcESHA="},
		{"tenant claim", seen.tenant, "acme"},
		{"subject", seen.sub, "admin-7"},
		{"response body", resp.Body, `{"ok":true}`},
		{"response etag", resp.Headers["Etag"], `"4"`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if resp.StatusCode != http.StatusCreated || resp.IsBase64Encoded {
		t.Errorf("status %d base64 %v", resp.StatusCode, resp.IsBase64Encoded)
	}
}

func TestAuthenticatorRefuses(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]string
	}{
		{"no authorizer", nil},
		{"no tenant claim", map[string]string{"sub": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := loadEvent(t, "get-app.json")
			ev.RequestContext.Authorizer = nil
			if tt.claims != nil {
				ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: tt.claims}}
			}
			r, err := Request(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (Authenticator{TenantClaim: "tenant"}).Authenticate(r); !push.Is(err, push.Unauthorized) {
				t.Errorf("err = %v, want Unauthorized", err)
			}
		})
	}
}

func TestAuthenticatorNamesTheActor(t *testing.T) {
	tests := []struct {
		name   string
		claims map[string]string
		want   string
	}{
		{"email first", map[string]string{"tenant": "acme", "sub": "0f3a", "cognito:username": "ana", "email": "ana@acme.example"}, "ana@acme.example"},
		{"then the Cognito user name", map[string]string{"tenant": "acme", "sub": "0f3a", "cognito:username": "ana"}, "ana"},
		{"else the subject", map[string]string{"tenant": "acme", "sub": "0f3a"}, "0f3a"},
		{"an empty email is absent", map[string]string{"tenant": "acme", "sub": "0f3a", "email": ""}, "0f3a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := loadEvent(t, "get-app.json")
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: tt.claims}}
			r, err := Request(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			who, err := (Authenticator{TenantClaim: "tenant"}).Authenticate(r)
			if err != nil || who.Subject != tt.want || who.Tenant != "acme" {
				t.Errorf("principal = %+v, %v; want subject %q", who, err, tt.want)
			}
		})
	}
}

func TestBinaryResponseIsBase64(t *testing.T) {
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	resp := Response(200, h, []byte{0, 1, 2})
	if !resp.IsBase64Encoded || resp.Body != "AAEC" {
		t.Errorf("got %+v", resp)
	}
}
