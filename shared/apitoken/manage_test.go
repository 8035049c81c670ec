package apitoken

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/push"
)

func authenticate(t *testing.T, s *Store, tok string) (string, error) {
	t.Helper()
	r := httptest.NewRequest("GET", "/v1/apps", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	who, err := s.Authenticate(r)
	return who.Subject, err
}

func TestCreateNamedListRevoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ci, ciInfo, err := s.Create(IssueRequest{Tenant: "acme", Name: "ci-deploy", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if ciInfo.Name != "ci-deploy" || ciInfo.Tenant != "acme" || ciInfo.ExpiresAt.Sub(ciInfo.CreatedAt) != time.Hour {
		t.Errorf("info = %+v", ciInfo)
	}
	gen, genInfo, err := s.Create(IssueRequest{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(genInfo.Name, "acme-") || !genInfo.ExpiresAt.IsZero() {
		t.Errorf("generated info = %+v, want a name acme-… and no expiry", genInfo)
	}
	if _, _, err := s.Create(IssueRequest{Tenant: "other", Name: "ci-deploy"}); !push.Is(err, push.Conflict) {
		t.Errorf("second ci-deploy: err = %v, want Conflict", err)
	}
	for _, bad := range []string{"a b", "0123456789ab", "-x", strings.Repeat("n", 65)} {
		if _, _, err := s.Create(IssueRequest{Tenant: "acme", Name: bad}); !push.Is(err, push.Invalid) {
			t.Errorf("name %q: err = %v, want Invalid", bad, err)
		}
	}
	if sub, err := authenticate(t, s, ci); err != nil || sub != "token:ci-deploy" {
		t.Errorf("subject = %q, %v; want token:ci-deploy (the audit actor)", sub, err)
	}

	re, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	list := re.List()
	if len(list) != 2 || list[0].Name != "ci-deploy" || list[1].Name != genInfo.Name {
		t.Fatalf("list = %+v", list)
	}
	raw, _ := os.ReadFile(path)
	for _, tok := range []string{ci, gen} {
		if strings.Contains(string(raw), strings.TrimPrefix(tok, prefix)) {
			t.Error("the token file holds a secret")
		}
	}

	// Revoke by name and by ID: refused at once.
	if _, err := re.Revoke("ci-deploy"); err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(t, re, ci); !push.Is(err, push.Unauthorized) {
		t.Errorf("revoked token: err = %v, want Unauthorized", err)
	}
	if _, err := re.Revoke(genInfo.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(t, re, gen); !push.Is(err, push.Unauthorized) {
		t.Errorf("revoked by ID: err = %v, want Unauthorized", err)
	}
	if _, err := re.Revoke("ci-deploy"); !push.Is(err, push.NotFound) {
		t.Errorf("revoke twice: err = %v, want NotFound", err)
	}
	if again, _ := Open(path); len(again.List()) != 0 {
		t.Errorf("revocations not saved: %+v", again.List())
	}
	// A name is free again once revoked.
	if _, _, err := re.Create(IssueRequest{Tenant: "acme", Name: "ci-deploy"}); err != nil {
		t.Errorf("reuse a revoked name: %v", err)
	}
}

func TestExpiredTokenIsUnauthorized(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "tokens.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	tok, _, err := s.Create(IssueRequest{Tenant: "acme", Name: "short", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authenticate(t, s, tok); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	now = now.Add(time.Minute)
	_, err = authenticate(t, s, tok)
	if !push.Is(err, push.Unauthorized) || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired token: err = %v, want Unauthorized saying it expired", err)
	}
	if !s.List()[0].Expired(now) {
		t.Error("List does not say the token expired")
	}
}

func TestOpenNamesOldTokensByID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	old := `{"tokens":[{"sha256":"` + strings.Repeat("ab", 32) + `","tenant":"acme","created_at":"2026-01-01T00:00:00Z"}]}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if l := s.List(); len(l) != 1 || l[0].Name != "abababababab" || l[0].ID != "abababababab" {
		t.Errorf("list = %+v", l)
	}
}
