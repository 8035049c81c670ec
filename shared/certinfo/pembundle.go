package certinfo

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
)

// PEMBundle inspects an APNs certificate uploaded as PEM text holding the
// certificate and its private key, as `openssl pkcs12 -in push.p12
// [-nodes]` prints it: optional "Bag Attributes" lines, CERTIFICATE
// blocks (the leaf and its chain, in any order) and one PRIVATE KEY, RSA
// PRIVATE KEY or ENCRYPTED PRIVATE KEY block (then req.Password decrypts
// it). Text outside blocks is ignored. The checks run in order size, pem,
// certificate, password (encrypted keys only), key, then those of a .p12
// from identity on, with the same codes; the report's kind is apns_p12.
func (in *Inspector) PEMBundle(data []byte, req P12Request) *Report {
	r := newCertReport(req.BundleID, req.Environment)
	if r.oversized(data, "text", "a push certificate with its key is a few kilobytes", "Paste only the push certificate, its chain and its private key.") {
		return r
	}
	var (
		certs []*x509.Certificate
		keys  []*pem.Block
		any   bool
	)
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		any = true
		switch b.Type {
		case "CERTIFICATE":
			if c, err := x509.ParseCertificate(b.Bytes); err == nil {
				certs = append(certs, c)
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			keys = append(keys, b)
		}
	}
	const export = "Print it with: openssl pkcs12 -in push.p12 -nodes (add -legacy for an old Keychain export), and upload the whole output."
	switch {
	case !any:
		r.fail("pem", NotPEM, "The text holds no PEM block (-----BEGIN ...-----). "+export)
		return r
	case len(certs) == 0:
		r.pass("pem", "The text holds PEM blocks.")
		r.fail("certificate", NoCertificate, "The text holds no certificate (-----BEGIN CERTIFICATE-----), only a key. "+export)
		return r
	}
	r.pass("pem", "The text holds PEM blocks.")
	r.pass("certificate", fmt.Sprintf("The text holds %d certificate(s).", len(certs)))
	switch {
	case len(keys) == 0:
		r.CertificatesInFile = len(certs)
		r.fail("key", NoPrivateKey, "The text holds no private key: only the certificate was exported. "+export)
		return r
	case len(keys) > 1:
		r.CertificatesInFile = len(certs)
		r.fail("key", MultipleIdentities, fmt.Sprintf("The text holds %d private keys; upload one push certificate with its own key.", len(keys)))
		return r
	}
	der, ok := in.decryptKey(r, keys[0], req)
	if !ok {
		r.CertificatesInFile = len(certs)
		return r
	}
	key, err := parseKeyDER(keys[0].Type, der)
	if err != nil {
		r.CertificatesInFile = len(certs)
		r.fail("key", UnparsablePrivateKey, "The private key block cannot be read; it may be truncated. "+export)
		return r
	}
	r.pass("key", "The private key was read.")
	in.checkIdentity(r, key, certs, req, "the certificate and the key come from different exports. "+export)
	return r
}

// decryptKey returns the DER of a key block, decrypting an encrypted one
// with req.Password (the password check).
func (in *Inspector) decryptKey(r *Report, b *pem.Block, req P12Request) ([]byte, bool) {
	legacy := x509.IsEncryptedPEMBlock(b) //nolint:staticcheck // reading OpenSSL's legacy encrypted PEM is the point
	if b.Type != "ENCRYPTED PRIVATE KEY" && !legacy {
		return b.Bytes, true
	}
	if req.Password == "" {
		r.fail("password", WrongPassword, "The private key is encrypted: give the password it was exported with, or print it unencrypted with openssl pkcs12 -nodes.")
		return nil, false
	}
	var (
		der []byte
		err error
	)
	if legacy {
		der, err = x509.DecryptPEMBlock(b, []byte(req.Password)) //nolint:staticcheck // see above
	} else {
		der, err = decryptPKCS8(b.Bytes, req.Password)
	}
	var unsupported errUnsupported
	switch {
	case errors.As(err, &unsupported):
		r.fail("password", UnparsablePrivateKey, fmt.Sprintf("The private key is encrypted with %s, which mobilepush cannot read. Print it unencrypted with openssl pkcs12 -nodes, or re-encrypt it with: openssl pkcs8 -topk8 -v2 aes-256-cbc", string(unsupported)))
		return nil, false
	case err != nil:
		r.fail("password", WrongPassword, "The password does not decrypt the private key. Passwords are case-sensitive; use the one chosen when the key was exported.")
		return nil, false
	}
	r.pass("password", "The password decrypts the private key.")
	return der, true
}

