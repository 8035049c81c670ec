package certinfo

import (
	"crypto"
	"fmt"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/testcred"
)

// benchFiles mints n distinct .p12 files (distinct keys and
// certificates) with the chain included, encoded by enc.
func benchFiles(b *testing.B, enc *pkcs12.Encoder, n int) [][]byte {
	b.Helper()
	ks, err := testcred.RSAKeys(n)
	if err != nil {
		b.Fatal(err)
	}
	ca := apple(b)
	files := make([][]byte, n)
	for i := range files {
		id := issue(b, ca, testcred.PushCert{BundleID: fmt.Sprintf("com.acme.app%d", i), Key: crypto.Signer(ks[i])})
		files[i] = p12(b, id, enc, pw, true)
	}
	return files
}

// BenchmarkP12 measures the inspector on Keychain-like (RC2-40 + 3DES,
// SHA-1 MAC) and modern (PBES2 AES-256, SHA-256 MAC) files against
// go-pkcs12's DecodeChain alone on the same bytes in the same run, cycling
// over 8 distinct files so nothing is cached. Each Inspect result reports
// "x-decodechain": its time per file divided by DecodeChain's (target ≤ 1.10).
func BenchmarkP12(b *testing.B) {
	const files = 8
	for _, tc := range []struct {
		name string
		enc  *pkcs12.Encoder
	}{
		{"keychain-rc2-3des", pkcs12.LegacyRC2},
		{"modern-aes256", pkcs12.Modern2023},
	} {
		data := benchFiles(b, tc.enc, files)
		decode := func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, _, _, err := pkcs12.DecodeChain(data[i%files], pw); err != nil {
					b.Fatal(err)
				}
			}
		}
		var baseline float64 // DecodeChain ns per file, measured in this run
		b.Run(tc.name+"/DecodeChain", func(b *testing.B) {
			decode(b)
			baseline = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(tc.name+"/Inspect", func(b *testing.B) {
			if baseline == 0 { // the DecodeChain run was filtered out: measure it now
				const n = 25 * files
				start := time.Now()
				for i := range n {
					if _, _, _, err := pkcs12.DecodeChain(data[i%files], pw); err != nil {
						b.Fatal(err)
					}
				}
				baseline = float64(time.Since(start).Nanoseconds()) / n
				b.ResetTimer()
			}
			in := inspector(b)
			req := P12Request{Password: pw, Environment: "production"}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				req.BundleID = fmt.Sprintf("com.acme.app%d", i%files)
				if r := in.P12(data[i%files], req); !r.OK {
					b.Fatalf("code %q", r.Code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseline, "x-decodechain")
		})
	}
}
