package credential_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

func red(s string) push.Redacted { return push.NewRedacted([]byte(s)) }

func TestMaterialRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    credential.Material
	}{
		{"p12", credential.Material{Kind: push.APNsP12, CertificateChainPEM: red("CHAIN"), PrivateKeyPEM: red("KEY")}},
		{"p8", credential.Material{Kind: push.APNsP8, PrivateKeyPEM: red("P8"), KeyID: "ABCDEFGHIJ", TeamID: "TEAMTEAM12"}},
		{"fcm", credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: red(`{"type":"service_account"}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := tt.m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := credential.DecodeMaterial(v)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.m) {
				t.Fatalf("round trip changed the %s material", tt.name)
			}
		})
	}
}

func TestMaterialValidate(t *testing.T) {
	tests := []struct {
		name string
		m    credential.Material
	}{
		{"unknown kind", credential.Material{Kind: "pfx"}},
		{"p12 without chain", credential.Material{Kind: push.APNsP12, PrivateKeyPEM: red("k")}},
		{"p12 with json", credential.Material{Kind: push.APNsP12, CertificateChainPEM: red("c"), PrivateKeyPEM: red("k"), ServiceAccountJSON: red("{}")}},
		{"p8 without key id", credential.Material{Kind: push.APNsP8, PrivateKeyPEM: red("k"), TeamID: "T"}},
		{"p8 with chain", credential.Material{Kind: push.APNsP8, PrivateKeyPEM: red("k"), KeyID: "K", TeamID: "T", CertificateChainPEM: red("c")}},
		{"fcm without json", credential.Material{Kind: push.FCMJSON}},
		{"fcm with key id", credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: red("{}"), KeyID: "K"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.m.Validate()
			if !push.Is(err, push.Invalid) {
				t.Fatalf("Validate() = %v, want Invalid", err)
			}
			if _, err := tt.m.Encode(); !push.Is(err, push.Invalid) {
				t.Fatalf("Encode() = %v, want Invalid", err)
			}
		})
	}
}

func TestMaterialLimits(t *testing.T) {
	const marker = "TOPSECRETMARKER"
	big := credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: red(strings.Repeat(marker, credential.MaxSecretSize/len(marker)))}
	_, err := big.Encode()
	if !push.Is(err, push.TooLarge) {
		t.Fatalf("Encode of an oversize value = %v, want TooLarge", err)
	}
	for _, in := range [][]byte{[]byte(marker), []byte(`{"v":2}`), []byte(`{"v":1,"kind":"apns_p8","private_key_pem":"` + marker + `"}`)} {
		_, err := credential.DecodeMaterial(push.NewRedacted(in))
		if !push.Is(err, push.Internal) {
			t.Fatalf("DecodeMaterial(corrupt) = %v, want Internal", err)
		}
		if strings.Contains(err.Error(), marker) {
			t.Fatalf("error quotes the value: %v", err)
		}
	}
	m := credential.Material{Kind: push.APNsP8, PrivateKeyPEM: red(marker), KeyID: "K", TeamID: "T"}
	if s := fmt.Sprintf("%v %+v %#v", m, m, m); strings.Contains(s, marker) {
		t.Fatalf("printing a Material shows the secret: %s", s)
	}
}

func TestDefaultDue(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name  string
		kind  push.CredentialKind
		facts credential.Facts
		want  time.Time
	}{
		// The moment 60 days are left (push.DefaultThresholds' highest):
		// less than 61 days remain.
		{"certificate far from expiry", push.APNsP12, credential.Facts{NotAfter: now.Add(200 * day)}, now.Add(139*day + time.Second)},
		{"certificate inside 60 days", push.APNsP12, credential.Facts{NotAfter: now.Add(10 * day)}, now},
		{"p8 key", push.APNsP8, credential.Facts{}, now.Add(7 * day)},
		{"service account", push.FCMJSON, credential.Facts{}, now.Add(7 * day)},
	}
	for _, tt := range tests {
		if got := credential.DefaultDue(tt.kind, tt.facts, now); !got.Equal(tt.want) {
			t.Errorf("%s: DefaultDue = %v, want %v", tt.name, got, tt.want)
		}
	}
}
