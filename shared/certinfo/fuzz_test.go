package certinfo

import (
	"crypto/elliptic"
	"crypto/rsa"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// fuzzInvariants must hold for any input: no panic (the fuzzer checks),
// a consistent code, and material only for usable credentials.
func fuzzInvariants(t *testing.T, r *Report) {
	t.Helper()
	if r.OK != (r.Code == OK) {
		t.Fatalf("ok=%v code=%q", r.OK, r.Code)
	}
	if r.OK == r.Normalized().IsZero() {
		t.Fatalf("ok=%v but normalized material zero=%v", r.OK, r.Normalized().IsZero())
	}
	for _, c := range r.Checks {
		if c.Message == "" {
			t.Fatalf("check %q has no message", c.Name)
		}
	}
}

func FuzzP12(f *testing.F) {
	ca, err := testcred.AppleWWDR()
	if err != nil {
		f.Fatal(err)
	}
	id := issue(f, ca, testcred.PushCert{BundleID: "com.acme.app"})
	for _, enc := range []*pkcs12.Encoder{pkcs12.LegacyRC2, pkcs12.LegacyDES, pkcs12.Modern2023, pkcs12.Modern2026} {
		enc = enc.WithIterations(1)
		b, err := id.P12(enc, "pw", true)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "pw", "com.acme.app")
	}
	f.Add(id.Cert.Raw, "", "com.acme.app")
	f.Add([]byte{0x30, 0x80, 0, 0}, "", "")
	f.Add([]byte{}, "\U0001F511", "")
	in := &Inspector{Now: func() time.Time { return testNow }}
	f.Fuzz(func(t *testing.T, data []byte, password, bundle string) {
		fuzzInvariants(t, in.P12(data, P12Request{Password: password, BundleID: bundle}))
	})
}

func FuzzP8(f *testing.F) {
	k := ecKey(f, elliptic.P256())
	p8 := p8Of(f, k)
	f.Add(p8, "ABC123DEFG", "TEAM123456")
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n"), "ABC123DEFG", "TEAM123456")
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\n\n-----END ENCRYPTED PRIVATE KEY-----"), "", "")
	in := &Inspector{}
	f.Fuzz(func(t *testing.T, data []byte, keyID, teamID string) {
		fuzzInvariants(t, in.P8(data, P8Request{KeyID: keyID, TeamID: teamID}))
	})
}

func FuzzServiceAccount(f *testing.F) {
	sa, err := testcred.ServiceAccount{Key: key(f, 3).(*rsa.PrivateKey)}.Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sa)
	f.Add([]byte(`{"type":"service_account","project_id":"p","client_email":"e","private_key":"-----BEGIN PRIVATE KEY-----\\nMII\\n-----END PRIVATE KEY-----\\n"}`))
	f.Add([]byte(`{"project_info":{}}`))
	f.Add([]byte{0xFF, 0xFE, '{', 0})
	in := &Inspector{}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzInvariants(t, in.ServiceAccount(data))
	})
}

func FuzzPEMBundle(f *testing.F) {
	ca, err := testcred.AppleWWDR()
	if err != nil {
		f.Fatal(err)
	}
	id := issue(f, ca, testcred.PushCert{BundleID: "com.acme.app"})
	for _, b := range []testcred.PEMBundle{{BagAttributes: true}, {PKCS1: true, KeyFirst: true}, {Password: "pw"}} {
		out, err := id.Bundle(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out, b.Password)
	}
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), "pw")
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), "")
	in := &Inspector{Now: func() time.Time { return testNow }}
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		fuzzInvariants(t, in.PEMBundle(data, P12Request{Password: password, BundleID: "com.acme.app"}))
	})
}

func FuzzCer(f *testing.F) {
	ca, err := testcred.AppleWWDR()
	if err != nil {
		f.Fatal(err)
	}
	id := issue(f, ca, testcred.PushCert{BundleID: "com.acme.app"})
	f.Add(id.Cert.Raw)
	f.Add(testcred.CertificatePEM(id.Cert.Raw))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	pk, err := id.Bundle(testcred.PEMBundle{NoChain: true})
	if err != nil {
		f.Fatal(err)
	}
	in := &Inspector{Now: func() time.Time { return testNow }}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzInvariants(t, in.Cer(data, CerRequest{Key: push.NewRedacted(pk), BundleID: "com.acme.app"}))
	})
}
