package registry

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

func TestSubjectDefaultsAndLimits(t *testing.T) {
	app := credential.App{ID: "a", Name: strings.Repeat("é", 70)}
	tests := []struct {
		name      string
		subject   string
		in        SigningRequestInput
		wantCN    string
		wantEmail string
		wantErr   bool
	}{
		{"defaults: the app's name, cut to 64 characters", "token:ci", SigningRequestInput{}, strings.Repeat("é", 64), "", false},
		{"the caller's address", "ops@acme.example", SigningRequestInput{}, strings.Repeat("é", 64), "ops@acme.example", false},
		{"a display name is not an address to copy", "Ops <ops@acme.example>", SigningRequestInput{}, strings.Repeat("é", 64), "", false},
		{"given", "x", SigningRequestInput{CommonName: " Acme ", Email: "a@b.example"}, "Acme", "a@b.example", false},
		{"common name too long", "", SigningRequestInput{CommonName: strings.Repeat("a", 65)}, "", "", true},
		{"control character", "", SigningRequestInput{CommonName: "a\nb"}, "", "", true},
		{"not an address", "", SigningRequestInput{CommonName: "a", Email: "nope"}, "", "", true},
		{"a display name given as the address", "", SigningRequestInput{CommonName: "a", Email: "Ops <ops@acme.example>"}, "", "", true},
		{"non-ASCII address", "", SigningRequestInput{CommonName: "a", Email: "ops@ácme.example"}, "", "", true},
	}
	for _, tt := range tests {
		cn, email, err := subject("op", app, Principal{Subject: tt.subject}, tt.in)
		if (err != nil) != tt.wantErr || (err == nil && (cn != tt.wantCN || email != tt.wantEmail)) {
			t.Errorf("%s: got %q %q %v, want %q %q error=%v", tt.name, cn, email, err, tt.wantCN, tt.wantEmail, tt.wantErr)
		}
		if err != nil && push.KindOf(err) != push.Invalid {
			t.Errorf("%s: kind %v, want Invalid", tt.name, push.KindOf(err))
		}
	}
}

// TestSigningRequestKeyIsThePendingKey: the request is RSA 2048 with
// SHA-256, its subject carries the address as Keychain writes it, and
// the key kept pending is the request's.
func TestSigningRequestKeyIsThePendingKey(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Service{Store: credential.NewService(credential.Config{Meta: st, Secrets: st})}
	ctx := context.Background()
	app, err := s.Store.Create(ctx, credential.CreateRequest{Tenant: "t", Name: "Shop", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	who := Principal{Tenant: "t", Subject: "ops@acme.example"}
	p, err := s.CreateSigningRequest(ctx, who, app.ID, SigningRequestInput{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(p.CSRPEM))
	req, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil || req.CheckSignature() != nil || req.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Fatalf("request: %v", err)
	}
	var email string
	for _, n := range req.Subject.Names {
		if n.Type.Equal(oidEmailAddress) {
			email, _ = n.Value.(string)
		}
	}
	if req.Subject.CommonName != "Shop" || email != "ops@acme.example" || !strings.Contains(string(req.RawSubject), "\x16\x10ops@acme.example") {
		t.Errorf("subject = %v (email %q, IA5String expected)", req.Subject, email)
	}
	_, keyPEM, err := s.Store.PendingPrivateKey(ctx, "t", app.ID)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM.Reveal())
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rk := key.(*rsa.PrivateKey)
	if rk.N.BitLen() != 2048 || !rk.PublicKey.Equal(req.PublicKey) {
		t.Fatalf("the pending key (%d bits) is not the request's", rk.N.BitLen())
	}
	if strings.Contains(p.CSRPEM, "PRIVATE") {
		t.Fatal("the request holds the key")
	}
	if _, err := s.CreateSigningRequest(ctx, Principal{Tenant: "other"}, app.ID, SigningRequestInput{}); push.KindOf(err) != push.NotFound {
		t.Fatalf("another tenant's app: %v", err)
	}
}
