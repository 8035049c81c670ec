package testcred

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// TestRawP12DecodesWithBothEmptyPasswords proves the hand-built PKCS#12
// writer (MAC and KDF) against go-pkcs12's decoder.
func TestRawP12DecodesWithBothEmptyPasswords(t *testing.T) {
	ca, err := AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(PushCert{})
	if err != nil {
		t.Fatal(err)
	}
	for name, pw := range map[string][]byte{"openssl": EmptyPasswordOpenSSL, "macos": EmptyPasswordMacOS} {
		t.Run(name, func(t *testing.T) {
			b, err := RawP12(pw, []crypto.Signer{id.Key}, []*x509.Certificate{id.Cert})
			if err != nil {
				t.Fatal(err)
			}
			_, leaf, _, err := pkcs12.DecodeChain(b, "")
			if err != nil {
				t.Fatalf("DecodeChain: %v", err)
			}
			if !leaf.Equal(id.Cert) {
				t.Error("leaf differs")
			}
			if _, _, _, err := pkcs12.DecodeChain(b, "x"); err == nil {
				t.Error("a wrong password decoded")
			}
		})
	}
}

func TestIssuePushChainsToRoot(t *testing.T) {
	ca, err := AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	inter := x509.NewCertPool()
	for _, c := range id.Chain {
		inter.AddCert(c)
	}
	if _, err := id.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if got, want := id.Cert.Subject.CommonName, "Apple Push Services: com.acme.app"; got != want {
		t.Errorf("CN = %q, want %q", got, want)
	}
}

// TestNewP8 checks that NewP8 is what Apple's portal serves: one PKCS#8
// "PRIVATE KEY" block of a P-256 key, a new one each call.
func TestNewP8(t *testing.T) {
	var files [2][]byte
	for i := range files {
		b, err := NewP8()
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
	}
	if bytes.Equal(files[0], files[1]) {
		t.Error("two calls returned the same key")
	}
	block, rest := pem.Decode(files[0])
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("not one PRIVATE KEY block: %q", files[0])
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if ec, ok := k.(*ecdsa.PrivateKey); !ok || ec.Curve != elliptic.P256() {
		t.Errorf("key %T, want a P-256 *ecdsa.PrivateKey", k)
	}
}
