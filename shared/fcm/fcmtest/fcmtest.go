// Package fcmtest is a faithful fake of the two Google services an FCM
// sender talks to, as one http.Handler: the OAuth token endpoint (POST
// /token, JWT-bearer grant with an RS256 assertion) and FCM HTTP v1
// (POST /v1/projects/{project}/messages:send). It checks what Google
// checks — the assertion's signature against keys registered with it,
// aud, scope and lifetime; the bearer token on sends and the project it
// was issued for; the message's target, data, android.ttl and size — and
// answers with Google's status codes and error bodies.
//
// Answers can be scripted per registration token and per project, and
// the fake counts what it receives. A Fake is safe for concurrent use.
//
// Tests use NewServer (an HTTP/2 TLS httptest server on 127.0.0.1 with
// the pool clients must trust). `mobilepush serve --fake-gateways`
// mounts a Fake built with Options{AcceptAnyKey: true} on its own TLS
// listener: it cannot know uploaded keys, so it accepts any well-formed
// RS256 assertion and still checks aud, scope and expiry.
package fcmtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paths the Fake serves.
const (
	TokenPath = "/token"
	SendPath  = "/v1/projects/{project}/messages:send"
)

// Scopes a token request may carry; one of them must be present.
var acceptedScopes = []string{
	"https://www.googleapis.com/auth/firebase.messaging",
	"https://www.googleapis.com/auth/cloud-platform",
}

// Google's invalid_grant descriptions.
const (
	DescBadSignature    = "Invalid JWT Signature."
	DescAccountNotFound = "Invalid grant: account not found"
	DescDisabled        = "Robot is disabled."
	DescTimeframe       = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
)

// Options configure a Fake.
type Options struct {
	// AcceptAnyKey accepts a well-formed RS256 assertion from an unknown
	// account without verifying its signature (aud, scope and lifetime
	// are still checked). Registered accounts are always verified.
	AcceptAnyKey bool
	// TokenURL is the audience assertions must name. Empty means the
	// URL the request arrived at (https://<Host>/token).
	TokenURL string
	// RecordMessages keeps the last message received for every
	// registration token (see MessageFor). LastMessage is always kept.
	RecordMessages bool
	// RecordSent keeps the identities of every valid send received for
	// delivery, repeats included (see Sent).
	RecordSent bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Fake is the fake Google. Build it with New.
type Fake struct {
	opts Options
	mux  *http.ServeMux

	mu            sync.Mutex
	accounts      map[string]*account // by client_email
	issued        map[string]grant    // access token -> grant
	tokenScripts  map[string][]Reply
	projectScript map[string][]Reply
	perToken      map[string]int
	sends         int
	inFlight      int // sends being answered
	peakInFlight  int
	latency       time.Duration
	tokenPosts    int
	last          Message
	byToken       map[string]Message
	sent          []Sent
	msgSeq        int64
}

type account struct {
	project  string
	keys     map[string]*rsa.PublicKey // by private_key_id
	deleted  bool
	disabled bool
}

type grant struct {
	email   string
	project string
	expires time.Time
}

// New returns a Fake with no registered accounts.
func New(opts Options) *Fake {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f := &Fake{
		opts:          opts,
		mux:           http.NewServeMux(),
		accounts:      map[string]*account{},
		issued:        map[string]grant{},
		tokenScripts:  map[string][]Reply{},
		projectScript: map[string][]Reply{},
		perToken:      map[string]int{},
		byToken:       map[string]Message{},
	}
	f.mux.HandleFunc("POST "+TokenPath, f.serveToken)
	f.mux.HandleFunc("POST "+SendPath, f.serveSend)
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeGoogleError(w, Reply{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "The requested URL " + r.URL.Path + " was not found on this server."})
	})
	return f
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.mux.ServeHTTP(w, r) }

