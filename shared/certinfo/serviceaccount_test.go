package certinfo

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf16"

	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

func serviceAccount(t *testing.T, sa testcred.ServiceAccount, edit func(map[string]any)) []byte {
	t.Helper()
	if sa.Key == nil {
		sa.Key = key(t, 3).(*rsa.PrivateKey)
	}
	m, err := sa.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

func TestServiceAccount(t *testing.T) {
	good := serviceAccount(t, testcred.ServiceAccount{}, nil)
	ecKey := ecKey(t, elliptic.P256())
	ecDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	googleServices := []byte(`{"project_info":{"project_number":"1","project_id":"example-project"},"client":[{"client_info":{"mobilesdk_app_id":"1:1:android:1"}}],"configuration_version":"1"}`)
	authorizedUser := []byte(`{"type":"authorized_user","client_id":"x.apps.googleusercontent.com","client_secret":"s","refresh_token":"r"}`)

	tests := []struct {
		name string
		data []byte
		want Code
	}{
		{"PKCS#8 key as Firebase downloads it", good, OK},
		{"PKCS#1 key", serviceAccount(t, testcred.ServiceAccount{PKCS1: true}, nil), OK},
		{"UTF-8 BOM", append([]byte{0xEF, 0xBB, 0xBF}, good...), OK},
		{"newlines escaped twice", serviceAccount(t, testcred.ServiceAccount{}, func(m map[string]any) {
			m["private_key"] = strings.ReplaceAll(m["private_key"].(string), "\n", `\n`)
		}), OK},
		{"custom token_uri is only a fact", serviceAccount(t, testcred.ServiceAccount{TokenURI: "http://169.254.169.254/latest"}, nil), OK},
		{"UTF-16 with BOM", utf16LE(string(good)), MalformedJSON},
		{"UTF-16 without BOM", utf16LE(string(good))[2:], MalformedJSON},
		{"google-services.json", googleServices, WrongType},
		{"authorized_user", authorizedUser, WrongType},
		{"external_account", []byte(`{"type":"external_account"}`), WrongType},
		{"missing type", serviceAccount(t, testcred.ServiceAccount{}, del("type")), MissingFields},
		{"missing project_id", serviceAccount(t, testcred.ServiceAccount{}, del("project_id")), MissingFields},
		{"missing client_email", serviceAccount(t, testcred.ServiceAccount{}, del("client_email")), MissingFields},
		{"missing private_key", serviceAccount(t, testcred.ServiceAccount{}, del("private_key")), MissingFields},
		{"blank private_key", serviceAccount(t, testcred.ServiceAccount{}, set("private_key", "  ")), MissingFields},
		{"private_key not a string", serviceAccount(t, testcred.ServiceAccount{}, set("private_key", 42)), MissingFields},
		{"private_key not PEM", serviceAccount(t, testcred.ServiceAccount{}, set("private_key", "MIIEvQIBADANBg")), UnparsablePrivateKey},
		{"private_key damaged", serviceAccount(t, testcred.ServiceAccount{}, set("private_key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}})))), UnparsablePrivateKey},
		{"private_key is EC", serviceAccount(t, testcred.ServiceAccount{}, set("private_key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})))), UnparsablePrivateKey},
		{"private_key encrypted", serviceAccount(t, testcred.ServiceAccount{}, set("private_key", string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: ecDER})))), UnparsablePrivateKey},
		{"truncated", good[:len(good)/2], MalformedJSON},
		{"not an object", []byte(`["service_account"]`), MalformedJSON},
		{"empty", nil, MalformedJSON},
		{"too large", append(good, bytes.Repeat([]byte(" "), MaxInputSize)...), TooLarge},
	}
	in := inspector(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := in.ServiceAccount(tt.data)
			if r.Code != tt.want {
				t.Fatalf("code = %q, want %q; checks %+v", r.Code, tt.want, r.Checks)
			}
			if r.Kind != push.FCMJSON {
				t.Errorf("kind = %q", r.Kind)
			}
			checkReportInvariants(t, r)
		})
	}
}

func TestServiceAccountMissingFieldsNamed(t *testing.T) {
	data := serviceAccount(t, testcred.ServiceAccount{}, func(m map[string]any) {
		delete(m, "project_id")
		delete(m, "client_email")
	})
	r := inspector(t).ServiceAccount(data)
	msg := r.Checks[len(r.Checks)-1].Message
	for _, f := range []string{"project_id", "client_email"} {
		if !strings.Contains(msg, f) {
			t.Errorf("message %q does not name %s", msg, f)
		}
	}
	if strings.Contains(msg, "private_key,") {
		t.Errorf("message names a present field: %q", msg)
	}
}

func TestServiceAccountFactsAndNormalized(t *testing.T) {
	sa := testcred.ServiceAccount{ProjectID: "acme-push", PrivateKeyID: "abc", TokenURI: "https://evil.example/token", UniverseDomain: "evil.example"}
	escaped := serviceAccount(t, sa, func(m map[string]any) {
		m["private_key"] = strings.ReplaceAll(m["private_key"].(string), "\n", `\n`)
	})
	r := inspector(t).ServiceAccount(append([]byte{0xEF, 0xBB, 0xBF}, escaped...))
	if !r.OK {
		t.Fatalf("code %q", r.Code)
	}
	tests := []struct{ name, got, want string }{
		{"project_id", r.ProjectID, "acme-push"},
		{"client_email", r.ClientEmail, "firebase-adminsdk-xyz@acme-push.iam.gserviceaccount.com"},
		{"private_key_id", r.PrivateKeyID, "abc"},
		{"token_uri", r.TokenURI, "https://evil.example/token"},
		{"universe_domain", r.UniverseDomain, "evil.example"},
		{"key_type", r.KeyType, "RSA 2048"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	var norm map[string]string
	if err := json.Unmarshal(r.Normalized().Reveal(), &norm); err != nil {
		t.Fatalf("normalized JSON: %v", err)
	}
	if b, _ := pem.Decode([]byte(norm["private_key"])); b == nil {
		t.Error("normalized private_key is still escaped")
	}
}

// TestServiceAccountNeverCallsTokenURI: inspection is offline; an uploaded
// token_uri is a fact, never a destination.
func TestServiceAccountNeverCallsTokenURI(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	data := serviceAccount(t, testcred.ServiceAccount{TokenURI: srv.URL + "/token", UniverseDomain: srv.Listener.Addr().String()}, nil)
	r := inspector(t).ServiceAccount(data)
	if !r.OK || r.TokenURI != srv.URL+"/token" {
		t.Fatalf("code %q token_uri %q", r.Code, r.TokenURI)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the uploaded token_uri received %d requests", n)
	}
}
