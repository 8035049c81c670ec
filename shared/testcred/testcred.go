// Package testcred mints push credentials at run time for tests, fuzz
// seeds, benchmarks and the offline demo: an Apple-like certificate
// authority and push certificates with the real subject layout and
// extensions, PKCS#12 files in every encoding that matters, APNs .p8 auth
// keys and Firebase service-account JSON.
//
// Nothing it makes is trusted anywhere: the "Apple" authority is a fresh
// key pair per process. No key material is ever committed to the
// repository; everything is generated when asked for.
package testcred

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// Object identifiers of Apple's push certificate extensions and the UID
// subject attribute.
var (
	OIDSandbox    = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 1}
	OIDProduction = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 2}
	OIDTopics     = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 6}
	OIDUID        = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// Authority is a certificate authority that issues test certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Parent is the authority that signed Cert; nil for a root.
	Parent *Authority
}

// Chain returns the authority's certificate followed by its parents',
// excluding the self-signed root.
func (a *Authority) Chain() []*x509.Certificate {
	var out []*x509.Certificate
	for c := a; c != nil && c.Parent != nil; c = c.Parent {
		out = append(out, c.Cert)
	}
	return out
}

// Root returns the self-signed certificate at the top of a's chain.
func (a *Authority) Root() *x509.Certificate {
	for a.Parent != nil {
		a = a.Parent
	}
	return a.Cert
}

