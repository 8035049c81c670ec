package certinfo

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"mobilepush/shared/push"
)

func TestP8(t *testing.T) {
	p256 := ecKey(t, elliptic.P256())
	p384 := ecKey(t, elliptic.P384())
	good := p8Of(t, p256)
	p384PEM := p8Of(t, p384)
	rsaPKCS8 := p8Of(t, key(t, 0))
	sec1DER, err := x509.MarshalECPrivateKey(p256)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	pemOf := func(typ string, der []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der, Headers: headers})
	}
	rsaKey := key(t, 0).(*rsa.PrivateKey)
	crlf := bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n"))
	const kid, team = "ABC123DEFG", "TEAM123456"

	tests := []struct {
		name string
		data []byte
		req  P8Request
		want Code
	}{
		{"PKCS#8 P-256 as Apple serves it", good, P8Request{kid, team}, OK},
		{"CRLF and surrounding whitespace", append(append([]byte("\n  \t"), crlf...), "\r\n\r\n  "...), P8Request{kid, team}, OK},
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, good...), P8Request{kid, team}, OK},
		{"SEC1 EC key", pemOf("EC PRIVATE KEY", sec1DER, nil), P8Request{kid, team}, NotPKCS8},
		{"PKCS#1 RSA key", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil), P8Request{kid, team}, NotPKCS8},
		{"PKCS#8 RSA key", rsaPKCS8, P8Request{kid, team}, WrongKeyType},
		{"P-384 key", p384PEM, P8Request{kid, team}, WrongKeyType},
		{"encrypted PKCS#8", pemOf("ENCRYPTED PRIVATE KEY", block.Bytes, nil), P8Request{kid, team}, EncryptedKey},
		{"legacy encrypted PEM", pemOf("EC PRIVATE KEY", sec1DER, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}), P8Request{kid, team}, EncryptedKey},
		{"certificate PEM", pemOf("CERTIFICATE", []byte{1, 2, 3}, nil), P8Request{kid, team}, NotPrivateKey},
		{"public key PEM", pemOf("PUBLIC KEY", []byte{1, 2, 3}, nil), P8Request{kid, team}, NotPrivateKey},
		{"damaged key", pemOf("PRIVATE KEY", block.Bytes[:len(block.Bytes)-10], nil), P8Request{kid, team}, UnparsablePrivateKey},
		{"not PEM", []byte("hello"), P8Request{kid, team}, NotPEM},
		{"DER key", block.Bytes, P8Request{kid, team}, NotPEM},
		{"empty", nil, P8Request{kid, team}, NotPEM},
		{"truncated PEM", good[:len(good)/2], P8Request{kid, team}, NotPEM},
		{"too large", append(bytes.Repeat([]byte(" "), MaxInputSize), good...), P8Request{kid, team}, TooLarge},
		{"key id too short", good, P8Request{"ABC123", team}, InvalidKeyID},
		{"key id lower case", good, P8Request{"abc123defg", team}, InvalidKeyID},
		{"key id empty", good, P8Request{"", team}, InvalidKeyID},
		{"team id wrong", good, P8Request{kid, "TEAM-12345"}, InvalidTeamID},
		{"bad key wins over bad ids", rsaPKCS8, P8Request{"x", "y"}, WrongKeyType},
	}
	in := inspector(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := in.P8(tt.data, tt.req)
			if r.Code != tt.want {
				t.Fatalf("code = %q, want %q; checks %+v", r.Code, tt.want, r.Checks)
			}
			if r.RequestedKeyID != tt.req.KeyID || r.RequestedTeamID != tt.req.TeamID || r.Kind != push.APNsP8 {
				t.Errorf("requested = %q/%q kind %q", r.RequestedKeyID, r.RequestedTeamID, r.Kind)
			}
			checkReportInvariants(t, r)
		})
	}
}

func TestP8FactsAndNormalized(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	good := p8Of(t, k)
	crlf := append([]byte("  "), bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n"))...)
	r := inspector(t).P8(crlf, P8Request{KeyID: "ABC123DEFG", TeamID: "TEAM123456"})
	if !r.OK {
		t.Fatalf("code %q", r.Code)
	}
	if r.KeyID != "ABC123DEFG" || r.TeamID != "TEAM123456" || r.KeyType != "ECDSA P-256" || len(r.FingerprintSHA256) != 64 {
		t.Errorf("facts = %+v", r.Facts)
	}
	if got := string(r.Normalized().Reveal()); got != string(good) {
		t.Errorf("normalized = %q, want the LF PEM", got)
	}
	bad := inspector(t).P8(good, P8Request{KeyID: "bad", TeamID: "TEAM123456"})
	if bad.KeyID != "" || bad.RequestedKeyID != "bad" {
		t.Errorf("an invalid key id became a fact: %+v", bad.Facts)
	}
	if !strings.Contains(bad.Checks[len(bad.Checks)-2].Message, "10 characters") {
		t.Errorf("key id message unhelpful: %q", bad.Checks[len(bad.Checks)-2].Message)
	}
}
