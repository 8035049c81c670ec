package certinfo

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

func keyPEM(t *testing.T, k crypto.Signer) push.Redacted {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return push.NewRedacted(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestCer(t *testing.T) {
	ca := apple(t)
	id := issue(t, ca, testcred.PushCert{})
	sandbox := issue(t, ca, testcred.PushCert{Environment: testcred.SandboxOnly})
	expired := issue(t, ca, testcred.PushCert{NotBefore: testNow.Add(-400 * day), NotAfter: testNow.Add(-day)})
	asked := testNow.Add(-3 * day)
	der := id.Cert.Raw
	withChain := append(testcred.CertificatePEM(der), testcred.CertificatePEM(ca.Cert.Raw)...)
	csr := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}})

	tests := []struct {
		name     string
		data     []byte
		key      crypto.Signer
		bundle   string
		env      push.Environment
		want     Code
		wantMsg  string
		wantWarn []Code
	}{
		{"DER as Apple serves it", der, key(t, 0), "com.example.app", push.Production, OK, "", []Code{ChainUnverified}},
		{"PEM", testcred.CertificatePEM(der), key(t, 0), "com.example.app", "", OK, "", []Code{ChainUnverified}},
		{"PEM with the chain, intermediate first", append(testcred.CertificatePEM(ca.Cert.Raw), testcred.CertificatePEM(der)...), key(t, 0), "", "", OK, "", nil},
		{"PEM with the chain", withChain, key(t, 0), "com.example.app.voip", "", OK, "", nil},
		{"another request's certificate", der, key(t, 1), "com.example.app", "", KeyMismatch, asked.Format("2006-01-02"), nil},
		{"bundle id", der, key(t, 0), "com.other.app", "", BundleIDMismatch, "com.other.app", nil},
		{"sandbox only for a production app", sandbox.Cert.Raw, key(t, 0), "", push.Production, EnvironmentMismatch, "sandbox", nil},
		{"expired", expired.Cert.Raw, key(t, 0), "", "", Expired, "expired", nil},
		{"empty", nil, key(t, 0), "", "", NoCertificate, "empty", nil},
		{"the signing request instead", csr, key(t, 0), "", "", NoCertificate, "signing request", nil},
		{"a .p12 instead", p12(t, id, pkcs12.Modern2023, "pw", false), key(t, 0), "", "", NoCertificate, ".p12", nil},
		{"too large", make([]byte, MaxInputSize+1), key(t, 0), "", "", TooLarge, "limit", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := inspector(t).Cer(tt.data, CerRequest{Key: keyPEM(t, tt.key), RequestedAt: asked, BundleID: tt.bundle, Environment: tt.env})
			checkReportInvariants(t, r)
			if r.Code != tt.want || r.Kind != push.APNsP12 {
				t.Fatalf("kind %s code = %s, want apns_p12 %s (checks %+v)", r.Kind, r.Code, tt.want, r.Checks)
			}
			if tt.wantMsg != "" {
				if err := r.Err(); err == nil || !strings.Contains(err.(*push.Error).Msg, tt.wantMsg) {
					t.Errorf("message %v does not mention %q", err, tt.wantMsg)
				}
			}
			if tt.want == OK {
				if r.BundleID != "com.example.app" || r.Environment != "both" || r.FingerprintSHA256 == "" {
					t.Errorf("facts = %+v", r.Facts)
				}
				if got, want := strings.Join(codes(warningCodes(r)), ","), strings.Join(codes(tt.wantWarn), ","); got != want {
					t.Errorf("warnings = %s, want %s", got, want)
				}
				n := string(r.Normalized().Reveal())
				if !strings.HasPrefix(n, string(testcred.CertificatePEM(der))) || !strings.Contains(n, "PRIVATE KEY") {
					t.Errorf("normalized material does not start with the leaf and end with the key")
				}
			}
		})
	}

	// An unreadable pending key is reported, never quoted.
	r := inspector(t).Cer(der, CerRequest{Key: push.NewRedacted([]byte("garbage-SECRET"))})
	checkReportInvariants(t, r, "garbage-SECRET")
	if r.Code != UnparsablePrivateKey {
		t.Fatalf("code = %s, want %s", r.Code, UnparsablePrivateKey)
	}
}

