// Package httpapi is the HTTP API of mobilepush (docs/ARCHITECTURE.md, HTTP API): one
// http.Handler, used by the register and validate Lambda functions behind
// API Gateway and by `mobilepush serve` locally. Requests and responses
// are JSON (uploads also as multipart/form-data, as a browser form posts
// them); errors are {"error":{"code","message","details"}} with the
// push.Kind -> status mapping in routes.go. The tenant always comes from
// the authenticated principal, never from the body.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

// Authenticator identifies the caller of a request. It returns an
// Unauthorized error when the request carries no valid credentials.
type Authenticator interface {
	Authenticate(r *http.Request) (registry.Principal, error)
}

// DefaultMaxBody caps request bodies: a .p12, a .p8 and a service-account
// key (64 KiB each at most) base64-encoded, with room to spare.
const DefaultMaxBody = 512 << 10

// Config configures a Handler. Registry and Auth are required.
type Config struct {
	Registry *registry.Service
	Auth     Authenticator
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
	// MaxBody caps request bodies in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// RequestID returns the request id of r (e.g. API Gateway's); nil or
	// "" means X-Request-Id, else a generated id.
	RequestID func(r *http.Request) string
	// Serve selects the routes this handler serves ("METHOD /pattern" as
	// in routes.go); nil serves all. The others answer 404, so a Lambda
	// function behind a subset of API Gateway routes serves only those.
	Serve func(route string) bool
	// Extra routes mounted on the same mux (e.g. the local message
	// endpoints and the admin page of `mobilepush serve`).
	Extra map[string]http.Handler
}

// Handler serves the API. It is safe for concurrent use.
type Handler struct {
	reg     *registry.Service
	auth    Authenticator
	log     *slog.Logger
	maxBody int64
	reqID   func(r *http.Request) string
	mux     *http.ServeMux
}

// New returns the API handler.
func New(c Config) *Handler {
	h := &Handler{reg: c.Registry, auth: c.Auth, log: c.Logger, maxBody: c.MaxBody, reqID: c.RequestID, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	for _, rt := range routes {
		if name := rt.method + " " + rt.pattern; c.Serve == nil || c.Serve(name) {
			h.mux.Handle(name, h.endpoint(rt))
		}
	}
	for pattern, eh := range c.Extra {
		h.mux.Handle(pattern, eh)
	}
	h.mux.Handle("/", http.HandlerFunc(h.unrouted))
	return h
}

// methods are the methods an Allow header may list.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unrouted answers a request no route takes, with its request id and one
// access-log line: 405 with Allow when the path is served for other
// methods, else 404. Neither needs a token: the routes are public in
// openapi.yaml.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	reqID := h.requestID(r)
	w.Header().Set("X-Request-Id", reqID)
	log := h.log.With("request_id", reqID, "method", r.Method, "route", "")
	status := http.StatusNotFound
	if allow := h.allowed(r); len(allow) > 0 {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, status, errorBody{Error: errorDetail{Code: "method_not_allowed", Message: "This path is served only for " + strings.Join(allow, ", ") + "."}})
	} else {
		writeError(w, r, push.Errorf("httpapi", push.NotFound, "no such route: %s %s", r.Method, r.URL.Path), log)
	}
	log.Info("request", "status", status)
}

