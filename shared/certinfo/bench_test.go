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
// over 8 distinct files so nothing is cached:
//   - <kind>/DecodeChain and <kind>/Inspect: time and allocations per file;
//   - <kind>/ratio: both timed alternately on the same file in one loop, so
//     whatever else the machine does weighs on both alike; it reports
//     their times per file and "x-decodechain", the inspector's time over
//     DecodeChain's (target ≤ 1.10).
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
		in := inspector(b)
		req := func(i int) P12Request {
			return P12Request{Password: pw, Environment: "production", BundleID: fmt.Sprintf("com.acme.app%d", i%files)}
		}
		b.Run(tc.name+"/DecodeChain", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, _, _, err := pkcs12.DecodeChain(data[i%files], pw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/Inspect", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if r := in.P12(data[i%files], req(i)); !r.OK {
					b.Fatalf("code %q", r.Code)
				}
			}
		})
		b.Run(tc.name+"/ratio", func(b *testing.B) {
			var decode, inspect time.Duration
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				if _, _, _, err := pkcs12.DecodeChain(data[i%files], pw); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if r := in.P12(data[i%files], req(i)); !r.OK {
					b.Fatalf("code %q", r.Code)
				}
				decode, inspect = decode+t1.Sub(t0), inspect+time.Since(t1)
			}
			b.ReportMetric(float64(decode.Nanoseconds())/float64(b.N), "decodechain-ns/file")
			b.ReportMetric(float64(inspect.Nanoseconds())/float64(b.N), "inspect-ns/file")
			b.ReportMetric(float64(inspect)/float64(decode), "x-decodechain")
		})
	}
}
