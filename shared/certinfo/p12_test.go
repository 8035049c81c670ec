package certinfo

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

const pw = "correct horse"

func TestP12(t *testing.T) {
	ca := apple(t)
	universal := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app"})
	sandbox := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", Environment: testcred.SandboxOnly})
	production := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", Environment: testcred.ProductionOnly})
	expired := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", NotBefore: testNow.Add(-400 * day), NotAfter: testNow.Add(-2 * day)})
	future := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", NotBefore: testNow.Add(3 * day), NotAfter: testNow.Add(400 * day)})
	soon := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", NotAfter: testNow.Add(5*day + time.Hour)})
	noExt := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", Environment: testcred.NoPushExtensions})
	ecKey := ecKey(t, elliptic.P256())
	ec := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", Key: ecKey})
	other := issue(t, ca, testcred.PushCert{BundleID: "com.acme.other", Key: key(t, 1)})
	acme, err := testcred.NewRoot(pkix.Name{CommonName: "Acme Internal CA", Organization: []string{"Acme"}})
	if err != nil {
		t.Fatal(err)
	}
	foreign := issue(t, acme, testcred.PushCert{BundleID: "com.acme.app"})

	enc := func(e *pkcs12.Encoder, k crypto.Signer, leaf *x509.Certificate, cas []*x509.Certificate, password string) []byte {
		t.Helper()
		b, err := e.Encode(k, leaf, cas, password)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	raw := func(pw []byte, ks []crypto.Signer, cs []*x509.Certificate) []byte {
		t.Helper()
		b, err := testcred.RawP12(pw, ks, cs)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	certOnly := func() []byte {
		t.Helper()
		b, err := pkcs12.LegacyDES.EncodeTrustStore([]*x509.Certificate{universal.Cert}, pw)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := p12(t, universal, pkcs12.Modern2023, pw, true)

	tests := []struct {
		name     string
		data     []byte
		req      P12Request
		want     Code
		warnings []Code
		env      string // expected environment fact, if set
	}{
		{"keychain export (RC2-40 + 3DES)", p12(t, universal, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw, BundleID: "com.acme.app", Environment: push.Production}, OK, nil, "both"},
		{"legacy 3DES", p12(t, universal, pkcs12.LegacyDES, pw, true), P12Request{Password: pw, BundleID: "com.acme.app"}, OK, nil, "both"},
		{"OpenSSL 3 default (AES-256, SHA-256 MAC)", good, P12Request{Password: pw, BundleID: "com.acme.app"}, OK, nil, "both"},
		{"PBMAC1 (Modern2026)", p12(t, universal, pkcs12.Modern2026, pw, true), P12Request{Password: pw, BundleID: "com.acme.app"}, OK, nil, "both"},
		{"without the chain", p12(t, universal, pkcs12.Modern2023, pw, false), P12Request{Password: pw, BundleID: "com.acme.app"}, OK, []Code{ChainUnverified}, "both"},
		{"leaf stored after its CA", enc(pkcs12.Modern2023, universal.Key, ca.Cert, []*x509.Certificate{universal.Cert}, pw), P12Request{Password: pw, BundleID: "com.acme.app"}, OK, nil, "both"},
		{"key matches no certificate", enc(pkcs12.Modern2023, key(t, 2), universal.Cert, universal.Chain, pw), P12Request{Password: pw}, KeyMismatch, nil, ""},
		{"two identities", raw(testcred.EmptyPasswordOpenSSL, []crypto.Signer{universal.Key, other.Key}, []*x509.Certificate{universal.Cert, other.Cert}), P12Request{Password: ""}, MultipleIdentities, nil, ""},
		{"EC key", p12(t, ec, pkcs12.Modern2023, pw, true), P12Request{Password: pw}, UnsupportedKeyType, nil, ""},
		{"expired", p12(t, expired, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw}, Expired, nil, ""},
		{"not yet valid", p12(t, future, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw}, NotYetValid, nil, ""},
		{"expiring in 5 days", p12(t, soon, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw}, OK, []Code{ExpiringSoon}, ""},
		{"sandbox-only, no environment asked", p12(t, sandbox, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw, BundleID: "com.acme.app"}, OK, nil, "sandbox"},
		{"sandbox-only for production", p12(t, sandbox, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw, BundleID: "com.acme.app", Environment: push.Production}, EnvironmentMismatch, nil, "sandbox"},
		{"sandbox-only for sandbox", p12(t, sandbox, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw, Environment: push.Sandbox}, OK, nil, "sandbox"},
		{"production-only for sandbox", p12(t, production, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw, Environment: push.Sandbox}, EnvironmentMismatch, nil, "production"},
		{"production-only for production", p12(t, production, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw, Environment: push.Production}, OK, nil, "production"},
		{"voip topic as bundle id", good, P12Request{Password: pw, BundleID: "com.acme.app.voip"}, OK, nil, ""},
		{"complication topic as bundle id", good, P12Request{Password: pw, BundleID: "com.acme.app.complication"}, OK, nil, ""},
		{"bundle id mismatch", good, P12Request{Password: pw, BundleID: "com.acme.other"}, BundleIDMismatch, nil, ""},
		{"bundle id differs in case", good, P12Request{Password: pw, BundleID: "com.Acme.app"}, BundleIDMismatch, nil, ""},
		{"non-Apple issuer", p12(t, foreign, pkcs12.Modern2023, pw, true), P12Request{Password: pw}, NotApplePush, []Code{ChainUnverified}, "both"},
		{"Apple-looking name without push extensions", p12(t, noExt, pkcs12.Modern2023, pw, true), P12Request{Password: pw}, NotApplePush, nil, ""},
		{"empty password, OpenSSL encoding", raw(testcred.EmptyPasswordOpenSSL, []crypto.Signer{universal.Key}, append([]*x509.Certificate{universal.Cert}, universal.Chain...)), P12Request{Password: ""}, OK, nil, ""},
		{"empty password, macOS encoding", raw(testcred.EmptyPasswordMacOS, []crypto.Signer{universal.Key}, append([]*x509.Certificate{universal.Cert}, universal.Chain...)), P12Request{Password: ""}, OK, nil, ""},
		{"empty password via the encoder", p12(t, universal, pkcs12.LegacyRC2, "", true), P12Request{Password: ""}, OK, nil, ""},
		{"password outside the BMP", good, P12Request{Password: "p\U0001F511ss"}, UnsupportedPassword, nil, ""},
		{"wrong password", good, P12Request{Password: "Correct horse"}, WrongPassword, nil, ""},
		{"empty password on a protected file", good, P12Request{Password: ""}, WrongPassword, nil, ""},
		{"no MAC, password given", enc(pkcs12.Passwordless, universal.Key, universal.Cert, universal.Chain, ""), P12Request{Password: "not-empty"}, WrongPassword, nil, ""},
		{"no MAC, empty password", enc(pkcs12.Passwordless, universal.Key, universal.Cert, universal.Chain, ""), P12Request{Password: ""}, OK, nil, ""},
		{"certificate only (no key)", certOnly(), P12Request{Password: pw}, NoPrivateKey, nil, ""},
		{"key only (no certificate)", raw(testcred.EmptyPasswordOpenSSL, []crypto.Signer{universal.Key}, nil), P12Request{Password: ""}, NoCertificate, nil, ""},
		{".cer instead of .p12", universal.Cert.Raw, P12Request{Password: pw}, NotPKCS12, nil, ""},
		{"PEM instead of .p12", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: universal.Cert.Raw}), P12Request{Password: pw}, NotPKCS12, nil, ""},
		{"truncated", good[:len(good)/2], P12Request{Password: pw}, NotPKCS12, nil, ""},
		{"one byte short", good[:len(good)-1], P12Request{Password: pw}, NotPKCS12, nil, ""},
		{"empty file", nil, P12Request{Password: pw}, NotPKCS12, nil, ""},
		{"BER indefinite length", append([]byte{0x30, 0x80}, good[2:]...), P12Request{Password: pw}, NotPKCS12, nil, ""},
		{"too large", make([]byte, MaxInputSize+1), P12Request{Password: pw}, TooLarge, nil, ""},
		{"excessive iterations", withMACIterations(t, raw(testcred.EmptyPasswordOpenSSL, []crypto.Signer{universal.Key}, []*x509.Certificate{universal.Cert}), 50_000_000), P12Request{Password: ""}, NotPKCS12, nil, ""},
	}
	in := inspector(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := in.P12(tt.data, tt.req)
			if r.Code != tt.want {
				t.Fatalf("code = %q, want %q; checks: %+v", r.Code, tt.want, r.Checks)
			}
			if got := warningCodes(r); !slices.Equal(got, tt.warnings) {
				t.Errorf("warnings = %v, want %v (%+v)", got, tt.warnings, r.Warnings)
			}
			if tt.env != "" && r.Environment != tt.env {
				t.Errorf("environment = %q, want %q", r.Environment, tt.env)
			}
			if r.Kind != push.APNsP12 || r.RequestedBundleID != tt.req.BundleID || r.RequestedEnvironment != string(tt.req.Environment) {
				t.Errorf("kind/requested = %q %q %q", r.Kind, r.RequestedBundleID, r.RequestedEnvironment)
			}
			checkReportInvariants(t, r, tt.req.Password)
			if err := r.Err(); (err == nil) != r.OK {
				t.Errorf("Err() = %v for code %q", err, r.Code)
			} else if err != nil && push.CodeOf(err) != string(r.Code) {
				t.Errorf("CodeOf(Err()) = %q, want %q", push.CodeOf(err), r.Code)
			}
		})
	}
}

