package certinfo

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"mobilepush/shared/push"
	"strings"
)

// P8Request is what the caller supplies with an APNs auth key.
type P8Request struct {
	KeyID  string // the 10-character Key ID shown in the developer portal
	TeamID string // the 10-character Team ID of the developer account
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// P8 inspects an APNs auth key (.p8): a PKCS#8 PEM ECDSA P-256 private
// key. Surrounding whitespace, CRLF line endings and a UTF-8 BOM are
// accepted. The checks run in order size, pem, private_key, key_type,
// key_id, team_id; the key id and team id are always checked.
func (in *Inspector) P8(data []byte, req P8Request) *Report {
	r := newReport(push.APNsP8)
	r.RequestedKeyID = req.KeyID
	r.RequestedTeamID = req.TeamID
	if r.oversized(data, "file", "an APNs auth key (.p8) is about 250 bytes", "Upload the AuthKey_<Key ID>.p8 file exactly as downloaded from the Apple Developer portal (Keys).") {
		return r
	}
	text := bytes.ReplaceAll(bytes.TrimPrefix(data, utf8BOM), []byte("\r\n"), []byte("\n"))
	text = bytes.TrimSpace(text)

	key := in.p8Key(r, text)
	if key != nil {
		der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err == nil {
			sum := sha256.Sum256(der)
			r.FingerprintSHA256 = hex.EncodeToString(sum[:])
		}
	}
	idOK := checkAppleID(r, "key_id", InvalidKeyID, "Key ID", req.KeyID, "Keys, next to the key's name (the file is named AuthKey_<Key ID>.p8)")
	teamOK := checkAppleID(r, "team_id", InvalidTeamID, "Team ID", req.TeamID, "Membership details of the developer account")
	if idOK {
		r.KeyID = req.KeyID
	}
	if teamOK {
		r.TeamID = req.TeamID
	}
	if r.OK && key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			r.fail("private_key", UnparsablePrivateKey, "The key cannot be stored in PKCS#8 form. Download a new key from the developer portal.")
			return r
		}
		r.withMaterial(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	return r
}

// p8Key runs the pem, private_key and key_type checks and returns the key
// when all pass.
func (in *Inspector) p8Key(r *Report, text []byte) *ecdsa.PrivateKey {
	const download = "Download the auth key again from the Apple Developer portal (Certificates, Identifiers & Profiles > Keys; a key can be downloaded only once, so a lost key must be revoked and a new one created)."
	block, _ := pem.Decode(text)
	if block == nil {
		msg := "The file is not PEM text: an APNs auth key (.p8) starts with -----BEGIN PRIVATE KEY-----. "
		if isDERCertificate(text) || len(text) > 0 && text[0] == 0x30 {
			msg = "The file is binary (DER), not the PEM text of an APNs auth key (.p8). If it is a .p12 certificate, upload it as a certificate. "
		}
		r.fail("pem", NotPEM, msg+download)
		return nil
	}
	r.pass("pem", "The file is PEM text.")
	switch {
	case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" && strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
		r.fail("private_key", EncryptedKey, "The private key is encrypted with a passphrase; APNs auth keys from Apple are not. Upload the .p8 exactly as downloaded, or decrypt it: openssl pkcs8 -in key.p8 -out AuthKey.p8 -nocrypt")
		return nil
	case block.Type == "EC PRIVATE KEY" || block.Type == "RSA PRIVATE KEY":
		r.fail("private_key", NotPKCS8, fmt.Sprintf("The key is an %q block (a converted key), not the PKCS#8 \"PRIVATE KEY\" Apple issues. Upload the original .p8, or convert it: openssl pkcs8 -topk8 -nocrypt -in key.pem -out AuthKey.p8", block.Type))
		return nil
	case block.Type == "CERTIFICATE" && bytes.Contains(text, []byte("PRIVATE KEY-----")):
		r.fail("private_key", NotPrivateKey, "This is an APNs certificate with its private key as PEM (a .p12 converted to text), not an auth key (.p8). Upload it as the APNs certificate instead: make a .p12 of it (openssl pkcs12 -export -in file.pem -out push.p12) and upload that with its password as the APNs certificate (.p12; p12_base64 in the API).")
		return nil
	case block.Type == "CERTIFICATE":
		r.fail("private_key", NotPrivateKey, "This is a certificate as PEM, not an auth key (.p8), and it holds no private key. An APNs certificate is uploaded as a .p12 with its key (export it from Keychain Access); an auth key is the AuthKey_<Key ID>.p8 file from the Apple Developer portal (Keys).")
		return nil
	case block.Type != "PRIVATE KEY":
		r.fail("private_key", NotPrivateKey, fmt.Sprintf("The PEM block is %q, not a private key. An APNs auth key (.p8) holds -----BEGIN PRIVATE KEY-----. %s", block.Type, download))
		return nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		r.fail("private_key", UnparsablePrivateKey, "The PRIVATE KEY block cannot be parsed; the file is damaged or was edited. "+download)
		return nil
	}
	r.pass("private_key", "The file holds a PKCS#8 private key.")
	r.KeyType = keyType(parsed)
	k, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		r.fail("key_type", WrongKeyType, fmt.Sprintf("The key is %s; APNs auth keys are ECDSA P-256 (ES256). This is not an APNs auth key. %s", r.KeyType, download))
		return nil
	}
	r.pass("key_type", "The key is ECDSA P-256.")
	return k
}

// checkAppleID checks a 10-character Apple identifier (A-Z, 0-9).
func checkAppleID(r *Report, name string, code Code, label, v, where string) bool {
	if validAppleID(v) {
		r.pass(name, "The "+label+" is well-formed.")
		return true
	}
	got := "is empty"
	if v != "" {
		got = fmt.Sprintf("is %q", v)
	}
	r.fail(name, code, fmt.Sprintf("The %s %s; it must be 10 characters, capital letters A-Z and digits 0-9. Find it in the Apple Developer portal under %s.", label, got, where))
	return false
}

func validAppleID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, c := range []byte(s) {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
