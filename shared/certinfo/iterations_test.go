package certinfo

import (
	"strconv"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

// TestIterationCap: a .p12 may ask for at most MaxIterations; one past
// it is not_pkcs12 before any key derivation, the message naming both
// counts, and one at the cap opens.
func TestIterationCap(t *testing.T) {
	ca := apple(t)
	id := issue(t, ca, testcred.PushCert{BundleID: "com.example.app"})
	in := inspector(t)
	for _, tc := range []struct {
		iterations int
		ok         bool
	}{
		{10_000, true}, // Java keytool
		{MaxIterations, true},
		{MaxIterations + 1, false},
		{150_000, false},
	} {
		data := p12(t, id, pkcs12.Modern2023.WithIterations(tc.iterations), pw, true)
		r := in.P12(data, P12Request{Password: pw, BundleID: "com.example.app"})
		if tc.ok {
			if !r.OK {
				t.Errorf("%d iterations: %s, want ok", tc.iterations, r.Code)
			}
			continue
		}
		c, _ := checkNamed(r, "pkcs12")
		if r.Code != NotPKCS12 || c.Code != NotPKCS12 {
			t.Fatalf("%d iterations: code %s, check %+v; want not_pkcs12", tc.iterations, r.Code, c)
		}
		for _, n := range []string{strconv.Itoa(tc.iterations), "100000"} {
			if !strings.Contains(c.Message, n) {
				t.Errorf("%d iterations: the message lacks %s: %s", tc.iterations, n, c.Message)
			}
		}
		if _, tried := checkNamed(r, "password"); tried {
			t.Errorf("%d iterations: the password was tried (a key derivation ran): %+v", tc.iterations, r.Checks)
		}
	}
}