// withMACIterations rewrites the MAC iteration count of a PKCS#12 file
// (leaving the MAC itself stale: the count is refused before any MAC).
func withMACIterations(t *testing.T, data []byte, n int) []byte {
	t.Helper()
	var p struct {
		Version  int
		AuthSafe asn1.RawValue
		MacData  struct {
			Mac        asn1.RawValue
			MacSalt    []byte
			Iterations int
		}
	}
	if _, err := asn1.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	p.MacData.Iterations = n
	b, err := asn1.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestP12Facts(t *testing.T) {
	ca := apple(t)
	id := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app", TeamID: "TEAM123456", Organization: "Acme Inc"})
	r := inspector(t).P12(p12(t, id, pkcs12.LegacyRC2, pw, true), P12Request{Password: pw, BundleID: "com.acme.app.voip", Environment: push.Sandbox})
	if !r.OK {
		t.Fatalf("code %q: %+v", r.Code, r.Checks)
	}
	sum := sha256.Sum256(id.Cert.Raw)
	wantDays := int(id.Cert.NotAfter.Sub(testNow) / day)
	tests := []struct {
		name      string
		got, want any
	}{
		{"bundle_id is the certificate's", r.BundleID, "com.acme.app"},
		{"requested_bundle_id", r.RequestedBundleID, "com.acme.app.voip"},
		{"requested_environment", r.RequestedEnvironment, "sandbox"},
		{"team_id", r.TeamID, "TEAM123456"},
		{"topics", strings.Join(r.Topics, ","), "com.acme.app,com.acme.app.voip,com.acme.app.complication"},
		{"environment", r.Environment, "both"},
		{"subject", r.Subject, "C=US, O=Acme Inc, OU=TEAM123456, CN=Apple Push Services: com.acme.app, UID=com.acme.app"},
		{"issuer CN", strings.Contains(r.Issuer, "CN=Apple Worldwide Developer Relations Certification Authority"), true},
		{"fingerprint", r.FingerprintSHA256, hex.EncodeToString(sum[:])},
		{"not_after", r.NotAfter.Equal(id.Cert.NotAfter), true},
		{"not_before", r.NotBefore.Equal(id.Cert.NotBefore), true},
		{"days_left", *r.DaysLeft, wantDays},
		{"key_type", r.KeyType, "RSA 2048"},
		{"certificates_in_file", r.CertificatesInFile, 2},
	}
	for _, tt := range tests {
		if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestP12Normalized(t *testing.T) {
	ca := apple(t)
	id := issue(t, ca, testcred.PushCert{})
	// The leaf stored after its CA: the normalized chain still starts with the leaf.
	data, err := pkcs12.LegacyRC2.Encode(id.Key, ca.Cert, []*x509.Certificate{id.Cert}, pw)
	if err != nil {
		t.Fatal(err)
	}
	r := inspector(t).P12(data, P12Request{Password: pw})
	if !r.OK {
		t.Fatalf("code %q", r.Code)
	}
	material := r.Normalized().Reveal()
	if bytes.Contains(material, []byte(pw)) {
		t.Error("normalized material contains the password")
	}
	var blocks []*pem.Block
	for rest := material; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	var types []string
	for _, b := range blocks {
		types = append(types, b.Type)
	}
	if got, want := strings.Join(types, ","), "CERTIFICATE,CERTIFICATE,PRIVATE KEY"; got != want {
		t.Fatalf("blocks = %s, want %s", got, want)
	}
	if !bytes.Equal(blocks[0].Bytes, id.Cert.Raw) {
		t.Error("first certificate is not the leaf")
	}
	k, err := x509.ParsePKCS8PrivateKey(blocks[2].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.(crypto.Signer).Public()) {
		t.Error("normalized key is not the identity's key")
	}
	for _, s := range []string{fmt.Sprintf("%v", r), fmt.Sprintf("%+v", *r), fmt.Sprintf("%#v", r)} {
		if strings.Contains(s, "MII") || strings.Contains(s, "-----BEGIN") {
			t.Errorf("formatting the report leaks key material: %.200s", s)
		}
	}
}

func TestP12Messages(t *testing.T) {
	ca := apple(t)
	id := issue(t, ca, testcred.PushCert{BundleID: "com.acme.app"})
	in := inspector(t)
	tests := []struct {
		name string
		data []byte
		want string // a phrase the message must contain
	}{
		{".cer explains the missing key", id.Cert.Raw, "without its private key"},
		{"p8 pasted as p12", mustP8(t), "auth key"},
		{"json pasted as p12", []byte(`{"type":"service_account"}`), "FCM field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := in.P12(tt.data, P12Request{Password: pw})
			if len(r.Checks) == 0 || !strings.Contains(r.Checks[len(r.Checks)-1].Message, tt.want) {
				t.Errorf("message %+v does not contain %q", r.Checks, tt.want)
			}
		})
	}
}

func mustP8(t *testing.T) []byte {
	t.Helper()
	return p8Of(t, ecKey(t, nil))
}

func TestReportErrKinds(t *testing.T) {
	tests := []struct {
		code Code
		want push.Kind
	}{
		{TooLarge, push.TooLarge},
		{WrongPassword, push.Unprocessable},
		{MalformedJSON, push.Unprocessable},
	}
	for _, tt := range tests {
		r := newReport(push.APNsP12)
		r.fail("x", tt.code, "m")
		err := r.Err()
		var pe *push.Error
		if !errors.As(err, &pe) || pe.Kind != tt.want || pe.Code != string(tt.code) {
			t.Errorf("Err() for %q = %#v, want kind %v", tt.code, err, tt.want)
		}
	}
}

func TestScanLayout(t *testing.T) {
	ca := apple(t)
	id := issue(t, ca, testcred.PushCert{})
	raw2, err := testcred.RawP12(testcred.EmptyPasswordOpenSSL, []crypto.Signer{id.Key, key(t, 1)}, []*x509.Certificate{id.Cert})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want pfxLayout
	}{
		{"legacy RC2", p12(t, id, pkcs12.LegacyRC2, pw, true), pfxLayout{keyBags: 1, encrypted: 1, shrouded: 1, maxIterations: 2048, hasMAC: true}},
		{"modern PBES2", p12(t, id, pkcs12.Modern2023, pw, true), pfxLayout{keyBags: 1, encrypted: 1, shrouded: 1, maxIterations: 2048, hasMAC: true}},
		{"modern 5000 iterations", p12(t, id, pkcs12.Modern2023.WithIterations(5000), pw, false), pfxLayout{keyBags: 1, encrypted: 1, shrouded: 1, maxIterations: 5000, hasMAC: true}},
		{"PBMAC1", p12(t, id, pkcs12.Modern2026.WithIterations(4096), pw, false), pfxLayout{keyBags: 1, encrypted: 1, shrouded: 1, maxIterations: 4096, hasMAC: true}},
		{"no MAC, plain bags", p12(t, id, pkcs12.Passwordless, "", true), pfxLayout{keyBags: 1, certBags: 2}},
		{"two plain keys", raw2, pfxLayout{keyBags: 2, certBags: 1, maxIterations: 2048, hasMAC: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := scanLayout(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("layout = %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, bad := range [][]byte{nil, {0x30}, {0x30, 0x00}, id.Cert.Raw, []byte("-----BEGIN")} {
		if _, err := scanLayout(bad); err == nil {
			t.Errorf("scanLayout(%x) accepted a non-PKCS#12 input", bad)
		}
	}
}
