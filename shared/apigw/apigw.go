// Package apigw serves an http.Handler from API Gateway HTTP API events
// (payload format 2.0), so the Lambda functions and the local server run
// the same handler. It also authenticates callers from the claims of the
// API Gateway JWT authorizer, which has verified the token's signature,
// issuer and audience before the function runs.
package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

type claimsKey struct{}
type requestIDKey struct{}

// Handler returns a Lambda handler that serves h. The request's JWT
// claims and API Gateway request id travel in its context (see
// Authenticator and RequestID).
func Handler(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r, err := Request(ctx, ev)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest, Headers: map[string]string{"Content-Type": "application/json"},
				Body: `{"error":{"code":"invalid","message":"the request could not be read"}}`}, nil
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return Response(rec.Result().StatusCode, rec.Header(), rec.Body.Bytes()), nil
	}
}

// Request converts an HTTP API event into an *http.Request.
func Request(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("decode base64 body: %w", err)
		}
		body = b
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	u := &url.URL{Path: path, RawQuery: ev.RawQueryString}
	if ev.RawPath != "" {
		if p, err := url.PathUnescape(ev.RawPath); err == nil {
			u.Path, u.RawPath = p, ev.RawPath
		}
	}
	if jwt := ev.RequestContext.Authorizer; jwt != nil && jwt.JWT != nil {
		ctx = context.WithValue(ctx, claimsKey{}, jwt.JWT.Claims)
	}
	ctx = context.WithValue(ctx, requestIDKey{}, ev.RequestContext.RequestID)
	r, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	for k, v := range ev.Headers {
		r.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	r.Host = ev.RequestContext.DomainName
	r.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	r.ContentLength = int64(len(body))
	return r, nil
}

// Response builds the event response; non-text bodies are base64.
func Response(status int, h http.Header, body []byte) events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, v := range h {
		if strings.EqualFold(k, "Set-Cookie") {
			resp.Cookies = append(resp.Cookies, v...)
			continue
		}
		resp.Headers[k] = strings.Join(v, ", ")
	}
	if isText(h.Get("Content-Type")) {
		resp.Body = string(body)
	} else if len(body) > 0 {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return resp
}

func isText(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/javascript"
}

// RequestID returns the API Gateway request id of r, "" outside Lambda.
func RequestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// Authenticator implements httpapi.Authenticator from the JWT
// authorizer's claims: the tenant is the TenantClaim claim, the actor the
// "sub" claim. A request without claims (the authorizer did not run) is
// refused.
type Authenticator struct {
	TenantClaim string // e.g. "custom:tenant" or "tenant"
}

// Authenticate returns the principal of r. Errors: Unauthorized.
func (a Authenticator) Authenticate(r *http.Request) (registry.Principal, error) {
	const op = "apigw.Authenticate"
	claims, _ := r.Context().Value(claimsKey{}).(map[string]string)
	if claims == nil {
		return registry.Principal{}, push.Errorf(op, push.Unauthorized, "no verified JWT claims")
	}
	tenant := claims[a.TenantClaim]
	if tenant == "" {
		return registry.Principal{}, push.Errorf(op, push.Unauthorized, "the token has no %q claim", a.TenantClaim)
	}
	return registry.Principal{Tenant: tenant, Subject: claims["sub"]}, nil
}