func codes(cs []Code) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func TestPEMBundle(t *testing.T) {
	ca := apple(t)
	id := issue(t, ca, testcred.PushCert{})
	other := issue(t, ca, testcred.PushCert{Key: key(t, 1)})
	bundle := func(b testcred.PEMBundle) []byte {
		t.Helper()
		out, err := id.Bundle(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	nodes := bundle(testcred.PEMBundle{BagAttributes: true})
	keyOnly := nodes[strings.Index(string(nodes), "Bag Attributes\n    friendlyName: Apple Push Services: com.example.app\n    localKeyID")+0:]
	keyOnly = keyOnly[strings.LastIndex(string(keyOnly), "-----BEGIN PRIVATE KEY"):]
	certOnly := testcred.CertificatePEM(id.Cert.Raw)
	mismatched := append(testcred.CertificatePEM(other.Cert.Raw), keyOnly...)

	tests := []struct {
		name     string
		data     []byte
		password string
		want     Code
	}{
		{"openssl pkcs12 -nodes with bag attributes", nodes, "", OK},
		{"key first, no chain", bundle(testcred.PEMBundle{KeyFirst: true, NoChain: true}), "", OK},
		{"PKCS#1 key", bundle(testcred.PEMBundle{PKCS1: true}), "", OK},
		{"encrypted key with its password", bundle(testcred.PEMBundle{Password: "s3cret"}), "s3cret", OK},
		{"encrypted key without password", bundle(testcred.PEMBundle{Password: "s3cret"}), "", WrongPassword},
		{"encrypted key, wrong password", bundle(testcred.PEMBundle{Password: "s3cret"}), "S3cret", WrongPassword},
		{"certificate only", certOnly, "", NoPrivateKey},
		{"key only", keyOnly, "", NoCertificate},
		{"two keys", append(bytesClone(nodes), keyOnly...), "", MultipleIdentities},
		{"key of another certificate", mismatched, "", KeyMismatch},
		{"not PEM", []byte("hello"), "", NotPEM},
		{"too large", make([]byte, MaxInputSize+1), "", TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := inspector(t).PEMBundle(tt.data, P12Request{Password: tt.password, BundleID: "com.example.app", Environment: push.Production})
			checkReportInvariants(t, r, tt.password)
			if r.Code != tt.want {
				t.Fatalf("code = %s, want %s (checks %+v)", r.Code, tt.want, r.Checks)
			}
			if tt.want == OK && (r.BundleID != "com.example.app" || r.KeyType != "RSA 2048") {
				t.Errorf("facts = %+v", r.Facts)
			}
		})
	}
}

func bytesClone(b []byte) []byte { return append([]byte(nil), b...) }

// TestPEMBundleOpenSSL reads what the openssl command itself writes from
// a .p12, encrypted (PBES2 as OpenSSL 3 chooses it) and with -nodes.
func TestPEMBundleOpenSSL(t *testing.T) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed: the PEM bundle test against its output is skipped")
	}
	id := issue(t, apple(t), testcred.PushCert{})
	dir := t.TempDir()
	p := filepath.Join(dir, "push.p12")
	if err := writeFile(p, p12(t, id, pkcs12.Modern2023, "pw", true)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		pw   string
	}{
		{"-nodes", []string{"-nodes"}, ""},
		{"encrypted key", []string{"-passout", "pass:outpw"}, "outpw"},
		{"encrypted key, aes-128", []string{"-aes128", "-passout", "pass:outpw"}, "outpw"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"pkcs12", "-in", p, "-passin", "pass:pw"}, tt.args...)
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("openssl %v: %v", args, err)
			}
			r := inspector(t).PEMBundle(out, P12Request{Password: tt.pw, BundleID: "com.example.app"})
			checkReportInvariants(t, r, tt.pw)
			if !r.OK {
				t.Fatalf("code = %s (checks %+v)", r.Code, r.Checks)
			}
		})
	}
}

func writeFile(p string, b []byte) error { return os.WriteFile(p, b, 0o600) }