// AddServiceAccount registers the public key of a service-account JSON
// (client_email, private_key_id, project_id, private_key) as Google
// would know it after "Generate new private key".
func (f *Fake) AddServiceAccount(saJSON []byte) error {
	var sa struct {
		ProjectID    string `json:"project_id"`
		ClientEmail  string `json:"client_email"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
	}
	if err := json.Unmarshal(saJSON, &sa); err != nil {
		return fmt.Errorf("fcmtest: service account: %w", err)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return errors.New("fcmtest: service account: private_key is not PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return errors.New("fcmtest: service account: key is not RSA")
		}
		key = rk
	} else if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = k
	} else {
		return errors.New("fcmtest: service account: private_key does not parse")
	}
	f.AddKey(sa.ClientEmail, sa.ProjectID, sa.PrivateKeyID, &key.PublicKey)
	return nil
}

// AddKey registers a public key for the account clientEmail of project
// projectID under keyID (the private_key_id / JWT kid).
func (f *Fake) AddKey(clientEmail, projectID, keyID string, pub *rsa.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.accounts[clientEmail]
	if a == nil {
		a = &account{keys: map[string]*rsa.PublicKey{}}
		f.accounts[clientEmail] = a
	}
	a.project = projectID
	a.keys[keyID] = pub
}

// DeleteKey deletes one key of an account: its assertions then fail with
// invalid_grant "Invalid JWT Signature.", as at Google.
func (f *Fake) DeleteKey(clientEmail, keyID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.accounts[clientEmail]; a != nil {
		delete(a.keys, keyID)
	}
}

// DeleteAccount deletes the service account: invalid_grant "Invalid
// grant: account not found"; access tokens issued to it stop working.
func (f *Fake) DeleteAccount(clientEmail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.accounts[clientEmail]; a != nil {
		a.deleted = true
	}
	f.revokeLocked(clientEmail)
}

// DisableAccount disables the service account: invalid_grant "Robot is
// disabled."; access tokens issued to it stop working.
func (f *Fake) DisableAccount(clientEmail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.accounts[clientEmail]; a != nil {
		a.disabled = true
	}
	f.revokeLocked(clientEmail)
}

// RevokeAccessTokens invalidates every access token issued so far, so
// the next send answers 401 UNAUTHENTICATED (new tokens still work).
func (f *Fake) RevokeAccessTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued = map[string]grant{}
}

func (f *Fake) revokeLocked(email string) {
	for tok, g := range f.issued {
		if g.email == email {
			delete(f.issued, tok)
		}
	}
}

// ScriptToken sets the answers for sends to a registration token, used
// in order; the last one repeats. ScriptToken(tok, Unavailable(""),
// OK()) is "503 once, then success". No replies clears the script.
func (f *Fake) ScriptToken(token string, replies ...Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(replies) == 0 {
		delete(f.tokenScripts, token)
		return
	}
	f.tokenScripts[token] = append([]Reply(nil), replies...)
}

// ScriptProject sets the answers for every send to a project (checked
// after authentication, before the message), like ScriptToken.
func (f *Fake) ScriptProject(project string, replies ...Reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(replies) == 0 {
		delete(f.projectScript, project)
		return
	}
	f.projectScript[project] = append([]Reply(nil), replies...)
}

// Requests returns how many sends named the registration token.
func (f *Fake) Requests(token string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.perToken[token]
}

// TotalRequests returns how many requests reached the send endpoint.
func (f *Fake) TotalRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sends
}

// SetLatency makes every later send wait d before it is handled, as a
// distant server would.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	f.latency = d
	f.mu.Unlock()
}

// PeakInFlight returns the most send requests the Fake was answering at
// once.
func (f *Fake) PeakInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peakInFlight
}

// TokenRequests returns how many requests reached the token endpoint.
func (f *Fake) TokenRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenPosts
}

// Message is a send the Fake accepted for processing (authenticated and
// valid JSON): the project, the OAuth client, validate_only and the
// "message" object as received.
type Message struct {
	Project      string
	ClientEmail  string
	ValidateOnly bool
	Token        string
	Topic        string
	Condition    string
	Raw          json.RawMessage
}

// Decode unmarshals the raw message into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Raw, v) }

// LastMessage returns the last message received; ok is false if none.
func (f *Fake) LastMessage() (m Message, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.last.Raw != nil
}

// MessageFor returns the last message received for a registration token
// (Options.RecordMessages must be set).
func (f *Fake) MessageFor(token string) (m Message, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok = f.byToken[token]
	return m, ok
}

// ---- OAuth token endpoint ----

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenPosts++
	f.mu.Unlock()

	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request body.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	assertion := r.PostForm.Get("assertion")
	if assertion == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: assertion")
		return
	}
	aud := f.opts.TokenURL
	if aud == "" {
		aud = "https://" + r.Host + TokenPath
	}
	g, status, code, desc := f.verifyAssertion(assertion, aud)
	if code != "" {
		writeOAuthError(w, status, code, desc)
		return
	}
	tok := "ya29.fake." + randomHex(24)
	f.mu.Lock()
	f.issued[tok] = g
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

type jwtClaims struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// verifyAssertion checks the JWT like Google: shape and alg, signature
// (registered accounts always; unknown ones only without AcceptAnyKey),
// account state, aud, lifetime and scope.
func (f *Fake) verifyAssertion(assertion, aud string) (g grant, status int, code, desc string) {
	const bad = http.StatusBadRequest
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return g, bad, "invalid_grant", DescBadSignature
	}
	enc := base64.RawURLEncoding
	hb, err1 := enc.DecodeString(parts[0])
	cb, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	var h jwtHeader
	var c jwtClaims
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		return g, bad, "invalid_grant", DescBadSignature
	}
	if h.Alg != "RS256" || len(sig) < 128 || c.Iss == "" {
		return g, bad, "invalid_grant", DescBadSignature
	}

	f.mu.Lock()
	a := f.accounts[c.Iss]
	var keys []*rsa.PublicKey
	var project string
	deleted, disabled := false, false
	if a != nil {
		project, deleted, disabled = a.project, a.deleted, a.disabled
		if h.Kid != "" {
			if k := a.keys[h.Kid]; k != nil {
				keys = append(keys, k)
			}
		} else {
			for _, k := range a.keys {
				keys = append(keys, k)
			}
		}
	}
	f.mu.Unlock()

	switch {
	case a == nil && !f.opts.AcceptAnyKey, deleted:
		return g, bad, "invalid_grant", DescAccountNotFound
	case disabled:
		return g, bad, "invalid_grant", DescDisabled
	case a != nil:
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		ok := false
		for _, k := range keys {
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return g, bad, "invalid_grant", DescBadSignature
		}
	default: // AcceptAnyKey and an unknown account
		project = projectOfEmail(c.Iss)
	}

	if c.Aud != aud {
		return g, bad, "invalid_grant", "Invalid JWT: Failed audience check. The right audience is " + aud
	}
	now := f.opts.Now()
	const skew = 5 * time.Minute
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	if c.Iat == 0 || c.Exp == 0 || exp.Sub(iat) > time.Hour || !exp.After(iat) || !now.Before(exp) || iat.After(now.Add(skew)) {
		return g, bad, "invalid_grant", DescTimeframe
	}
	if !hasScope(c.Scope) {
		return g, bad, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
	}
	return grant{email: c.Iss, project: project, expires: now.Add(3599 * time.Second)}, 0, "", ""
}

func hasScope(s string) bool {
	for _, have := range strings.Fields(s) {
		for _, want := range acceptedScopes {
			if have == want {
				return true
			}
		}
	}
	return false
}

var emailProject = regexp.MustCompile(`@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$`)

// projectOfEmail returns the project of a service-account e-mail
// (name@PROJECT.iam.gserviceaccount.com), or "".
func projectOfEmail(email string) string {
	if m := emailProject.FindStringSubmatch(email); m != nil {
		return m[1]
	}
	return ""
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ---- FCM HTTP v1 ----

func (f *Fake) serveSend(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	f.mu.Lock()
	f.sends++
	f.inFlight++
	f.peakInFlight = max(f.peakInFlight, f.inFlight)
	latency := f.latency
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if latency > 0 {
		time.Sleep(latency)
	}

	// 1. Authentication.
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	g, known := f.issued[tok]
	f.mu.Unlock()
	if !ok || !known || !f.opts.Now().Before(g.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
		writeGoogleError(w, Unauthenticated())
		return
	}
	// 2. Authorization: the token's service account must belong to the
	// project in the path.
	if g.project != "" && g.project != project {
		writeGoogleError(w, PermissionDenied(project))
		return
	}
	if rep, scripted := f.next(f.projectScript, project); scripted && rep.Status != http.StatusOK {
		writeGoogleError(w, rep)
		return
	}

	// 3. The request.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeGoogleError(w, invalidArgument("", "Request payload size exceeds the limit: 1048576 bytes."))
		return
	}
	var req struct {
		Message      json.RawMessage `json:"message"`
		ValidateOnly bool            `json:"validate_only"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeGoogleError(w, invalidArgument("", "Invalid JSON payload received. "+jsonProblem(err)))
		return
	}
	var msg wireMessage
	if len(req.Message) == 0 || json.Unmarshal(req.Message, &msg) != nil {
		writeGoogleError(w, invalidArgument("message", "Invalid JSON payload received. message must be an object."))
		return
	}
	m := Message{Project: project, ClientEmail: g.email, ValidateOnly: req.ValidateOnly, Token: msg.Token, Topic: msg.Topic, Condition: msg.Condition, Raw: req.Message}
	f.mu.Lock()
	if msg.Token != "" {
		f.perToken[msg.Token]++
		if f.opts.RecordMessages {
			f.byToken[msg.Token] = m
		}
	}
	f.last = m
	f.mu.Unlock()

	if rep, bad := validate(msg); bad {
		writeGoogleError(w, rep)
		return
	}
	if !req.ValidateOnly {
		f.recordSent(msg.Token, req.Message) // whatever the token's fate: a device may have it
	}
	// 4. The registration token's own fate.
	if rep, scripted := f.next(f.tokenScripts, msg.Token); scripted && rep.Status != http.StatusOK {
		writeGoogleError(w, rep)
		return
	}
	name := "projects/" + url.PathEscape(project) + "/messages/fake_message_id"
	if !req.ValidateOnly {
		f.mu.Lock()
		f.msgSeq++
		n := f.msgSeq
		f.mu.Unlock()
		name = "projects/" + url.PathEscape(project) + "/messages/" + strconv.FormatInt(1700000000000000+n, 10)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"name": name})
}

