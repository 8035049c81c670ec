package certinfo

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"time"

	"mobilepush/shared/push"
)

// Codes of an Apple certificate (.cer) upload paired with a signing
// request's pending key; the other checks are those of a .p12 and use its
// codes (key_mismatch for a certificate of another request).
const (
	// NoPendingRequest: a .cer was uploaded but no signing request is
	// pending, so there is no private key to pair it with (the registry's
	// check, before inspection).
	NoPendingRequest Code = "no_pending_request"
)

// CerRequest is what the caller asks of an Apple certificate (.cer)
// upload: the pending key it is paired with and the checks of a .p12.
type CerRequest struct {
	// Key is the pending private key (PEM) of the signing request.
	Key push.Redacted
	// RequestedAt is when the pending signing request was made; the
	// key_mismatch message names it.
	RequestedAt time.Time
	// BundleID and Environment are checked as for a .p12.
	BundleID    string
	Environment push.Environment
}

// Cer inspects Apple's certificate as the portal downloads it (aps.cer or
// aps_development.cer: DER; PEM accepted too, with or without the chain)
// paired with the pending key of the signing request it was made from.
// The checks run in order size, certificate, key, then those of a .p12
// from identity on; a certificate made from another request fails
// identity with key_mismatch. The report's kind is apns_p12: what it
// stores is a certificate with its key, as from a .p12.
func (in *Inspector) Cer(data []byte, req CerRequest) *Report {
	r := newCertReport(req.BundleID, req.Environment)
	if r.oversized(data, "file", "Apple's aps.cer is under 2 kilobytes", "Upload the certificate downloaded from the Apple Developer portal.") {
		return r
	}
	certs := readCertificates(data)
	if len(certs) == 0 {
		r.fail("certificate", NoCertificate, describeNotCer(data))
		return r
	}
	r.pass("certificate", "The file is a certificate.")
	key, err := parsePrivateKey(req.Key.Reveal())
	if err != nil {
		// The pending key is mobilepush's own: unreadable means corrupt storage.
		r.fail("key", UnparsablePrivateKey, "The key of the pending signing request cannot be read. Create a new signing request and upload the certificate made from it.")
		return r
	}
	r.pass("key", "The key of the pending signing request was read.")
	mismatch := "the certificate was made from another signing request"
	if !req.RequestedAt.IsZero() {
		mismatch += ", not from the one pending since " + req.RequestedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	mismatch += ". Upload the certificate Apple issued for that request, or download a new signing request and make the certificate from it."
	in.checkIdentity(r, key, certs, P12Request{BundleID: req.BundleID, Environment: req.Environment}, mismatch)
	return r
}

// readCertificates reads one DER certificate, or every CERTIFICATE block
// of PEM text (text outside blocks is ignored).
func readCertificates(data []byte) []*x509.Certificate {
	if c, err := x509.ParseCertificate(data); err == nil {
		return []*x509.Certificate{c}
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return certs
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
}

// describeNotCer says what data is instead of Apple's certificate.
func describeNotCer(data []byte) string {
	const get = "Download the certificate from the Apple Developer portal (Certificates, Identifiers & Profiles > Certificates > the push certificate > Download) and upload aps.cer as it is."
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return "The file is empty. " + get
	case bytes.Contains(trimmed, []byte("CERTIFICATE REQUEST")):
		return "This is the signing request, not Apple's certificate. Upload it in the Apple Developer portal, then upload the certificate Apple makes from it. " + get
	case bytes.HasPrefix(trimmed, []byte("-----BEGIN")):
		return "This PEM text holds no certificate. " + get
	case len(data) > 1 && data[0] == 0x30:
		if _, err := scanLayout(data); err == nil {
			return "This is a .p12 archive, not a .cer: upload it as a .p12 with its password."
		}
	}
	return "The file is not a certificate (.cer): it may be truncated or another kind of file. " + get
}
