package registry

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// SigningRequestInput is what an administrator may choose for a signing
// request; Apple replaces the subject anyway, so both are optional.
type SigningRequestInput struct {
	CommonName string // default: the app's name
	Email      string // default: the caller's subject when it is an address
}

// Limits of the request's subject (RFC 5280's upper bounds).
const (
	maxCommonName = 64
	maxEmail      = 128
)

var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// CreateSigningRequest makes an RSA-2048 key and a PKCS#10 request signed
// with it (SHA-256), stores the key sealed as the app's pending APNs key
// (replacing a pending one) and returns the request. The key never
// leaves the credential store but to be paired with Apple's certificate.
// Errors: Invalid, NotFound, Transient, Internal.
func (s *Service) CreateSigningRequest(ctx context.Context, who Principal, id string, in SigningRequestInput) (credential.PendingKey, error) {
	const op = "registry.CreateSigningRequest"
	app, err := s.Store.Get(ctx, who.Tenant, id)
	if err != nil {
		return credential.PendingKey{}, err
	}
	cn, email, err := subject(op, app, who, in)
	if err != nil {
		return credential.PendingKey{}, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return credential.PendingKey{}, push.E(op, push.Internal, fmt.Errorf("generate key: %w", err))
	}
	name := pkix.Name{CommonName: cn}
	if email != "" {
		// Keychain's Certificate Assistant puts the address in the subject, as an IA5String.
		name.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidEmailAddress, Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(email)}}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: name, SignatureAlgorithm: x509.SHA256WithRSA}, key)
	if err != nil {
		return credential.PendingKey{}, push.E(op, push.Internal, fmt.Errorf("create signing request: %w", err))
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return credential.PendingKey{}, push.E(op, push.Internal, fmt.Errorf("encode key: %w", err))
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return credential.PendingKey{}, push.E(op, push.Internal, fmt.Errorf("encode public key: %w", err))
	}
	sum := sha256.Sum256(spki)
	return s.Store.CreatePending(ctx, credential.SigningRequest{
		Tenant: who.Tenant, ID: id, Actor: who.Subject,
		Key:                  push.NewRedacted(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})),
		CSRPEM:               string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		KeyFingerprintSHA256: hex.EncodeToString(sum[:]),
		CommonName:           cn, Email: email,
	})
}

// subject validates the request's subject and fills the defaults.
func subject(op string, app credential.App, who Principal, in SigningRequestInput) (cn, email string, err error) {
	cn, email = strings.TrimSpace(in.CommonName), strings.TrimSpace(in.Email)
	if cn == "" {
		cn = app.Name
		if len([]rune(cn)) > maxCommonName {
			cn = string([]rune(cn)[:maxCommonName])
		}
	}
	if n := len([]rune(cn)); n == 0 || n > maxCommonName || strings.IndexFunc(cn, unicode.IsControl) >= 0 {
		return "", "", push.Errorf(op, push.Invalid, "common_name: must be 1-%d printable characters", maxCommonName)
	}
	if email == "" {
		if a, err := mail.ParseAddress(who.Subject); err == nil && a.Name == "" && len(a.Address) <= maxEmail && isASCII(a.Address) {
			email = a.Address
		}
		return cn, email, nil
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > maxEmail || !isASCII(email) {
		return "", "", push.Errorf(op, push.Invalid, "email: must be a plain ASCII address such as admin@example.com, at most %d characters", maxEmail)
	}
	return cn, email, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// SigningRequest returns the app's pending signing request (never its key).
// Errors: Invalid, NotFound (no app, or none pending), Transient, Internal.
func (s *Service) SigningRequest(ctx context.Context, who Principal, id string) (credential.PendingKey, error) {
	return s.Store.Pending(ctx, who.Tenant, id)
}

// DiscardSigningRequest drops the app's pending signing request and its key.
// Errors: Invalid, NotFound (no app, or none pending), Transient, Internal.
func (s *Service) DiscardSigningRequest(ctx context.Context, who Principal, id string) error {
	return s.Store.DiscardPending(ctx, who.Tenant, id, who.Subject)
}

// pendingPair is the pending key a .cer upload is paired with.
type pendingPair struct {
	meta credential.PendingKey
	key  push.Redacted
}

// loadPending reads the pending key of app id for a .cer upload: with
// none pending, the upload is refused with no_pending_request.
func (s *Service) loadPending(ctx context.Context, op string, who Principal, id string) (*pendingPair, error) {
	p, key, err := s.Store.PendingPrivateKey(ctx, who.Tenant, id)
	if push.Is(err, push.NotFound) {
		return nil, noPendingRequest(op, id)
	}
	if err != nil {
		return nil, err
	}
	return &pendingPair{meta: p, key: key}, nil
}

func noPendingRequest(op, id string) error {
	route := "POST /v1/apps/{id}/apns/csr"
	if id != "" {
		route = "POST /v1/apps/" + id + "/apns/csr"
	}
	return &push.Error{Op: op, Kind: push.Unprocessable, Code: string(certinfo.NoPendingRequest),
		Msg: "No signing request is pending for this app, so there is no private key to pair the certificate with (a .cer holds none). " +
			"Create a signing request (" + route + ", or mobilepush csr), make the certificate from it in the Apple Developer portal, and upload that aps.cer; " +
			"or upload a .p12 or PEM bundle that includes the private key."}
}