// allowed returns the methods for which a route other than the
// catch-all takes r's path.
func (h *Handler) allowed(r *http.Request) []string {
	var out []string
	for _, m := range methods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	return out
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// call is the per-request state the endpoints share.
type call struct {
	who   registry.Principal
	reqID string
}

type ctxKey struct{}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// endpoint wraps a route of the table.
func (h *Handler) endpoint(rt route) http.Handler {
	return h.wrap(rt.pattern, func(w http.ResponseWriter, r *http.Request, c *call) error { return rt.handle(h, w, r, c) })
}

// wrap serves fn as every endpoint is served: request id, body cap,
// authentication, error rendering and one access-log line.
func (h *Handler) wrap(pattern string, fn func(w http.ResponseWriter, r *http.Request, c *call) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &call{reqID: h.requestID(r)}
		sw := &statusWriter{ResponseWriter: w}
		sw.Header().Set("X-Request-Id", c.reqID)
		r.Body = http.MaxBytesReader(sw, r.Body, h.maxBody)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, c.reqID))
		log := h.log.With("request_id", c.reqID, "method", r.Method, "route", pattern)

		who, err := h.auth.Authenticate(r)
		if err == nil {
			c.who = who
			log = log.With("tenant", who.Tenant)
			err = fn(sw, r, c)
		} else {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="mobilepush"`)
			if push.KindOf(err) != push.Unauthorized {
				err = push.E("httpapi.authenticate", push.Unauthorized, err)
			}
		}
		var cause []any
		if err != nil {
			writeError(sw, r, err, log)
			if k := push.KindOf(err); k != push.Internal && k != push.Transient {
				// The cause of a client error (e.g. the SDK's answer) is
				// never in the body: it is here, for the operator.
				cause = []any{"code", push.CodeOf(err), "err", err}
			}
		}
		log.Info("request", append([]any{"status", sw.status, "duration_ms", time.Since(start).Milliseconds()}, cause...)...)
	})
}

// EndpointFunc serves one request of an endpoint outside the API's route
// table for the authenticated caller who. It writes the success response
// itself (WriteJSON); a returned error is rendered as the API renders its
// own: {"error":{"code","message","details"}} with the status of its
// push.Kind.
type EndpointFunc func(w http.ResponseWriter, r *http.Request, who registry.Principal) error

// Endpoint returns fn served exactly as the API serves its own routes
// (request id, body capped at c.MaxBody, authentication with c.Auth (401
// before fn runs), the error JSON and Kind -> status mapping, one
// access-log line on c.Logger naming pattern), for mounting through
// Config.Extra. Only Auth, Logger, MaxBody and RequestID of c are used;
// Auth is required.
func Endpoint(c Config, pattern string, fn EndpointFunc) http.Handler {
	h := &Handler{auth: c.Auth, log: c.Logger, maxBody: c.MaxBody, reqID: c.RequestID}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	return h.wrap(pattern, func(w http.ResponseWriter, r *http.Request, c *call) error { return fn(w, r, c.who) })
}

// WriteJSON writes v as the API writes its answers: status, JSON without
// HTML escaping, Cache-Control no-store.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// ReadBody reads the whole request body of an Endpoint: TooLarge past
// the cap, Invalid when it cannot be read.
func ReadBody(r *http.Request) ([]byte, error) { return readBody(r) }

func (h *Handler) requestID(r *http.Request) string {
	if h.reqID != nil {
		if id := h.reqID(r); id != "" {
			return id
		}
	}
	if id := r.Header.Get("X-Request-Id"); plainRequestID(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// MaxClientRequestID is the longest X-Request-Id taken from a client.
const MaxClientRequestID = 64

// plainRequestID reports whether a client's request id is short and
// plain (letters, digits, '-', '_', '.', ':'), so that it can go into
// logs, headers and audit lines as it is; any other gets a new id.
func plainRequestID(id string) bool {
	if id == "" || len(id) > MaxClientRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// writeError renders err: status from its Kind, code from its Code, and
// the message meant for the caller (push.MessageOf: the error's explicit
// client message, else its Kind's fixed text), never the text of a cause.
// Server errors are logged here with their cause; the access-log line
// carries the cause of the others. An upload rejection carries its report
// (and live result) in details.
func writeError(w http.ResponseWriter, r *http.Request, err error, log *slog.Logger) {
	kind := push.KindOf(err)
	status, ok := statusOf[kind]
	if !ok {
		status, kind = http.StatusInternalServerError, push.Internal
	}
	d := errorDetail{Code: push.CodeOf(err), Message: push.MessageOf(err)}
	switch kind {
	case push.Internal:
		d.Code, d.Message = "internal", "An internal error occurred; it has been logged with the request id."
		log.Error("request_failed", "err", err)
	case push.Transient:
		d.Code, d.Message = "transient", "A dependency is unavailable; retry later."
		w.Header().Set("Retry-After", "5")
		log.Warn("request_failed", "err", err)
	}
	var rej *registry.Rejection
	if errors.As(err, &rej) {
		d.Details = map[string]any{"platform": rej.Platform}
		if rej.Report != nil {
			d.Details["report"] = rej.Report
		}
		if rej.Live != nil {
			d.Details["live"] = rej.Live
		}
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		d.Details = map[string]any{"field": fe.field}
	}
	writeJSON(w, status, errorBody{Error: d})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// etag is the entity tag of an app version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version an If-Match header asks for: 0 when absent
// or "*". A malformed value is Invalid.
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	v = strings.TrimPrefix(v, "W/")
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if err != nil || n <= 0 {
		return 0, &fieldError{field: "If-Match", err: push.Errorf("httpapi", push.Invalid, `If-Match must be an ETag such as "3"`)}
	}
	return n, nil
}

// loadApp loads the caller's app {id} and checks If-Match against it, in
// the API's order of handling: 404 (also for another tenant's app), then
// 412. It returns the app and the version to write under.
func (h *Handler) loadApp(r *http.Request, c *call) (credential.App, int64, error) {
	app, err := h.reg.Get(r.Context(), c.who, r.PathValue("id"))
	if err != nil {
		return credential.App{}, 0, err
	}
	want, err := ifMatch(r)
	if err != nil {
		return credential.App{}, 0, err
	}
	if want != 0 && want != app.Version {
		return credential.App{}, 0, push.Errorf("httpapi", push.PreconditionFailed, "the app changed since it was read (ETag %s); read it again", etag(app.Version))
	}
	return app, want, nil
}
