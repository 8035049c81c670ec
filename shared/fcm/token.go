package fcm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"mobilepush/shared/push"
)

// Scope is the OAuth scope the assertion asks for.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// serviceAccount is what the client needs from a service-account key.
// The file's token_uri and universe_domain are deliberately not read:
// they must never choose where a signed assertion goes.
type serviceAccount struct {
	ProjectID    string
	ClientEmail  string
	PrivateKeyID string
	Key          *rsa.PrivateKey
}

// parseServiceAccount reads the fields it needs from the JSON. Errors
// never quote the input: it holds a private key.
func parseServiceAccount(b []byte) (serviceAccount, error) {
	var raw struct {
		Type         string `json:"type"`
		ProjectID    string `json:"project_id"`
		ClientEmail  string `json:"client_email"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return serviceAccount{}, badKey("the service-account key is not valid JSON")
	}
	if raw.Type != "service_account" {
		return serviceAccount{}, badKey(`the key's type is not "service_account"`)
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"project_id", raw.ProjectID}, {"client_email", raw.ClientEmail}, {"private_key", raw.PrivateKey}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return serviceAccount{}, badKey("the service-account key lacks %s", strings.Join(missing, ", "))
	}
	key, err := parseRSAKey(raw.PrivateKey)
	if err != nil {
		return serviceAccount{}, err
	}
	return serviceAccount{ProjectID: raw.ProjectID, ClientEmail: raw.ClientEmail, PrivateKeyID: raw.PrivateKeyID, Key: key}, nil
}

// badKey is the error of a service-account key that does not load; its
// text, shown to the administrator, never quotes the key.
func badKey(format string, args ...any) error {
	return push.Errorf("fcm.parseServiceAccount", push.Unprocessable, format, args...)
}

func parseRSAKey(s string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, badKey("the private_key field is not a PEM private key")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, badKey("the private_key field cannot be parsed as a PKCS#1 RSA key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, badKey("the private_key field cannot be parsed as a PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, badKey("the private_key field holds a key that is not RSA")
		}
		return rk, nil
	}
	return nil, badKey("the private_key field holds a %q PEM block, not a private key", block.Type)
}

// TokenError is a failure to obtain an OAuth access token: Google's own
// answer (Status, Code such as "invalid_grant", Description) or, with
// Status 0, a network failure (Err). It holds no secret material.
type TokenError struct {
	Status      int    // HTTP status of the token endpoint; 0 when it was not reached
	Code        string // RFC 6749 "error", e.g. "invalid_grant"
	Description string // RFC 6749 "error_description", Google's text
	Err         error  // the transport error when Status is 0
}

// Error renders "oauth token: invalid_grant: Invalid JWT Signature.".
func (e *TokenError) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("oauth token: %v", e.Err)
	case e.Code == "":
		return fmt.Sprintf("oauth token: HTTP %d", e.Status)
	case e.Description == "":
		return "oauth token: " + e.Code
	}
	return "oauth token: " + e.Code + ": " + e.Description
}

// Unwrap returns the transport error, if any.
func (e *TokenError) Unwrap() error { return e.Err }

