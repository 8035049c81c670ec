package testcred

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// P12 encodes id as a PKCS#12 file with enc (pkcs12.LegacyRC2 is what
// macOS Keychain Access writes, pkcs12.Modern2023 what OpenSSL 3 writes by
// default). withChain adds the intermediates after the leaf.
func (id *Identity) P12(enc *pkcs12.Encoder, password string, withChain bool) ([]byte, error) {
	var cas []*x509.Certificate
	if withChain {
		cas = id.Chain
	}
	b, err := enc.Encode(id.Key, id.Cert, cas, password)
	if err != nil {
		return nil, fmt.Errorf("testcred: encode p12: %w", err)
	}
	return b, nil
}

// Empty-password encodings for RawP12's MAC.
var (
	// EmptyPasswordOpenSSL is the empty password as OpenSSL encodes it: a
	// BMPString holding only its two-byte terminator.
	EmptyPasswordOpenSSL = []byte{0, 0}
	// EmptyPasswordMacOS is the empty password as macOS encodes it: no
	// bytes at all.
	EmptyPasswordMacOS = []byte{}
)

// RawP12 builds a PKCS#12 file that the go-pkcs12 encoders cannot make:
// any number of unencrypted key bags and certificate bags in one
// SafeContents, in the order given, with an HMAC-SHA-256 MAC keyed by
// macPassword (raw BMPString bytes, e.g. EmptyPasswordMacOS). Decoders
// read such a file with the empty password.
func RawP12(macPassword []byte, keys []crypto.Signer, certs []*x509.Certificate) ([]byte, error) {
	var bags []safeBag
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		bags = append(bags, safeBag{ID: oidKeyBag, Value: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}})
	}
	for _, c := range certs {
		cb, err := asn1.Marshal(certBag{ID: oidX509Certificate, Data: c.Raw})
		if err != nil {
			return nil, err
		}
		bags = append(bags, safeBag{ID: oidCertBag, Value: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cb}})
	}
	safeContents, err := asn1.Marshal(bags)
	if err != nil {
		return nil, err
	}
	inner, err := dataContentInfo(safeContents)
	if err != nil {
		return nil, err
	}
	authSafe, err := asn1.Marshal([]asn1.RawValue{{FullBytes: inner}})
	if err != nil {
		return nil, err
	}
	outer, err := dataContentInfo(authSafe)
	if err != nil {
		return nil, err
	}
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	const iterations = 2048
	key := pkcs12KDF(salt, macPassword, iterations, 3, sha256.Size)
	m := hmac.New(sha256.New, key)
	m.Write(authSafe)
	return asn1.Marshal(pfx{
		Version:  3,
		AuthSafe: asn1.RawValue{FullBytes: outer},
		MacData: macData{
			Mac:        digestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256}, Digest: m.Sum(nil)},
			MacSalt:    salt,
			Iterations: iterations,
		},
	})
}

var (
	oidData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidKeyBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidCertBag         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Certificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

type pfx struct {
	Version  int
	AuthSafe asn1.RawValue
	MacData  macData
}

type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int
}

type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit"`
}

type safeBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

type certBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

func dataContentInfo(content []byte) ([]byte, error) {
	octets, err := asn1.Marshal(content)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: oidData, Content: asn1.RawValue{FullBytes: mustExplicit0(octets)}})
}

// mustExplicit0 wraps der in a [0] EXPLICIT tag.
func mustExplicit0(der []byte) []byte {
	b, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der})
	if err != nil {
		panic(err) // marshaling a RawValue of bytes cannot fail
	}
	return b
}

// pkcs12KDF is the key derivation of RFC 7292 appendix B.2 with SHA-256.
func pkcs12KDF(salt, password []byte, iterations int, id byte, size int) []byte {
	const u, v = sha256.Size, 64
	fill := func(p []byte) []byte {
		if len(p) == 0 {
			return nil
		}
		n := v * ((len(p) + v - 1) / v)
		out := make([]byte, n)
		for i := range out {
			out[i] = p[i%len(p)]
		}
		return out
	}
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt), fill(password)...)
	var out []byte
	for len(out) < size {
		h := sha256.Sum256(append(append([]byte{}, d...), in...))
		a := h[:]
		for i := 1; i < iterations; i++ {
			s := sha256.Sum256(a)
			a = s[:]
		}
		out = append(out, a...)
		b := fill(a)[:v]
		for j := 0; j < len(in); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				x := int(in[j+k]) + int(b[k]) + carry
				in[j+k] = byte(x)
				carry = x >> 8
			}
		}
	}
	_ = u
	return out[:size]
}

// PEM returns id as mobilepush stores an APNs certificate: the chain as
// "CERTIFICATE" blocks, leaf first, and the key as a PKCS#8 "PRIVATE KEY"
// block.
func (id *Identity) PEM() (chain, key []byte, err error) {
	for _, c := range append([]*x509.Certificate{id.Cert}, id.Chain...) {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	der, err := x509.MarshalPKCS8PrivateKey(id.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("testcred: key: %w", err)
	}
	return chain, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
