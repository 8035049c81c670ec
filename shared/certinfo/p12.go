package certinfo

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/push"
)

// P12Request is what the caller asks of an APNs certificate upload.
type P12Request struct {
	// Password opens the .p12. The empty string is a password (both of
	// its encodings are tried), not an absent one.
	Password string
	// BundleID must be the certificate's UID or one of its topics; empty
	// means no requirement.
	BundleID string
	// Environment must be covered by the certificate; empty means no
	// requirement (a sandbox-only certificate is then OK).
	Environment push.Environment
}

// Apple's push certificate issuer and extensions.
const appleWWDRCommonName = "Apple Worldwide Developer Relations Certification Authority"

var (
	oidAPNsSandbox    = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 1}
	oidAPNsProduction = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 2}
	oidAPNsTopics     = asn1.ObjectIdentifier{1, 2, 840, 113635, 100, 6, 3, 6}
	oidUID            = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
)

// Legacy (pre-2015) push certificates name their environment only in the
// common name.
const (
	legacySandboxPrefix    = "Apple Development IOS Push Services: "
	legacyProductionPrefix = "Apple Production IOS Push Services: "
)

const howToExport = "In Keychain Access, open My Certificates, expand \"Apple Push Services: <bundle id>\" so its private key shows, select the certificate and the key, and choose File > Export Items as Personal Information Exchange (.p12)."

// P12 inspects an APNs certificate file (.p12 with its password). The
// checks run in order size, password, pkcs12, identity, key_type,
// apple_push, validity, bundle_id, environment; code is the first that
// failed. A chain that cannot be verified is a warning, as is a
// certificate expiring within the window.
func (in *Inspector) P12(data []byte, req P12Request) *Report {
	r := newCertReport(req.BundleID, req.Environment)

	if r.oversized(data, "file", "an APNs .p12 is a few kilobytes", "Export only the push certificate and its private key.") {
		return r
	}
	if !bmpEncodable(req.Password) {
		r.fail("password", UnsupportedPassword, "The password contains characters outside Unicode's Basic Multilingual Plane (such as emoji), which PKCS#12 cannot encode, so no software can open the file with it. Export the .p12 again with a password of letters, digits and punctuation.")
		return r
	}
	layout, err := scanLayout(data)
	if err != nil {
		r.fail("pkcs12", NotPKCS12, describeNotPKCS12(data))
		return r
	}
	if layout.maxIterations > MaxIterations {
		r.fail("pkcs12", NotPKCS12, fmt.Sprintf("The file asks for %d key-derivation iterations; mobilepush accepts at most %d (Keychain Access and OpenSSL write 2048, Windows 2000, Java keytool 10000). Export it again with the default settings of Keychain Access or OpenSSL.", layout.maxIterations, MaxIterations))
		return r
	}

	key, first, cas, err := pkcs12.DecodeChain(data, req.Password)
	if err != nil {
		in.decodeFailure(r, layout, req.Password != "", err)
		return r
	}
	r.pass("password", "The password opens the file.")
	r.pass("pkcs12", "The file is a readable PKCS#12 archive.")

	in.checkIdentity(r, key, append([]*x509.Certificate{first}, cas...), req, fmt.Sprintf("the certificate was exported with another key. %s", howToExport))
	return r
}

// checkIdentity runs the checks every APNs certificate upload shares,
// once its private key and certificates are read: identity (the
// certificate matching the key; mismatch ends that check's message),
// key_type, apple_push, validity, bundle_id, environment and the chain
// warning. An OK report gets the chain and key as its material.
func (in *Inspector) checkIdentity(r *Report, key any, certs []*x509.Certificate, req P12Request, mismatch string) {
	r.CertificatesInFile = len(certs)
	leaf, others := matchKey(key, certs)
	if leaf == nil {
		r.fail("identity", KeyMismatch, fmt.Sprintf("The private key belongs to none of the %d certificate(s): %s", len(certs), mismatch))
		leaf = certs[0]
	} else {
		r.pass("identity", "The private key belongs to the certificate "+certName(leaf)+".")
	}

	r.KeyType = keyType(key)
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		r.pass("key_type", "The key is "+r.KeyType+".")
	} else {
		r.fail("key_type", UnsupportedKeyType, fmt.Sprintf("The key is %s; Apple issues push certificates only for RSA 2048 keys. Create the certificate signing request in Keychain Access (Certificate Assistant > Request a Certificate from a Certificate Authority) with the default RSA 2048 key.", r.KeyType))
	}

	in.describeCertificate(r, leaf)
	in.checkApple(r, leaf)
	in.checkValidity(r, leaf)
	checkBundle(r, req.BundleID)
	checkEnvironment(r, req.Environment)
	in.checkChain(r, leaf, others)

	if r.OK {
		chain := append([]*x509.Certificate{leaf}, others...)
		r.material = &secret{normalize: func() ([]byte, error) { return p12Material(key, chain) }}
	}
}

