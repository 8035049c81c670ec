package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

func TestFleetListAndSummary(t *testing.T) { eachBackend(t, testFleetListAndSummary) }

func testFleetListAndSummary(t *testing.T, backend string) {
	a := newAPIOn(t, backend, accept)
	c := mint(t)
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	soon, err := ca.IssuePush(testcred.PushCert{BundleID: "com.beta.app", NotBefore: timeAgo(300), NotAfter: time.Now().Add(10*24*time.Hour + time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	soonP12, err := soon.P12(pkcs12.Modern2023, p12Password, true)
	if err != nil {
		t.Fatal(err)
	}
	create := func(tenant string, body map[string]any) string {
		t.Helper()
		status, _, app := a.do(t, tenant, "POST", "/v1/apps", body)
		if status != http.StatusCreated {
			t.Fatalf("create %v = %d %v", body["name"], status, app)
		}
		return str(app, "id")
	}
	alpha := create("acme", map[string]any{"name": "Alpha", "apns": map[string]any{"bundle_id": "com.acme.app", "p12_base64": b64(c.p12), "password": p12Password}})
	beta := create("acme", map[string]any{"name": "beta", "apns": map[string]any{"bundle_id": "com.beta.app", "p12_base64": b64(soonP12), "password": p12Password}})
	gamma := create("acme", map[string]any{"name": "Gamma", "fcm": map[string]any{"service_account_json": c.sa}})
	create("globex", map[string]any{"name": "Alpha of globex", "apns": map[string]any{"bundle_id": "com.beta.app", "p12_base64": b64(soonP12), "password": p12Password}})

	list := func(query string) ([]string, map[string]any) {
		t.Helper()
		status, _, body := a.do(t, "acme", "GET", "/v1/apps?"+query, nil)
		if status != http.StatusOK {
			t.Fatalf("GET /v1/apps?%s = %d %v", query, status, body)
		}
		var ids []string
		for _, app := range body["apps"].([]any) {
			ids = append(ids, app.(map[string]any)["id"].(string))
		}
		return ids, body
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{beta, alpha, gamma}}, // attention: the expiring app first
		{"sort=name", []string{alpha, beta, gamma}},
		{"status=expiring", []string{beta}},
		{"status=ok,expiring&sort=name", []string{alpha, beta, gamma}},
		{"status=unconfigured&platform=apns", []string{gamma}},
		{"status=ok&platform=fcm", []string{gamma}},
		{"q=BETA.app", []string{beta}},
		{"q=example-project", []string{gamma}}, // the FCM project id
		{"q=" + url.QueryEscape(gamma), []string{gamma}},
		{"sort=days_left", []string{beta, alpha, gamma}},
		{"sort=updated_at", []string{gamma, beta, alpha}},
	}
	for _, tt := range tests {
		if got, body := list(tt.query); !slices.Equal(got, tt.want) || str(body, "total") != strconv.Itoa(len(tt.want)) {
			t.Errorf("?%s: ids %v (total %s), want %v", tt.query, got, str(body, "total"), tt.want)
		}
	}
	// Paging by one under a filter and an order.
	var paged []string
	for q := "sort=name&status=ok,expiring&limit=1"; ; {
		ids, body := list(q)
		paged = append(paged, ids...)
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		q = "sort=name&status=ok,expiring&limit=1&cursor=" + url.QueryEscape(next)
	}
	if want := []string{alpha, beta, gamma}; !slices.Equal(paged, want) {
		t.Errorf("paged by one = %v, want %v", paged, want)
	}

	status, _, sum := a.do(t, "acme", "GET", "/v1/summary", nil)
	if status != http.StatusOK {
		t.Fatalf("summary = %d %v", status, sum)
	}
	checks := []struct{ name, got, want string }{
		{"apps", str(sum, "apps"), "3"},
		{"attention", str(sum, "attention"), "1"},
		{"apns expiring", str(sum, "apns", "expiring"), "1"},
		{"apns ok", str(sum, "apns", "ok"), "1"},
		{"apns unconfigured", str(sum, "apns", "unconfigured"), "1"},
		{"fcm ok", str(sum, "fcm", "ok"), "1"},
		{"fcm suspended", str(sum, "fcm", "suspended"), "0"},
		{"fcm unconfigured", str(sum, "fcm", "unconfigured"), "2"},
	}
	next := sum["next_expiries"].([]any)
	if len(next) != 2 {
		t.Fatalf("next_expiries = %v, want beta's and alpha's certificates", next)
	}
	first := next[0].(map[string]any)
	checks = append(checks,
		struct{ name, got, want string }{"first expiry", str(first, "app_id"), beta},
		struct{ name, got, want string }{"its name", str(first, "name"), "beta"},
		struct{ name, got, want string }{"its platform", str(first, "platform"), "apns"},
		struct{ name, got, want string }{"its days left", str(first, "days_left"), "10"})
	if _, ok := first["not_after"].(string); !ok {
		t.Errorf("next expiry lacks not_after: %v", first)
	}
	for _, tt := range checks {
		if tt.got != tt.want {
			t.Errorf("summary %s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if _, _, g := a.do(t, "globex", "GET", "/v1/summary", nil); str(g, "apps") != "1" || str(g, "attention") != "1" {
		t.Errorf("globex's summary = %v, want its one app", g)
	}
	if _, _, h := a.do(t, "acme", "GET", "/v1/summary?horizon_days=30", nil); len(h["next_expiries"].([]any)) != 1 {
		t.Errorf("expiries within 30 days = %v, want beta's", h["next_expiries"])
	}

	bad := []struct{ path, field string }{
		{"/v1/apps?sort=random", "sort"},
		{"/v1/apps?status=ok,broken", "status"},
		{"/v1/apps?platform=web", "platform"},
		{"/v1/apps?limit=0", "limit"},
		{"/v1/apps?sort=name&cursor=%21%21", ""},
		{"/v1/summary?horizon_days=0", "horizon_days"},
	}
	for _, tt := range bad {
		status, _, body := a.do(t, "acme", "GET", tt.path, nil)
		if status != http.StatusBadRequest || str(body, "error", "code") != "invalid" {
			t.Errorf("GET %s = %d %v, want 400 invalid", tt.path, status, body)
		}
		if tt.field != "" && str(body, "error", "details", "field") != tt.field {
			t.Errorf("GET %s: details %v do not name %q", tt.path, body["error"], tt.field)
		}
	}
}
