package boltstore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"mobilepush/shared/boltstore"
)

func TestRememberMessage(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "d.db"), boltstore.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	remember := func(tenant, id, digest string, keep time.Duration) (string, bool) {
		t.Helper()
		got, first, err := st.RememberMessage(ctx, tenant, id, digest, now.Add(keep))
		if err != nil {
			t.Fatal(err)
		}
		return got, first
	}
	steps := []struct {
		name, tenant, id, digest string
		keep                     time.Duration
		advance                  time.Duration
		want                     string
		first                    bool
	}{
		{"first use", "acme", "m1", "d1", time.Hour, 0, "d1", true},
		{"same content again", "acme", "m1", "d1", time.Hour, 0, "d1", false},
		{"other content", "acme", "m1", "d2", time.Hour, 0, "d1", false},
		{"another tenant's id is its own", "globex", "m1", "d2", time.Hour, 0, "d2", true},
		{"another id", "acme", "m2", "d2", 3 * time.Hour, 0, "d2", true},
		{"after the record expired the id is new", "acme", "m1", "d3", time.Hour, 2 * time.Hour, "d3", true},
		{"a live record outlives the sweep", "acme", "m2", "d9", time.Hour, 0, "d2", false},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		if got, first := remember(s.tenant, s.id, s.digest, s.keep); got != s.want || first != s.first {
			t.Errorf("%s: RememberMessage = %q, %v; want %q, %v", s.name, got, first, s.want, s.first)
		}
	}
}
