package apitoken

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mobilepush/shared/push"
)

func TestIssueAndAuthenticate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Issue("acme")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), tok) || strings.Contains(string(raw), strings.TrimPrefix(tok, prefix)) {
		t.Error("the token file holds the token itself, not only its hash")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode = %v, want 0600", fi.Mode().Perm())
	}
	reopened, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		header     string
		wantTenant string
	}{
		{"issued token", "Bearer " + tok, "acme"},
		{"scheme case-insensitive", "bearer " + tok, "acme"},
		{"no header", "", ""},
		{"basic auth", "Basic " + tok, ""},
		{"unknown token", "Bearer " + prefix + "AAAA", ""},
		{"token without scheme", tok, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/apps", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			who, err := reopened.Authenticate(r)
			if tt.wantTenant == "" {
				if !push.Is(err, push.Unauthorized) {
					t.Fatalf("err = %v, want Unauthorized", err)
				}
				if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(tok, prefix)) {
					t.Error("the error quotes the token")
				}
				return
			}
			if err != nil || who.Tenant != tt.wantTenant || who.Subject == "" {
				t.Fatalf("got %+v, %v; want tenant %s", who, err, tt.wantTenant)
			}
		})
	}
}

func TestIssueRejectsBadTenant(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "a b", "../x", strings.Repeat("a", 65)} {
		if _, err := s.Issue(bad); !push.Is(err, push.Invalid) {
			t.Errorf("Issue(%q) err = %v, want Invalid", bad, err)
		}
	}
}