// p12Material is the stored form of an APNs certificate: the chain as
// PEM, leaf first, then the key as PKCS#8 PEM.
func p12Material(key any, chain []*x509.Certificate) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	_ = pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return b.Bytes(), nil
}

// decodeFailure explains a DecodeChain error. go-pkcs12 types only its
// password and unsupported-feature errors; the rest is told apart by the
// layout read before decryption.
func (in *Inspector) decodeFailure(r *Report, l pfxLayout, havePassword bool, err error) {
	var notImpl pkcs12.NotImplementedError
	switch {
	case !l.hasMAC && havePassword && l.encrypted+l.shrouded > 0:
		r.fail("pkcs12", NotPKCS12, "This .p12 is encrypted with a password but has no integrity check (MAC), a form mobilepush cannot open (openssl pkcs12 -export -nomac writes it). Export it again with a MAC: from Keychain Access, or with openssl pkcs12 -export without -nomac.")
	case !l.hasMAC && havePassword:
		r.fail("password", WrongPassword, "This .p12 has neither encryption nor an integrity check (MAC): it is not protected by a password at all. Send an empty password, or export the file again with a password.")
	case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption):
		r.fail("password", WrongPassword, "The password does not open this .p12. Passwords are case-sensitive; use the one chosen when the file was exported (an empty password is tried both ways macOS and OpenSSL write it).")
	case errors.As(err, &notImpl):
		r.fail("pkcs12", NotPKCS12, fmt.Sprintf("The file uses a PKCS#12 feature mobilepush cannot read (%s). Export it again from Keychain Access, or with openssl pkcs12 -export.", strings.TrimPrefix(notImpl.Error(), "pkcs12: ")))
	case l.keyBags > 1:
		r.pass("password", "The password opens the file.")
		r.fail("identity", MultipleIdentities, fmt.Sprintf("The file holds %d private keys; upload one push certificate with its own key. %s", l.keyBags, howToExport))
	case l.keyBags == 0:
		r.pass("password", "The password opens the file.")
		r.fail("identity", NoPrivateKey, "The file holds no private key: only the certificate was exported. "+howToExport)
	default:
		r.pass("password", "The password opens the file.")
		r.fail("identity", NoCertificate, "The file holds a private key but no readable certificate. "+howToExport)
	}
}

// describeNotPKCS12 says what data is instead of a .p12, and how to get one.
func describeNotPKCS12(data []byte) string {
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return "The file is empty. " + howToExport
	case isDERCertificate(data):
		return "This is a certificate (.cer) without its private key, as downloaded from the Apple Developer portal. If mobilepush made the signing request, upload the .cer itself (as cer_base64, or the file part apns.cer): it is paired with the key mobilepush keeps. Otherwise double-click it so Keychain Access adds it next to the key made with the signing request, then export both as a .p12. " + howToExport
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		if bytes.Contains(trimmed, []byte("PRIVATE KEY")) && !bytes.Contains(trimmed, []byte("CERTIFICATE")) {
			return "This is a PEM private key, not a .p12. If it is an APNs auth key (.p8), upload it as an auth key with its Key ID and Team ID; otherwise export the push certificate as a .p12. " + howToExport
		}
		return "This is PEM text (.pem), not a .p12. Upload the .p12 export, or convert with: openssl pkcs12 -export -in cert.pem -inkey key.pem -out push.p12"
	case trimmed[0] == '{':
		return "This is a JSON file, not a .p12. Upload a Firebase service-account key in the FCM field, and the .p12 export of the push certificate as the APNs credential."
	case len(data) > 1 && data[0] == 0x30 && data[1] == 0x80:
		return "The file uses BER indefinite-length encoding (written by some Java and Windows tools), which mobilepush cannot read. Re-export it from Keychain Access, or convert it with: openssl pkcs12 -in old.p12 -out push.pem -nodes && openssl pkcs12 -export -in push.pem -out push.p12"
	default:
		return "The file is not a PKCS#12 (.p12) archive: it may be truncated or another kind of file. " + howToExport
	}
}