// Reason is the provider's text: "invalid_grant: Invalid JWT Signature.".
func (e *TokenError) Reason() string {
	if e.Code == "" {
		if e.Status == 0 {
			return "network error"
		}
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Rejected reports whether Google refused the credential itself (a 4xx
// answer such as invalid_grant), as opposed to being unreachable or
// failing on its side (network, 5xx).
func (e *TokenError) Rejected() bool { return e.Status >= 400 && e.Status < 500 }

// tokenSource mints access tokens with the JWT-bearer grant (RFC 7523)
// against one fixed token URL and caches them until shortly before they
// expire. It is safe for concurrent use; concurrent callers share one
// in-flight request.
type tokenSource struct {
	sa       serviceAccount
	tokenURL string
	hc       *http.Client
	now      func() time.Time

	mu      sync.Mutex
	token   string
	expiry  time.Time
	pending chan struct{} // closed when the in-flight fetch ends
	lastErr error
}

// expiryMargin renews a token this long before Google says it expires.
const expiryMargin = 2 * time.Minute

// Token returns a valid access token, minting one when the cached token
// is missing or about to expire. Errors are *TokenError.
func (ts *tokenSource) Token(ctx context.Context) (string, error) {
	for {
		ts.mu.Lock()
		if ts.token != "" && ts.now().Add(expiryMargin).Before(ts.expiry) {
			tok := ts.token
			ts.mu.Unlock()
			return tok, nil
		}
		if wait := ts.pending; wait != nil {
			ts.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return "", &TokenError{Err: ctx.Err()}
			}
			ts.mu.Lock()
			err := ts.lastErr
			ts.mu.Unlock()
			if err != nil {
				return "", err
			}
			continue
		}
		done := make(chan struct{})
		ts.pending = done
		ts.mu.Unlock()

		tok, exp, err := ts.fetch(ctx)

		ts.mu.Lock()
		ts.pending = nil
		ts.lastErr = err
		if err == nil {
			ts.token, ts.expiry = tok, exp
		}
		ts.mu.Unlock()
		close(done)
		if err != nil {
			return "", err
		}
		return tok, nil
	}
}

// Invalidate drops the cached token so the next Token call mints a new one.
func (ts *tokenSource) Invalidate() {
	ts.mu.Lock()
	ts.token = ""
	ts.mu.Unlock()
}

func (ts *tokenSource) fetch(ctx context.Context) (string, time.Time, error) {
	assertion, err := ts.assertion()
	if err != nil {
		return "", time.Time{}, &TokenError{Err: err}
	}
	form := url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, &TokenError{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := ts.hc.Do(req)
	if err != nil {
		return "", time.Time{}, &TokenError{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", time.Time{}, &TokenError{Err: err}
	}
	var answer struct {
		AccessToken      string `json:"access_token"`
		ExpiresIn        int64  `json:"expires_in"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	jsonErr := json.Unmarshal(body, &answer)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", time.Time{}, &TokenError{Status: resp.StatusCode, Code: answer.Error, Description: answer.ErrorDescription}
	}
	if jsonErr != nil || answer.AccessToken == "" {
		return "", time.Time{}, &TokenError{Status: resp.StatusCode, Code: "malformed_response", Description: "the token endpoint answered without an access_token"}
	}
	if answer.ExpiresIn <= 0 {
		answer.ExpiresIn = 3600
	}
	return answer.AccessToken, ts.now().Add(time.Duration(answer.ExpiresIn) * time.Second), nil
}

// assertion builds the RS256-signed JWT of the JWT-bearer grant, as
// Google's libraries do: iat 10 s in the past, exp one hour after iat,
// aud the token URL.
func (ts *tokenSource) assertion() (string, error) {
	header := map[string]string{"alg": "RS256", "typ": "JWT"}
	if ts.sa.PrivateKeyID != "" {
		header["kid"] = ts.sa.PrivateKeyID
	}
	iat := ts.now().Add(-10 * time.Second)
	claims := map[string]any{
		"iss":   ts.sa.ClientEmail,
		"scope": Scope,
		"aud":   ts.tokenURL,
		"iat":   iat.Unix(),
		"exp":   iat.Add(time.Hour).Unix(),
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.sa.Key, crypto.SHA256, sum[:])
	if err != nil {
		return "", errors.New("signing the assertion failed")
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// bearerTransport adds "Authorization: Bearer <token>" to every request
// and bounds it by timeout. Because option.WithHTTPClient switches the
// Google libraries' own authentication off, this is the only
// authentication firebase sends. base must return responses with their
// bodies already read (h2client does): the request's context ends when
// RoundTrip returns. (http.Client.Timeout would do the bounding with a
// goroutine per request.)
type bearerTransport struct {
	ts      *tokenSource
	base    http.RoundTripper
	timeout time.Duration
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	defer cancel()
	tok, err := t.ts.Token(ctx)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(ctx)
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.base.RoundTrip(r)
}

// tokenErr converts a token failure into the package's error model.
func tokenErr(op string, err error) error {
	var te *TokenError
	if errors.As(err, &te) && te.Rejected() {
		return &push.Error{Op: op, Kind: push.Unprocessable, Code: string(push.OAuthInvalidGrant), Err: err}
	}
	return push.E(op, push.Transient, err)
}
