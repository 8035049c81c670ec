package registry

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

func TestMaterialSplitsTheP12Chain(t *testing.T) {
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	id, err := ca.IssuePush(testcred.PushCert{})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := id.P12(pkcs12.LegacyRC2, "p12-password-not-stored", true)
	if err != nil {
		t.Fatal(err)
	}
	r := (&certinfo.Inspector{}).P12(p12, certinfo.P12Request{Password: "p12-password-not-stored"})
	m, err := material(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  bool
	}{
		{"kind", m.Kind == push.APNsP12},
		{"chain holds two certificates", bytes.Count(m.CertificateChainPEM.Reveal(), []byte("BEGIN CERTIFICATE")) == 2},
		{"chain holds no key", !bytes.Contains(m.CertificateChainPEM.Reveal(), []byte("PRIVATE KEY"))},
		{"key is PKCS#8", bytes.HasPrefix(m.PrivateKeyPEM.Reveal(), []byte("-----BEGIN PRIVATE KEY-----"))},
		{"password is not stored", !bytes.Contains(append(m.CertificateChainPEM.Reveal(), m.PrivateKeyPEM.Reveal()...), []byte("p12-password-not-stored"))},
	}
	for _, tt := range tests {
		if !tt.got {
			t.Errorf("%s: no", tt.name)
		}
	}
}

func TestLiveEnvironment(t *testing.T) {
	tests := []struct {
		asked push.Environment
		cert  string
		want  push.Environment
	}{
		{push.Sandbox, "both", push.Sandbox},
		{"", "sandbox", push.Sandbox},
		{"", "production", push.Production},
		{"", "both", push.Production},
		{"", "", push.Production},
	}
	for _, tt := range tests {
		r := &certinfo.Report{}
		r.Environment = tt.cert
		if got := liveEnvironment(tt.asked, r); got != tt.want {
			t.Errorf("liveEnvironment(%q, %q) = %q, want %q", tt.asked, tt.cert, got, tt.want)
		}
	}
}

func TestRejectionCarriesCodeAndMessage(t *testing.T) {
	r := (&certinfo.Inspector{}).ServiceAccount([]byte(`{"project_info":{}}`))
	err := fmt.Errorf("create: %w", reject("registry.Create", &Rejection{Platform: push.FCM, Report: r}))
	var rej *Rejection
	if !errors.As(err, &rej) || push.KindOf(err) != push.Unprocessable || push.CodeOf(err) != "wrong_type" {
		t.Fatalf("err = %v (kind %v, code %s)", err, push.KindOf(err), push.CodeOf(err))
	}
	if rej.Message() == "" || rej.Code() != "wrong_type" {
		t.Errorf("rejection = %q %q", rej.Code(), rej.Message())
	}
	live := &Rejection{Platform: push.APNs, Report: &certinfo.Report{OK: true, Code: certinfo.OK}, Live: &push.LiveResult{Code: push.TopicNotAllowed, Message: "m"}}
	if live.Code() != "topic_not_allowed" || live.Message() != "m" {
		t.Errorf("live rejection = %q %q", live.Code(), live.Message())
	}
}
