package boltstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// TestCopyTo: a copy taken while the store is open holds its apps and its
// sealed secrets (opened with the original key), and changes to the copy
// leave the original alone.
func TestCopyTo(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	orig := open(t, filepath.Join(dir, "data.db"))
	creds := credential.NewService(credential.Config{Meta: orig, Secrets: orig})
	_, err := creds.Create(ctx, credential.CreateRequest{Tenant: "acme", ID: "shop", Name: "Shop", Enabled: true, APNs: &credential.Upload{
		Material: credential.Material{Kind: push.APNsP8, PrivateKeyPEM: push.NewRedacted([]byte("key")), KeyID: "ABC1234567", TeamID: "TEAM123456"},
		Facts:    credential.Facts{FingerprintSHA256: "f", BundleID: "com.example.shop"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := orig.CopyTo(copyPath); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(copyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v, %v", fi, err)
	}
	cp, err := boltstore.Open(copyPath, boltstore.Options{KeyFile: filepath.Join(dir, "data.db.key")})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	copied := credential.NewService(credential.Config{Meta: cp, Secrets: cp})
	m, err := copied.Material(ctx, "acme", "shop", push.APNs)
	if err != nil || string(m.PrivateKeyPEM.Reveal()) != "key" {
		t.Fatalf("material of the copy: %v", err)
	}
	if err := copied.Delete(ctx, "acme", "shop", 0, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.Get(ctx, "acme", "shop"); err != nil {
		t.Errorf("deleting in the copy touched the original: %v", err)
	}
}