func isDERCertificate(data []byte) bool {
	_, err := x509.ParseCertificate(data)
	return err == nil
}

// bmpEncodable reports whether PKCS#12 can encode s: UCS-2 holds only the
// Basic Multilingual Plane.
func bmpEncodable(s string) bool {
	for _, r := range s {
		if utf16.IsSurrogate(r) || r > 0xFFFF {
			return false
		}
	}
	return true
}

// matchKey returns the certificate whose public key is key's, and the
// other certificates in file order.
func matchKey(key any, certs []*x509.Certificate) (leaf *x509.Certificate, others []*x509.Certificate) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, certs
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil, certs
	}
	for i, c := range certs {
		if pub.Equal(c.PublicKey) {
			return c, append(slices.Clip(certs[:i:i]), certs[i+1:]...)
		}
	}
	return nil, certs
}

func keyType(key any) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PrivateKey:
		return "Ed25519"
	default:
		return fmt.Sprintf("%T", key)
	}
}

// describeCertificate fills the facts of the certificate in use.
func (in *Inspector) describeCertificate(r *Report, c *x509.Certificate) {
	now := in.now()
	sum := sha256.Sum256(c.Raw)
	r.FingerprintSHA256 = hex.EncodeToString(sum[:])
	r.Subject = nameString(c.Subject.Names)
	r.Issuer = nameString(c.Issuer.Names)
	nb, na := c.NotBefore.UTC(), c.NotAfter.UTC()
	r.NotBefore, r.NotAfter = &nb, &na
	d := push.DaysLeft(c.NotAfter, now)
	r.DaysLeft = &d
	if len(c.Subject.OrganizationalUnit) > 0 {
		r.TeamID = c.Subject.OrganizationalUnit[0]
	}
	for _, n := range c.Subject.Names {
		if n.Type.Equal(oidUID) {
			if s, ok := n.Value.(string); ok {
				r.BundleID = s
			}
		}
	}
	cn := c.Subject.CommonName
	if r.BundleID == "" {
		if i := strings.LastIndex(cn, ": "); i >= 0 {
			r.BundleID = cn[i+2:]
		}
	}
	var sandbox, production bool
	for _, e := range c.Extensions {
		switch {
		case e.Id.Equal(oidAPNsSandbox):
			sandbox = true
		case e.Id.Equal(oidAPNsProduction):
			production = true
		case e.Id.Equal(oidAPNsTopics):
			r.Topics = parseTopics(e.Value)
		}
	}
	if !sandbox && !production {
		sandbox = strings.HasPrefix(cn, legacySandboxPrefix)
		production = strings.HasPrefix(cn, legacyProductionPrefix)
	}
	switch {
	case sandbox && production:
		r.Environment = "both"
	case sandbox:
		r.Environment = string(push.Sandbox)
	case production:
		r.Environment = string(push.Production)
	}
	if len(r.Topics) == 0 && r.BundleID != "" && r.Environment != "" {
		r.Topics = []string{r.BundleID}
	}
}

// parseTopics reads the UTF8String topic names of the topics extension,
// skipping the type SEQUENCE after each.
func parseTopics(v []byte) []string {
	var items []asn1.RawValue
	if _, err := asn1.Unmarshal(v, &items); err != nil {
		return nil
	}
	var topics []string
	for _, it := range items {
		if it.Class == asn1.ClassUniversal && it.Tag == asn1.TagUTF8String {
			topics = append(topics, string(it.Bytes))
		}
	}
	return topics
}

func (in *Inspector) checkApple(r *Report, c *x509.Certificate) {
	switch {
	case c.Issuer.CommonName != appleWWDRCommonName || !slices.Contains(c.Issuer.Organization, "Apple Inc."):
		r.fail("apple_push", NotApplePush, fmt.Sprintf("The certificate was issued by %q, not by Apple's Worldwide Developer Relations CA, so APNs will refuse it. Create the push certificate in the Apple Developer portal: Certificates, Identifiers & Profiles > Certificates > + > Apple Push Notification service SSL (Sandbox & Production).", c.Issuer.CommonName))
	case r.Environment == "":
		r.fail("apple_push", NotApplePush, fmt.Sprintf("The certificate %s is not an Apple Push Notification service certificate (it carries none of Apple's push extensions); a development or distribution certificate was probably exported instead. Create one under Certificates > + > Apple Push Notification service SSL (Sandbox & Production).", certName(c)))
	default:
		r.pass("apple_push", "The certificate is an Apple Push Notification service certificate.")
	}
}

