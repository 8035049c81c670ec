// Package adminpage is the admin page of `mobilepush serve` (docs/ARCHITECTURE.md, Local server):
// a portal-like form to register apps and upload push credentials, the
// checks of each upload shown next to the fields they concern, and the app
// list with status, days left and the credential actions, and the APNs
// certificate made without a Mac (a signing request, Apple's .cer back).
//
// The page is static: one HTML file, one stylesheet and a few scripts
// (static/assets), embedded in the binary, with no framework, build step
// or network asset.
// It talks to the HTTP API of package httpapi on the same origin with a
// bearer token the administrator enters once (kept in sessionStorage), so
// serving the page itself needs no token. Every response carries a strict
// Content-Security-Policy (same origin only, no inline script or style).
package adminpage

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is the policy sent with the page and its assets:
// scripts, styles, images and API calls from the page's own origin only,
// no inline code, no framing, no plug-ins.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// file is one embedded file, read once.
type file struct {
	name string // for the content type (by extension)
	body []byte
	etag string
}

// handler serves the files of static: "/" is index.html, "/assets/NAME"
// is static/assets/NAME.
type handler struct {
	files map[string]file // by URL path
}

// Handler returns the http.Handler of the page: GET / answers the page
// and GET /assets/NAME its stylesheet, script and icon; any other path is
// 404. It needs no authentication (the page holds no data until the
// administrator enters a token) and is safe for concurrent use.
func Handler() http.Handler {
	h := &handler{files: map[string]file{}}
	add := func(urlPath, name string) {
		b, err := fs.ReadFile(static, name)
		if err != nil {
			panic("adminpage: embedded file missing: " + name) // a build error, not a runtime one
		}
		sum := sha256.Sum256(b)
		h.files[urlPath] = file{name: name, body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	add("/", "static/index.html")
	assets, err := fs.ReadDir(static, "static/assets")
	if err != nil {
		panic("adminpage: embedded assets missing")
	}
	for _, e := range assets {
		add("/assets/"+e.Name(), "static/assets/"+e.Name())
	}
	return h
}

// Routes returns the mux patterns to mount Handler on (httpapi.Config's
// Extra): the page at exactly "/" and everything under "/assets/", for
// GET (and so HEAD) only.
func Routes() map[string]http.Handler {
	h := Handler()
	return map[string]http.Handler{"GET /{$}": h, "GET /assets/": h}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	f, ok := h.files[r.URL.Path]
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.NotFound(w, r)
		return
	}
	// Revalidate every time: a new binary must never run an old script.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	if strings.HasSuffix(f.name, ".html") {
		hd.Set("Content-Type", "text/html; charset=utf-8")
	}
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}
