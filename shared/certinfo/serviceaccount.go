package certinfo

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mobilepush/shared/push"
)

const howToGetServiceAccount = "In the Firebase console open Project settings > Service accounts > Firebase Admin SDK and click \"Generate new private key\"; upload the .json file it downloads."

// ServiceAccount inspects a Firebase service-account key file (JSON).
// A UTF-8 BOM is removed; UTF-16 is refused with a clear message. The
// checks run in order size, json, type, fields, project_id, private_key. The file's
// token_uri and universe_domain are reported as facts and never used.
func (in *Inspector) ServiceAccount(data []byte) *Report {
	r := newReport(push.FCMJSON)
	if r.oversized(data, "file", "a service-account key is about 2.3 KB", "Upload the key file exactly as downloaded. "+howToGetServiceAccount) {
		return r
	}
	if isUTF16(data) {
		r.fail("json", MalformedJSON, "The file is encoded as UTF-16 (an editor such as Notepad re-saved it). Upload the file exactly as Firebase downloaded it, or save it as UTF-8.")
		return r
	}
	data = bytes.TrimPrefix(data, utf8BOM)

	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		r.fail("json", MalformedJSON, "The file is not valid JSON ("+jsonProblem(data, err)+"); it may be truncated or not the key file. "+howToGetServiceAccount)
		return r
	}
	r.pass("json", "The file is valid JSON.")

	str := func(k string) (string, bool) {
		raw, ok := doc[k]
		if !ok {
			return "", false
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	typ, hasType := str("type")
	r.ProjectID, _ = str("project_id")
	r.ClientEmail, _ = str("client_email")
	r.PrivateKeyID, _ = str("private_key_id")
	r.TokenURI, _ = str("token_uri")
	r.UniverseDomain, _ = str("universe_domain")

	switch {
	case typ == "service_account":
		r.pass("type", "The file is a service-account key.")
	case !hasType && (doc["project_info"] != nil || doc["client"] != nil):
		r.fail("type", WrongType, "This is google-services.json, the Android app's client configuration, not a server key. "+howToGetServiceAccount)
		return r
	case typ == "authorized_user":
		r.fail("type", WrongType, "This is a user credential (type \"authorized_user\", e.g. from gcloud auth application-default login), not a service-account key. "+howToGetServiceAccount)
		return r
	case hasType:
		r.fail("type", WrongType, fmt.Sprintf("The file's type is %q; FCM needs a \"service_account\" key. %s", typ, howToGetServiceAccount))
		return r
	}

	var missing []string
	for _, f := range []string{"type", "project_id", "client_email", "private_key"} {
		if v, _ := str(f); strings.TrimSpace(v) == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		r.fail("fields", MissingFields, fmt.Sprintf("The key file lacks %s. Upload the unedited file. %s", strings.Join(missing, ", "), howToGetServiceAccount))
		return r
	}
	r.pass("fields", "project_id, client_email and private_key are present.")

	if !validProjectID(r.ProjectID) {
		r.fail("project_id", InvalidProjectID, fmt.Sprintf("The project_id %s is not a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen); the file was edited or is not a key Google issued. Upload the unedited file. %s", quoteShort(r.ProjectID), howToGetServiceAccount))
		return r
	}
	r.pass("project_id", "project_id "+r.ProjectID+" is a well-formed project id.")

	keyPEM, _ := str("private_key")
	key, repaired, err := parseServiceAccountKey(keyPEM)
	if err != nil {
		r.fail("private_key", UnparsablePrivateKey, "The private_key field "+err.Error()+" Upload the unedited file. "+howToGetServiceAccount)
		return r
	}
	r.KeyType = keyType(key)
	if der, err := x509.MarshalPKIXPublicKey(&key.PublicKey); err == nil {
		sum := sha256.Sum256(der)
		r.FingerprintSHA256 = hex.EncodeToString(sum[:])
	}
	msg := "private_key is a " + r.KeyType + " key."
	if repaired {
		msg += " Its line breaks were escaped twice (\\\\n); they were repaired."
		fixed, err := json.Marshal(strings.ReplaceAll(keyPEM, `\n`, "\n"))
		if err == nil {
			doc["private_key"] = fixed
		}
		if data, err = json.Marshal(doc); err != nil {
			r.fail("private_key", UnparsablePrivateKey, "The repaired key file cannot be written back. Upload the unedited file. "+howToGetServiceAccount)
			return r
		}
	}
	r.pass("private_key", msg)
	r.withMaterial(bytes.Clone(data))
	return r
}

var (
	errKeyNotPEM    = errors.New("is not a PEM private key (-----BEGIN PRIVATE KEY-----).")
	errKeyParse     = errors.New("holds a PEM block that cannot be parsed as a PKCS#8 or PKCS#1 RSA key.")
	errKeyNotRSA    = errors.New("holds a key that is not RSA; Google service-account keys are RSA.")
	errKeyEncrypted = errors.New("holds an encrypted key; Google service-account keys are not encrypted.")
)

// parseServiceAccountKey parses an RSA key in PKCS#8 or PKCS#1 PEM. A key
// whose newlines arrive as the two characters `\n` (the JSON escaped
// twice) is repaired; repaired reports that.
func parseServiceAccountKey(s string) (key *rsa.PrivateKey, repaired bool, err error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil && strings.Contains(s, `\n`) {
		block, _ = pem.Decode([]byte(strings.ReplaceAll(s, `\n`, "\n")))
		repaired = block != nil
	}
	if block == nil {
		return nil, false, errKeyNotPEM
	}
	switch block.Type {
	case "ENCRYPTED PRIVATE KEY":
		return nil, false, errKeyEncrypted
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, false, errKeyParse
		}
		return k, repaired, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, false, errKeyParse
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, false, errKeyNotRSA
		}
		return rk, repaired, nil
	default:
		return nil, false, errKeyNotPEM
	}
}

// isUTF16 recognises UTF-16 by its byte-order mark or by NUL bytes
// between ASCII characters.
func isUTF16(b []byte) bool {
	if bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}) {
		return true
	}
	return len(b) >= 4 && (b[1] == 0 && b[3] == 0 || b[0] == 0 && b[2] == 0)
}

// jsonProblem describes a JSON syntax error by position, never by content.
func jsonProblem(data []byte, err error) string {
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		if syn.Offset >= int64(len(bytes.TrimSpace(data))) {
			return "it ends too early"
		}
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	default:
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return "the top level is not a JSON object"
		}
		return "it cannot be parsed"
	}
}

// validProjectID reports whether id has the form of a Google Cloud
// project id: 6 to 30 characters of lowercase letters, digits and
// hyphens, starting with a letter and not ending with a hyphen. It goes
// into FCM's request path, so nothing else is accepted.
func validProjectID(id string) bool {
	if len(id) < 6 || len(id) > 30 || id[0] < 'a' || id[0] > 'z' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// quoteShort quotes s for a message (control characters escaped), cut
// to 40 bytes.
func quoteShort(s string) string {
	if len(s) > 40 {
		return strconv.Quote(s[:40]) + "…"
	}
	return strconv.Quote(s)
}
