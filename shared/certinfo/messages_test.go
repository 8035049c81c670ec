package certinfo

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

// fixHint matches a message that tells the reader what to do.
var fixHint = regexp.MustCompile(`(?i)\b(Upload|Export|Create|Download|Send|Check|Correct|Use|Find|Save|switch|convert|decrypt|make)\b`)

// TestEveryFailHasAFix: every failed check of these rejected inputs says
// what to do about it.
func TestEveryFailHasAFix(t *testing.T) {
	in := inspector(t)
	id := issue(t, apple(t), testcred.PushCert{BundleID: "com.acme.app"})
	chain, keyPEM, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key(t, 1).(*rsa.PrivateKey))})
	huge := make([]byte, MaxInputSize+1)
	reports := map[string]*Report{
		"p8 too large":          in.P8(huge, P8Request{KeyID: "ABC123DEFG", TeamID: "TEAM123456"}),
		"p8 cert and key":       in.P8(append(chain, keyPEM...), P8Request{KeyID: "ABC123DEFG", TeamID: "TEAM123456"}),
		"p8 cert only":          in.P8(chain, P8Request{KeyID: "ABC123DEFG", TeamID: "TEAM123456"}),
		"p8 RSA":                in.P8(rsaPEM, P8Request{KeyID: "ABC123DEFG", TeamID: "TEAM123456"}),
		"p8 bad ids":            in.P8(keyPEM, P8Request{KeyID: "x", TeamID: ""}),
		"json too large":        in.ServiceAccount(huge),
		"json not json":         in.ServiceAccount([]byte("{")),
		"p12 too large":         in.P12(huge, P12Request{Password: "x"}),
		"p12 wrong password":    in.P12(p12(t, id, pkcs12.Modern2023, "right", true), P12Request{Password: "wrong", BundleID: "com.acme.app"}),
		"p12 other bundle":      in.P12(p12(t, id, pkcs12.Modern2023, "pw", true), P12Request{Password: "pw", BundleID: "com.other.app"}),
		"p12 without MAC or pw": in.P12(p12(t, id, pkcs12.Passwordless, "", true), P12Request{Password: "pw", BundleID: "com.acme.app"}),
		"p12 not pkcs12":        in.P12([]byte("hello"), P12Request{Password: "pw"}),
		"p12 empty":             in.P12(nil, P12Request{Password: "pw"}),
		"p12 given JSON":        in.P12([]byte(`{"type":"service_account"}`), P12Request{Password: "pw"}),
		"p12 given PEM":         in.P12(append(chain, keyPEM...), P12Request{Password: "pw"}),
		"p12 given a .cer":      in.P12(id.Cert.Raw, P12Request{Password: "pw"}),
		"json user credential":  in.ServiceAccount([]byte(`{"type":"authorized_user"}`)),
		"json missing fields":   in.ServiceAccount([]byte(`{"type":"service_account"}`)),
	}
	for name, r := range reports {
		if r.OK {
			t.Errorf("%s: report is OK", name)
		}
		for _, c := range r.Checks {
			if !c.OK && !fixHint.MatchString(c.Message) {
				t.Errorf("%s: FAIL %s (%s) has no fix hint: %q", name, c.Name, c.Code, c.Message)
			}
		}
	}
	if m := failMessage(reports["p8 RSA"]); !strings.Contains(m, `an "RSA PRIVATE KEY" block`) {
		t.Errorf("RSA block message = %q, want an \"RSA PRIVATE KEY\"", m)
	}
	if m := failMessage(reports["p8 cert and key"]); !strings.Contains(m, "APNs certificate") || !strings.Contains(m, ".p12") {
		t.Errorf("certificate+key PEM as .p8 = %q, want it named an APNs certificate PEM with where to upload it", m)
	}
	if m := failMessage(reports["p12 without MAC or pw"]); strings.Contains(m, "opens only with an empty password") {
		t.Errorf("no-MAC message = %q", m)
	}
}

// TestP12EncryptedWithoutMAC: a password-encrypted .p12 without a MAC
// (openssl -nomac) is reported as what it is, not as needing an empty
// password.
func TestP12EncryptedWithoutMAC(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is required under CI=true")
		}
		t.Skip("openssl is not installed: cannot write a -nomac .p12")
	}
	id := issue(t, apple(t), testcred.PushCert{BundleID: "com.acme.app"})
	chain, keyPEM, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pemFile, out := filepath.Join(dir, "id.pem"), filepath.Join(dir, "nomac.p12")
	if err := os.WriteFile(pemFile, append(chain, keyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(openssl, "pkcs12", "-export", "-nomac", "-in", pemFile, "-out", out, "-passout", "pass:s3cret")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := inspector(t).P12(data, P12Request{Password: "s3cret", BundleID: "com.acme.app"})
	m := failMessage(r)
	if r.OK || r.Code != NotPKCS12 || !strings.Contains(m, "encrypted with a password") || !strings.Contains(m, "no integrity check (MAC)") || strings.Contains(m, "empty password") {
		t.Errorf("code %s, message %q", r.Code, m)
	}
}

// TestCertNameWithoutCN: a certificate with an empty common name is named
// by its whole subject.
func TestCertNameWithoutCN(t *testing.T) {
	uid := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	c := &x509.Certificate{Subject: pkix.Name{Names: []pkix.AttributeTypeAndValue{
		{Type: uid, Value: "com.acme.app"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "TEAM123456"},
	}}}
	if got, want := certName(c), `with subject "UID=com.acme.app, OU=TEAM123456"`; got != want {
		t.Errorf("certName = %s, want %s", got, want)
	}
	c.Subject.CommonName = "Apple Push Services: com.acme.app"
	if got := certName(c); got != `"Apple Push Services: com.acme.app"` {
		t.Errorf("certName with a CN = %s", got)
	}
	if got := certName(&x509.Certificate{}); got != "with an empty subject" {
		t.Errorf("certName of an empty subject = %s", got)
	}
}

func failMessage(r *Report) string {
	for _, c := range r.Checks {
		if !c.OK {
			return c.Message
		}
	}
	return ""
}