// parsePrivateKey reads an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC 1).
func parsePrivateKey(p []byte) (any, error) {
	b, _ := pem.Decode(p)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	return parseKeyDER(b.Type, b.Bytes)
}

func parseKeyDER(typ string, der []byte) (any, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if typ == "EC PRIVATE KEY" {
		return x509.ParseECPrivateKey(der)
	}
	return x509.ParsePKCS1PrivateKey(der)
}

// errUnsupported names an encryption scheme decryptPKCS8 does not read.
type errUnsupported string

func (e errUnsupported) Error() string { return "unsupported key encryption " + string(e) }

var (
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type encryptedKeyInfo struct {
	Algo pkix.AlgorithmIdentifier
	Data []byte
}

type pbes2Params struct {
	KDF pkix.AlgorithmIdentifier
	Enc pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (RFC 5958) protected
// with PBES2 (RFC 8018): PBKDF2 with HMAC-SHA-1/256/384/512, then AES-CBC
// or 3DES-CBC, as OpenSSL writes it. The iteration count is capped as for
// a .p12.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	var info encryptedKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) > 0 {
		return nil, errors.New("malformed encrypted private key")
	}
	if !info.Algo.Algorithm.Equal(oidPBES2) {
		return nil, errUnsupported(info.Algo.Algorithm.String() + " (PKCS#5 v1.5 or PKCS#12 PBE)")
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algo.Parameters.FullBytes, &params); err != nil {
		return nil, errors.New("malformed PBES2 parameters")
	}
	if !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, errUnsupported("key derivation " + params.KDF.Algorithm.String())
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	if kdf.Iterations < 1 || kdf.Iterations > MaxIterations {
		return nil, errUnsupported(fmt.Sprintf("%d PBKDF2 iterations (at most %d)", kdf.Iterations, MaxIterations))
	}
	var prf func() hash.Hash
	switch a := kdf.PRF.Algorithm; {
	case len(a) == 0, a.Equal(oidHMACSHA1):
		prf = sha1.New
	case a.Equal(oidHMACSHA256):
		prf = sha256.New
	case a.Equal(oidHMACSHA384):
		prf = sha512.New384
	case a.Equal(oidHMACSHA512):
		prf = sha512.New
	default:
		return nil, errUnsupported("PBKDF2 with " + a.String())
	}
	var (
		keyLen   int
		newBlock func([]byte) (cipher.Block, error)
	)
	switch a := params.Enc.Algorithm; {
	case a.Equal(oidAES128CBC):
		keyLen, newBlock = 16, aes.NewCipher
	case a.Equal(oidAES192CBC):
		keyLen, newBlock = 24, aes.NewCipher
	case a.Equal(oidAES256CBC):
		keyLen, newBlock = 32, aes.NewCipher
	case a.Equal(oidDESEDE3CBC):
		keyLen, newBlock = 24, des.NewTripleDESCipher
	default:
		return nil, errUnsupported("cipher " + a.String())
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Enc.Parameters.FullBytes, &iv); err != nil {
		return nil, errors.New("malformed cipher parameters")
	}
	key, err := pbkdf2.Key(prf, password, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, errors.New("derive key")
	}
	blk, err := newBlock(key)
	if err != nil {
		return nil, errors.New("cipher key")
	}
	bs := blk.BlockSize()
	if len(iv) != bs || len(info.Data) == 0 || len(info.Data)%bs != 0 {
		return nil, errors.New("malformed ciphertext")
	}
	plain := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(plain, info.Data)
	pad := int(plain[len(plain)-1])
	if pad == 0 || pad > bs || !bytes.Equal(plain[len(plain)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, errors.New("wrong password")
	}
	plain = plain[:len(plain)-pad]
	if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
		return nil, errors.New("wrong password")
	}
	return plain, nil
}