// next takes the next scripted reply for key; the last one repeats.
func (f *Fake) next(scripts map[string][]Reply, key string) (Reply, bool) {
	if key == "" {
		return Reply{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := scripts[key]
	if len(rs) == 0 {
		return Reply{}, false
	}
	r := rs[0]
	if len(rs) > 1 {
		scripts[key] = rs[1:]
	}
	return r, true
}

func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("Invalid value at '%s'.", ute.Field)
	}
	if s, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "Unknown name " + s + ": Cannot find field."
	}
	return "Syntax error."
}

// wireMessage is the part of an FCM v1 message the Fake validates.
type wireMessage struct {
	Token        string                     `json:"token"`
	Topic        string                     `json:"topic"`
	Condition    string                     `json:"condition"`
	Data         map[string]json.RawMessage `json:"data"`
	Notification *struct {
		Title string `json:"title"`
		Body  string `json:"body"`
		Image string `json:"image"`
	} `json:"notification"`
	Android *struct {
		TTL      json.RawMessage            `json:"ttl"`
		Priority string                     `json:"priority"`
		Data     map[string]json.RawMessage `json:"data"`
	} `json:"android"`
}

var ttlFormat = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,9})?s$`)

// MaxPayload is FCM's limit on a message's payload (data and
// notification), in bytes.
const MaxPayload = 4096

// validate checks a message as FCM does; bad reports a 400 reply.
func validate(m wireMessage) (Reply, bool) {
	targets := 0
	for _, s := range []string{m.Token, m.Topic, m.Condition} {
		if s != "" {
			targets++
		}
	}
	if targets != 1 {
		return invalidArgument("message", "Exactly one of message.token, message.topic or message.condition must be specified."), true
	}
	size := 0
	i := 0
	for k, v := range m.Data {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return invalidArgument(fmt.Sprintf("message.data[%d].value", i), fmt.Sprintf("Invalid value at 'message.data[%d].value' (TYPE_STRING), %s", i, string(v))), true
		}
		size += len(k) + len(s)
		i++
	}
	if m.Notification != nil {
		size += len(m.Notification.Title) + len(m.Notification.Body) + len(m.Notification.Image)
	}
	if a := m.Android; a != nil {
		if len(a.TTL) > 0 {
			var ttl string
			if json.Unmarshal(a.TTL, &ttl) != nil || !ttlFormat.MatchString(ttl) {
				return invalidArgument("message.android.ttl", "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), Field 'ttl', Illegal duration format; duration must end with 's'"), true
			}
		}
		switch strings.ToUpper(a.Priority) {
		case "", "NORMAL", "HIGH":
		default:
			return invalidArgument("message.android.priority", fmt.Sprintf("Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), %q", a.Priority)), true
		}
		i := 0
		for _, v := range a.Data {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return invalidArgument(fmt.Sprintf("message.android.data[%d].value", i), fmt.Sprintf("Invalid value at 'message.android.data[%d].value' (TYPE_STRING), %s", i, string(v))), true
			}
			i++
		}
	}
	if size > MaxPayload {
		return invalidArgument("message", fmt.Sprintf("Message is too big: the payload is %d bytes, the limit is %d bytes.", size, MaxPayload)), true
	}
	return Reply{}, false
}