func (in *Inspector) checkValidity(r *Report, c *x509.Certificate) {
	now := in.now()
	const day = "2006-01-02"
	switch {
	case now.Before(c.NotBefore):
		r.fail("validity", NotYetValid, fmt.Sprintf("The certificate is valid only from %s (UTC). Check this computer's clock, or wait until then.", c.NotBefore.UTC().Format(time.RFC3339)))
	case now.After(c.NotAfter):
		r.fail("validity", Expired, fmt.Sprintf("The certificate expired on %s. Create a new push certificate in the Apple Developer portal for the same App ID and upload its .p12.", c.NotAfter.UTC().Format(day)))
	default:
		r.pass("validity", fmt.Sprintf("The certificate is valid until %s (%d days).", c.NotAfter.UTC().Format(day), *r.DaysLeft))
		if c.NotAfter.Sub(now) < in.window() {
			r.warn(ExpiringSoon, fmt.Sprintf("The certificate expires in %d days, on %s. Create a new push certificate in the Apple Developer portal and upload it before then.", *r.DaysLeft, c.NotAfter.UTC().Format(day)))
		}
	}
}

func checkBundle(r *Report, want string) {
	switch {
	case want == "":
		r.pass("bundle_id", "No bundle id was requested.")
	case want == r.BundleID || slices.Contains(r.Topics, want):
		r.pass("bundle_id", "The certificate serves bundle id "+want+".")
	default:
		msg := fmt.Sprintf("The certificate is for %q (topics: %s), not for the requested bundle id %q. Upload the push certificate of %q's App ID, or correct the bundle id.", r.BundleID, strings.Join(r.Topics, ", "), want, want)
		switch {
		case r.BundleID == "":
			msg = fmt.Sprintf("The certificate names no bundle id, so it cannot serve %q. Upload the push certificate of %q's App ID.", want, want)
		case strings.EqualFold(want, r.BundleID):
			msg = fmt.Sprintf("The certificate is for %q, which differs from the requested %q only in letter case; bundle ids are compared exactly. Correct the bundle id.", r.BundleID, want)
		}
		r.fail("bundle_id", BundleIDMismatch, msg)
	}
}

func checkEnvironment(r *Report, want push.Environment) {
	switch {
	case want == "":
		r.pass("environment", "No environment was requested; the certificate serves "+environmentText(r.Environment)+".")
	case r.Environment == "both" || r.Environment == string(want):
		r.pass("environment", "The certificate serves the "+string(want)+" environment.")
	case r.Environment == "":
		r.fail("environment", EnvironmentMismatch, "The certificate serves no APNs environment. Create an \"Apple Push Notification service SSL (Sandbox & Production)\" certificate in the Apple Developer portal and upload its .p12.")
	default:
		r.fail("environment", EnvironmentMismatch, fmt.Sprintf("The certificate serves only %s, but the app is set to %s. Create an \"Apple Push Notification service SSL (Sandbox & Production)\" certificate, or switch the app's Production setting.", environmentText(r.Environment), want))
	}
}

func environmentText(env string) string {
	switch env {
	case "both":
		return "sandbox and production"
	case "":
		return "no environment"
	default:
		return env
	}
}

// checkChain verifies the certificate against the roots, using the
// file's other certificates as intermediates; failure is a warning, as
// APNs itself decides on the live check.
func (in *Inspector) checkChain(r *Report, leaf *x509.Certificate, others []*x509.Certificate) {
	inter := x509.NewCertPool()
	for _, c := range others {
		inter.AddCert(c)
	}
	// Validity has its own check: verify the signatures as of a time the
	// leaf is valid, so an expired certificate is not also "unverified".
	at := in.now()
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore
	} else if at.After(leaf.NotAfter) {
		at = leaf.NotAfter
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         in.roots(),
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		r.warn(ChainUnverified, fmt.Sprintf("The certificate's chain to a trusted root could not be verified offline (the file has %d certificate(s)); APNs checks it on the live check. Including Apple's WWDR intermediate in the export lets it be verified here.", r.CertificatesInFile))
	}
}

// nameString renders a distinguished name as "UID=…, CN=…, OU=…, O=…, C=…"
// in the order of the certificate.
func nameString(names []pkixAttr) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		label, ok := attrLabels[n.Type.String()]
		if !ok {
			label = n.Type.String()
		}
		parts = append(parts, fmt.Sprintf("%s=%v", label, n.Value))
	}
	return strings.Join(parts, ", ")
}
