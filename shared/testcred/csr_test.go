package testcred

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os/exec"
	"testing"
)

// TestSignRequest: the stand-in Apple portal issues for the request's
// key, with Apple's subject and extensions whatever the request asked.
func TestSignRequest(t *testing.T) {
	ca, err := AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	key, err := RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "anything the admin typed"}, SignatureAlgorithm: x509.SHA256WithRSA,
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	cer, err := ca.SignRequest(csr, PushCert{BundleID: "com.acme.app", TeamID: "TEAM123456"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(cer)
	if err != nil {
		t.Fatalf("aps.cer is not one DER certificate: %v", err)
	}
	if !key.PublicKey.Equal(c.PublicKey) {
		t.Fatal("the certificate is not for the request's key")
	}
	if c.Subject.CommonName != "Apple Push Services: com.acme.app" || c.Subject.OrganizationalUnit[0] != "TEAM123456" {
		t.Errorf("subject = %v", c.Subject)
	}
	uid := ""
	for _, n := range c.Subject.Names {
		if n.Type.Equal(OIDUID) {
			uid, _ = n.Value.(string)
		}
	}
	if uid != "com.acme.app" {
		t.Errorf("UID = %q", uid)
	}
	has := map[string]bool{}
	for _, e := range c.Extensions {
		has[e.Id.String()] = true
	}
	for _, oid := range []string{OIDSandbox.String(), OIDProduction.String(), OIDTopics.String()} {
		if !has[oid] {
			t.Errorf("extension %s missing", oid)
		}
	}
	if err := c.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("not signed by the authority: %v", err)
	}
	if again, err := ca.SignRequest(der, PushCert{}); err != nil || len(again) == 0 {
		t.Errorf("a DER request: %v", err)
	}

	// A tampered request is refused.
	bad := bytes.Clone(der)
	bad[len(bad)-1] ^= 1
	if _, err := ca.SignRequest(bad, PushCert{}); err == nil {
		t.Error("a request with a bad signature was signed")
	}
	if _, err := ca.SignRequest(CertificatePEM(cer), PushCert{}); err == nil {
		t.Error("a certificate was accepted as a request")
	}
}

// TestEncryptPKCS8OpenSSL checks the encrypted key against openssl.
func TestEncryptPKCS8OpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: the check of the encrypted key against it is skipped")
	}
	ca, err := AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(PushCert{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := id.Bundle(PEMBundle{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "pkey", "-passin", "pass:pw")
	cmd.Stdin = bytes.NewReader(b[bytes.Index(b, []byte("-----BEGIN ENCRYPTED")):])
	out, err := cmd.Output()
	if err != nil || !bytes.Contains(out, []byte("BEGIN PRIVATE KEY")) {
		t.Fatalf("openssl pkey could not decrypt the key: %v", err)
	}
}