// NewRoot makes a self-signed root authority with the given subject.
func NewRoot(subject pkix.Name) (*Authority, error) {
	key, err := RSAKey()
	if err != nil {
		return nil, err
	}
	tmpl := caTemplate(subject)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("testcred: create root: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// NewIntermediate makes an authority with the given subject signed by a.
func (a *Authority) NewIntermediate(subject pkix.Name) (*Authority, error) {
	key, err := RSAKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, caTemplate(subject), a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, fmt.Errorf("testcred: create intermediate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{Cert: cert, Key: key, Parent: a}, nil
}

func caTemplate(subject pkix.Name) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               subject,
		NotBefore:             now.Add(-365 * 24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

var (
	appleOnce sync.Once
	apple     *Authority
	appleErr  error
)

// AppleWWDR returns this process's stand-in for Apple's push certificate
// issuer: an intermediate named like "Apple Worldwide Developer Relations
// Certification Authority" (OU G4, O Apple Inc.) under a root named like
// "Apple Root CA". The same authority is returned on every call.
func AppleWWDR() (*Authority, error) {
	appleOnce.Do(func() {
		var root *Authority
		root, appleErr = NewRoot(pkix.Name{CommonName: "Apple Root CA", OrganizationalUnit: []string{"Apple Certification Authority"}, Organization: []string{"Apple Inc."}, Country: []string{"US"}})
		if appleErr != nil {
			return
		}
		apple, appleErr = root.NewIntermediate(pkix.Name{
			CommonName:         "Apple Worldwide Developer Relations Certification Authority",
			OrganizationalUnit: []string{"G4"},
			Organization:       []string{"Apple Inc."},
			Country:            []string{"US"},
		})
	})
	return apple, appleErr
}

// Environment selects the push extensions of a certificate.
type Environment int

// Push certificate environments.
const (
	Universal        Environment = iota // sandbox and production (both extensions), Apple's default since 2015
	SandboxOnly                         // only 1.2.840.113635.100.6.3.1
	ProductionOnly                      // only 1.2.840.113635.100.6.3.2
	NoPushExtensions                    // an Apple-looking subject with no push extension at all
)

// PushCert describes an Apple push certificate to issue. Zero values get
// sensible defaults: bundle "com.example.app", team "ABCDE12345", valid
// from a day ago for a year, universal, RSA 2048, topics = the bundle id
// plus its .voip and .complication topics.
type PushCert struct {
	BundleID     string
	TeamID       string
	Organization string
	CommonName   string // default "Apple Push Services: <bundle>"
	Environment  Environment
	Topics       []string // full topic list; nil means bundle, bundle.voip, bundle.complication
	NoTopics     bool     // omit the topics extension
	NotBefore    time.Time
	NotAfter     time.Time
	Key          crypto.Signer // nil: a fresh RSA 2048 key
}

// Identity is a private key with its certificate and the intermediates
// that lead to a root.
type Identity struct {
	Key   crypto.Signer
	Cert  *x509.Certificate
	Chain []*x509.Certificate
}

// IssuePush issues an Apple-style push certificate from a.
func (a *Authority) IssuePush(p PushCert) (*Identity, error) {
	key := p.Key
	if key == nil {
		k, err := RSAKey()
		if err != nil {
			return nil, err
		}
		key = k
	}
	cert, err := a.issuePush(p, key.Public())
	if err != nil {
		return nil, err
	}
	return &Identity{Key: key, Cert: cert, Chain: a.Chain()}, nil
}

// issuePush issues the push certificate p describes for the public key pub.
func (a *Authority) issuePush(p PushCert, pub crypto.PublicKey) (*x509.Certificate, error) {
	if p.BundleID == "" {
		p.BundleID = "com.example.app"
	}
	if p.TeamID == "" {
		p.TeamID = "ABCDE12345"
	}
	if p.Organization == "" {
		p.Organization = "Example Corp"
	}
	if p.CommonName == "" {
		p.CommonName = "Apple Push Services: " + p.BundleID
	}
	if p.NotBefore.IsZero() {
		p.NotBefore = time.Now().Add(-24 * time.Hour)
	}
	if p.NotAfter.IsZero() {
		p.NotAfter = p.NotBefore.Add(365 * 24 * time.Hour)
	}
	if p.Topics == nil {
		p.Topics = []string{p.BundleID, p.BundleID + ".voip", p.BundleID + ".complication"}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			CommonName:         p.CommonName,
			OrganizationalUnit: []string{p.TeamID},
			Organization:       []string{p.Organization},
			Country:            []string{"US"},
			ExtraNames:         []pkix.AttributeTypeAndValue{{Type: OIDUID, Value: p.BundleID}},
		},
		NotBefore:   p.NotBefore,
		NotAfter:    p.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	null := []byte{0x05, 0x00}
	switch p.Environment {
	case Universal:
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDSandbox, Value: null}, pkix.Extension{Id: OIDProduction, Value: null})
	case SandboxOnly:
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDSandbox, Value: null})
	case ProductionOnly:
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDProduction, Value: null})
	}
	if !p.NoTopics && p.Environment != NoPushExtensions {
		v, err := TopicsExtension(p.BundleID, p.Topics)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: OIDTopics, Value: v})
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, pub, a.Key)
	if err != nil {
		return nil, fmt.Errorf("testcred: issue push certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// TopicsExtension encodes the 1.2.840.113635.100.6.3.6 value as Apple
// does: a flat SEQUENCE of UTF8String topic names, each followed by a
// SEQUENCE holding its type ("app", "voip", "complication"), derived from
// the topic's suffix relative to bundle.
func TopicsExtension(bundle string, topics []string) ([]byte, error) {
	var items []asn1.RawValue
	for _, t := range topics {
		name, err := asn1.MarshalWithParams(t, "utf8")
		if err != nil {
			return nil, err
		}
		typ := "app"
		switch t {
		case bundle + ".voip":
			typ = "voip"
		case bundle + ".complication":
			typ = "complication"
		}
		inner, err := asn1.MarshalWithParams(typ, "utf8")
		if err != nil {
			return nil, err
		}
		items = append(items, asn1.RawValue{FullBytes: name}, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: inner})
	}
	return asn1.Marshal(items)
}

var rsaPool = struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}{}

// RSAKey returns a fresh RSA 2048 key.
func RSAKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("testcred: rsa key: %w", err)
	}
	return k, nil
}

// RSAKeys returns n distinct RSA 2048 keys, generated once per process and
// shared by later calls (key generation dominates test time otherwise).
// Callers must not rely on the keys being unused elsewhere.
func RSAKeys(n int) ([]*rsa.PrivateKey, error) {
	rsaPool.Lock()
	defer rsaPool.Unlock()
	for len(rsaPool.keys) < n {
		k, err := RSAKey()
		if err != nil {
			return nil, err
		}
		rsaPool.keys = append(rsaPool.keys, k)
	}
	return rsaPool.keys[:n:n], nil
}

// ECKey returns a fresh ECDSA key on curve c (elliptic.P256() if nil).
func ECKey(c elliptic.Curve) (*ecdsa.PrivateKey, error) {
	if c == nil {
		c = elliptic.P256()
	}
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testcred: ec key: %w", err)
	}
	return k, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}
