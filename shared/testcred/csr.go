package testcred

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// SignRequest plays Apple's portal: it reads a PKCS#10 signing request
// (PEM, as a .certSigningRequest, or DER), checks its signature, and
// issues a push certificate from a for the request's public key, as
// aps.cer comes back: DER, one certificate. Apple chooses the subject (UID
// = bundle id, CN "Apple Push Services: <bundle id>", OU = team id) and
// the extensions from p, whatever the request's subject says; p.Key is
// ignored.
func (a *Authority) SignRequest(csr []byte, p PushCert) ([]byte, error) {
	der := csr
	if b, _ := pem.Decode(csr); b != nil {
		if b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("testcred: sign request: PEM block %q is not a certificate request", b.Type)
		}
		der = b.Bytes
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("testcred: sign request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("testcred: sign request: bad signature: %w", err)
	}
	cert, err := a.issuePush(p, req.PublicKey)
	if err != nil {
		return nil, err
	}
	return cert.Raw, nil
}

// CertificatePEM returns der (a certificate) as one PEM block.
func CertificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// PEMBundle describes PEM text as `openssl pkcs12 -in push.p12` prints it.
type PEMBundle struct {
	// Password, when not empty, encrypts the key as PKCS#8 with PBES2
	// (PBKDF2-HMAC-SHA256, AES-256-CBC), "ENCRYPTED PRIVATE KEY", as
	// OpenSSL 3 writes it without -nodes.
	Password string
	// PKCS1 writes an unencrypted key as "RSA PRIVATE KEY".
	PKCS1 bool
	// NoChain omits the intermediates.
	NoChain bool
	// KeyFirst writes the key before the certificates.
	KeyFirst bool
	// BagAttributes adds OpenSSL's "Bag Attributes" lines before each block.
	BagAttributes bool
}

// Bundle renders id as the PEM text b describes.
func (id *Identity) Bundle(b PEMBundle) ([]byte, error) {
	var certs, key bytes.Buffer
	attrs := func(w *bytes.Buffer, subject string) {
		if b.BagAttributes {
			fmt.Fprintf(w, "Bag Attributes\n    friendlyName: %s\n    localKeyID: %s\nsubject=%s\nissuer=Apple\n", subject, hex.EncodeToString(id.Cert.SubjectKeyId), subject)
		}
	}
	all := []*x509.Certificate{id.Cert}
	if !b.NoChain {
		all = append(all, id.Chain...)
	}
	for _, c := range all {
		attrs(&certs, c.Subject.CommonName)
		_ = pem.Encode(&certs, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	attrs(&key, id.Cert.Subject.CommonName)
	block, err := keyBlock(id.Key, b)
	if err != nil {
		return nil, err
	}
	_ = pem.Encode(&key, block)
	if b.KeyFirst {
		return append(key.Bytes(), certs.Bytes()...), nil
	}
	return append(certs.Bytes(), key.Bytes()...), nil
}

func keyBlock(key crypto.Signer, b PEMBundle) (*pem.Block, error) {
	if b.PKCS1 && b.Password == "" {
		rk, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("testcred: PKCS#1 needs an RSA key")
		}
		return &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}, nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("testcred: pem key: %w", err)
	}
	if b.Password == "" {
		return &pem.Block{Type: "PRIVATE KEY", Bytes: der}, nil
	}
	enc, err := EncryptPKCS8(der, b.Password, 2048)
	if err != nil {
		return nil, err
	}
	return &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}, nil
}

// OIDs of PKCS#5 v2 (RFC 8018) as OpenSSL 3 uses them.
var (
	oidPBES2        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	asn1NULL        = asn1.RawValue{Tag: asn1.TagNull}
)

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier
}

type pbes2Params struct {
	KDF pkix.AlgorithmIdentifier
	Enc pkix.AlgorithmIdentifier
}

type encryptedPrivateKeyInfo struct {
	Algo pkix.AlgorithmIdentifier
	Data []byte
}

// EncryptPKCS8 encrypts a PKCS#8 PrivateKeyInfo (DER) with password as an
// EncryptedPrivateKeyInfo: PBES2 with PBKDF2-HMAC-SHA256 (iter rounds)
// and AES-256-CBC.
func EncryptPKCS8(der []byte, password string, iter int) ([]byte, error) {
	salt, iv := make([]byte, 16), make([]byte, aes.BlockSize)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(iv)
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return nil, fmt.Errorf("testcred: pbkdf2: %w", err)
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(der)%aes.BlockSize
	plain := append(bytes.Clone(der), bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(ct, plain)
	kdf, err := asn1.Marshal(pbkdf2Params{Salt: salt, Iterations: iter, PRF: pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA2, Parameters: asn1NULL}})
	if err != nil {
		return nil, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}
	params, err := asn1.Marshal(pbes2Params{
		KDF: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		Enc: pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(encryptedPrivateKeyInfo{
		Algo: pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}},
		Data: ct,
	})
}
