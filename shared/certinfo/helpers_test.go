package certinfo

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

// testNow is the clock of every inspection in these tests; certificates
// are minted relative to it.
var testNow = time.Now().UTC().Truncate(time.Second)

const day = 24 * time.Hour

var (
	keysOnce sync.Once
	keys     []crypto.Signer
	keysErr  error
)

// key returns the i-th of a few RSA keys shared by the tests.
func key(t testing.TB, i int) crypto.Signer {
	t.Helper()
	keysOnce.Do(func() {
		ks, err := testcred.RSAKeys(6)
		keysErr = err
		for _, k := range ks {
			keys = append(keys, k)
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keys[i]
}

// ecKey is a new EC key on curve c (nil: P-256).
func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := testcred.ECKey(c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// p8Of is k as an APNs auth key file (.p8).
func p8Of(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	b, err := testcred.P8(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func apple(t testing.TB) *testcred.Authority {
	t.Helper()
	a, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// issue mints a push certificate valid around testNow unless spec says
// otherwise; spec.Key defaults to shared key 0.
func issue(t testing.TB, ca *testcred.Authority, spec testcred.PushCert) *testcred.Identity {
	t.Helper()
	if spec.Key == nil {
		spec.Key = key(t, 0)
	}
	if spec.NotBefore.IsZero() {
		spec.NotBefore = testNow.Add(-30 * day)
	}
	if spec.NotAfter.IsZero() {
		spec.NotAfter = testNow.Add(335 * day)
	}
	id, err := ca.IssuePush(spec)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func p12(t testing.TB, id *testcred.Identity, enc *pkcs12.Encoder, password string, withChain bool) []byte {
	t.Helper()
	b, err := id.P12(enc, password, withChain)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inspector verifies chains against the test Apple root at testNow.
func inspector(t testing.TB) *Inspector {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(apple(t).Root())
	return &Inspector{Now: func() time.Time { return testNow }, Roots: roots}
}

func warningCodes(r *Report) []Code {
	var out []Code
	for _, w := range r.Warnings {
		out = append(out, w.Code)
	}
	return out
}

// checkReportInvariants holds for every report: code/ok agree, the code
// is the first failed check's, every message is set, and no secret
// material leaks into the JSON form.
func checkReportInvariants(t *testing.T, r *Report, secrets ...string) {
	t.Helper()
	if (r.Code == OK) != r.OK {
		t.Errorf("code %q but ok=%v", r.Code, r.OK)
	}
	var firstFail Code = OK
	for _, c := range r.Checks {
		if c.Message == "" || c.Name == "" {
			t.Errorf("check %+v lacks name or message", c)
		}
		if c.OK != (c.Code == OK) {
			t.Errorf("check %q: ok=%v code=%q", c.Name, c.OK, c.Code)
		}
		if !c.OK && firstFail == OK {
			firstFail = c.Code
		}
	}
	if firstFail != r.Code {
		t.Errorf("report code %q, first failed check %q", r.Code, firstFail)
	}
	for _, w := range r.Warnings {
		if w.Message == "" {
			t.Errorf("warning %q has no message", w.Code)
		}
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append(secrets, "MII", "MIG") { // base64 DER of RSA and EC keys
		if s != "" && strings.Contains(string(j), s) {
			t.Errorf("report JSON contains secret material %q", s)
		}
	}
	if !r.OK && !r.Normalized().IsZero() {
		t.Error("a failed report returned normalized material")
	}
	if r.OK && r.Normalized().IsZero() {
		t.Error("an OK report has no normalized material")
	}
}
