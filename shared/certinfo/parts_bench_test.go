package certinfo

import (
	"crypto/x509"
	"encoding/pem"
	"mobilepush/shared/push"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// BenchmarkP12Overhead breaks down what the inspector adds to
// DecodeChain (see BenchmarkP12): the layout scan, chain verification,
// the facts and checks, key matching, and the normalization that
// Normalized performs on demand.
func BenchmarkP12Overhead(b *testing.B) {
	data := benchFiles(b, pkcs12.Modern2023, 1)[0]
	key, leaf, cas, _ := pkcs12.DecodeChain(data, pw)
	in := inspector(b)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			scanLayout(data)
		}
	})
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := newReport(push.APNsP12)
			in.checkChain(r, leaf, cas)
		}
	})
	b.Run("describe", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := newReport(push.APNsP12)
			in.describeCertificate(r, leaf)
			in.checkApple(r, leaf)
			in.checkValidity(r, leaf)
			checkBundle(r, "com.acme.app0")
			checkEnvironment(r, "production")
		}
	})
	b.Run("normalize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			der, _ := x509.MarshalPKCS8PrivateKey(key)
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
		}
	})
	b.Run("match", func(b *testing.B) {
		for b.Loop() {
			matchKey(key, append([]*x509.Certificate{leaf}, cas...))
		}
	})
}
