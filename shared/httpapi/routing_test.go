package httpapi_test

import (
	"regexp"
	"strings"
	"testing"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestClientRequestIDs(t *testing.T) {
	a := newAPI(t, nil)
	for _, tc := range []struct {
		name, id string
		kept     bool
	}{
		{"plain", "req-42_a.b:c", true},
		{"at the limit", strings.Repeat("a", 64), true},
		{"too long", strings.Repeat("a", 65), false},
		{"white space", "two words", false},
		{"markup", "<script>alert(1)</script>", false},
		{"escaped line break", "a%0d%0aSet-Cookie:x", false},
		{"quotes", `a"b`, false},
		{"not ASCII", "r\u00e9q", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, hdr, _ := a.do(t, "acme", "GET", "/v1/apps", nil, "X-Request-Id", tc.id)
			got := hdr.Get("X-Request-Id")
			if tc.kept && got != tc.id {
				t.Errorf("X-Request-Id %q answered as %q, want it kept", tc.id, got)
			}
			if !tc.kept && (got == tc.id || !generatedID.MatchString(got)) {
				t.Errorf("X-Request-Id %q answered as %q, want a new id", tc.id, got)
			}
			if lines := a.logLines(got); !strings.Contains(lines, `"route":"/v1/apps"`) {
				t.Errorf("no access-log line under request id %q:\n%s", got, lines)
			}
		})
	}
}

func TestUnroutedRequests(t *testing.T) {
	a := newAPI(t, nil)
	for _, tc := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"DELETE", "/v1/validate", 405, "method_not_allowed", "POST"},
		// {platform} takes any segment, as the mux does.
		{"GET", "/v1/apps/x/test-push", 405, "method_not_allowed", "POST, PUT, DELETE"},
		{"PUT", "/v1/apps", 405, "method_not_allowed", "GET, POST"},
		{"POST", "/v1/apps/x", 405, "method_not_allowed", "GET, PATCH, DELETE"},
		{"GET", "/v1/apps/x/apns", 405, "method_not_allowed", "PUT, DELETE"},
		{"GET", "/v1/nothing", 404, "not_found", ""},
		{"POST", "/v2/apps", 404, "not_found", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			// No token: the route table is public, and 405 comes first.
			status, hdr, body := a.do(t, "", tc.method, tc.path, nil, "X-Request-Id", "probe-1")
			if status != tc.status || str(body, "error", "code") != tc.code {
				t.Fatalf("= %d %v, want %d %s", status, body, tc.status, tc.code)
			}
			if got := hdr.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			if got := hdr.Get("X-Request-Id"); got != "probe-1" {
				t.Errorf("X-Request-Id = %q, want the client's probe-1", got)
			}
			if str(body, "error", "message") == "" {
				t.Errorf("no message: %v", body)
			}
		})
	}
}
