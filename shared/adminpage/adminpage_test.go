package adminpage

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// serve answers one request through the routes as `mobilepush serve`
// mounts them, with a catch-all that stands for the API's 404.
func serve(t *testing.T, method, path string) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range Routes() {
		mux.Handle(pattern, h)
	}
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api", http.StatusTeapot) }))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		method, path string
		status       int
		contentType  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/assets/admin.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/assets/fleet.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/assets/csr.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/assets/admin.css", 200, "text/css; charset=utf-8"},
		{"GET", "/assets/favicon.svg", 200, "image/svg+xml"},
		{"GET", "/assets/nope.js", 404, ""},
		{"GET", "/assets/", 404, ""},
		{"GET", "/index.html", 418, ""}, // not the page's: the API answers
		{"POST", "/", 418, ""},
		{"GET", "/v1/apps", 418, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := serve(t, tt.method, tt.path)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status != 200 && tt.status != 404 {
				return
			}
			if got := res.Header.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("CSP = %q", got)
			}
			if tt.status == 200 {
				if got := res.Header.Get("Content-Type"); got != tt.contentType {
					t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
				}
				if res.Header.Get("ETag") == "" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("headers: %v", res.Header)
				}
			}
		})
	}
}

func TestNotModified(t *testing.T) {
	first := serve(t, "GET", "/assets/admin.js")
	mux := http.NewServeMux()
	for pattern, h := range Routes() {
		mux.Handle(pattern, h)
	}
	req := httptest.NewRequest("GET", "/assets/admin.js", nil)
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation: status %d, want 304", rec.Code)
	}
}

// TestPageMarkup checks what the page promises without a browser: the
// inputs are in the served HTML, nothing loads from another origin, and
// nothing inline would need the CSP relaxed.
func TestPageMarkup(t *testing.T) {
	body, _ := io.ReadAll(serve(t, "GET", "/").Body)
	html := string(body)
	for _, want := range []string{
		`id="app-name"`, `id="app-enabled"`, `Enable PUSH notification for App`, `id="app-description"`,
		`Connect to Apple/Google Production PUSH Server`, `id="apns-bundle"`,
		`id="apns-p12" type="file"`, `id="apns-password" type="password"`, `id="apns-p8" type="file"`,
		`id="apns-key-id"`, `id="apns-team-id"`, `id="fcm-file" type="file"`, `id="fcm-text"`,
		`id="save"`, `How do I get this file?`, `google-services.json`, `no private key`, `aria-live="polite"`,
		`id="attention"`, `id="timeline"`, `id="f-q" type="search"`, `id="f-status"`, `id="f-platform"`, `id="f-sort"`,
		`id="fleet-table"`, `id="more"`, `id="a-action"`, `id="a-platform"`, `id="audit-more"`, `href="#/new"`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	sources := map[string]string{"index.html": html, "admin.css": read(t, "/assets/admin.css")}
	for _, js := range []string{"common.js", "csr.js", "fleet.js", "detail.js", "admin.js"} {
		if !strings.Contains(html, `<script src="/assets/`+js+`" defer></script>`) {
			t.Errorf("page does not load %s", js)
		}
		sources[js] = read(t, "/assets/"+js)
	}
	for name, src := range sources {
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`), // another origin
			regexp.MustCompile(`(?i)url\(\s*["']?(https?:)?//`),
			regexp.MustCompile(`(?i)@import`),
			regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`),    // inline event handler
			regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`),       // inline style
			regexp.MustCompile(`(?i)<script>|<script\s+[^s]`), // inline script (only src= allowed)
			regexp.MustCompile(`(?i)innerHTML|eval\(|new Function`),
		} {
			if loc := bad.FindStringIndex(src); loc != nil {
				t.Errorf("%s: %q matches %s", name, src[loc[0]:min(loc[1]+20, len(src))], bad)
			}
		}
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := io.ReadAll(serve(t, "GET", path).Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
