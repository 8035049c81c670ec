package apns_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	keys, err := testcred.RSAKeys(2)
	if err != nil {
		t.Fatal(err)
	}
	return keys[1]
}

func chainOf(t *testing.T, id *testcred.Identity) []byte {
	t.Helper()
	chain, _, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	return chain
}

func keyOf(t *testing.T, id *testcred.Identity) []byte {
	t.Helper()
	_, key, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestLiveCheck proves every live code (docs/ARCHITECTURE.md, Live check) against the fake.
func TestLiveCheck(t *testing.T) {
	t.Parallel()
	universal := apnstest.IssuePush(t, testcred.PushCert{})
	sandboxOnly := apnstest.IssuePush(t, testcred.PushCert{Environment: testcred.SandboxOnly})
	stranger, err := testcred.NewRoot(pkix.Name{CommonName: "Not Apple"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := stranger.IssuePush(testcred.PushCert{Key: mustRSA(t)})
	if err != nil {
		t.Fatal(err)
	}
	key, unknownKey := ecKey(t), ecKey(t)

	trusted := apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}
	strict := apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), RejectUnknownDevices: true}
	sandbox := apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Environment: push.Sandbox}
	stale := apnstest.Config{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}

	tests := []struct {
		name       string
		srv        apnstest.Config
		auth       apns.Auth
		env        push.Environment
		topic      string
		script     *apnstest.Response
		closed     bool
		wantCode   push.LiveCode
		wantReason string
	}{
		{"accepted (200)", trusted, certAuth(t, universal), push.Production, bundle, nil, false, push.LiveOK, ""},
		{"accepted (BadDeviceToken)", strict, certAuth(t, universal), push.Production, bundle, nil, false, push.LiveOK, "BadDeviceToken"},
		{"sandbox certificate on sandbox", sandbox, certAuth(t, sandboxOnly), push.Sandbox, bundle, nil, false, push.LiveOK, ""},
		{"sandbox certificate on production", trusted, certAuth(t, sandboxOnly), push.Production, bundle, nil, false, push.EnvironmentRejected, "BadCertificateEnvironment"},
		{"bundle not in certificate", trusted, certAuth(t, universal), push.Production, "com.other.app", nil, false, push.TopicNotAllowed, "TopicDisallowed"},
		{"BadTopic", trusted, certAuth(t, universal), push.Production, bundle, &apnstest.Response{Status: 400, Reason: "BadTopic"}, false, push.TopicNotAllowed, "BadTopic"},
		{"revoked (BadCertificate)", trusted, certAuth(t, universal), push.Production, bundle, &apnstest.Response{Status: 403, Reason: "BadCertificate"}, false, push.CertificateRejected, "BadCertificate"},
		{"unknown issuer (TLS alert)", trusted, certAuth(t, foreign), push.Production, bundle, nil, false, push.CertificateRejected, "tls: bad certificate"},
		{"token accepted", trusted, tokenAuth(t, key, keyID, teamID), push.Production, bundle, nil, false, push.LiveOK, ""},
		{"token with unknown key", trusted, tokenAuth(t, unknownKey, "UNKNOWN123", teamID), push.Production, bundle, nil, false, push.ProviderTokenRejected, "InvalidProviderToken"},
		{"token of another team", trusted, tokenAuth(t, key, keyID, "OTHERTEAM1"), push.Production, bundle, nil, false, push.ProviderTokenRejected, "InvalidProviderToken"},
		{"token expired even after refresh", stale, tokenAuth(t, key, keyID, teamID), push.Production, bundle, nil, false, push.ProviderTokenRejected, "ExpiredProviderToken"},
		{"token: topic of another team", trusted, tokenAuth(t, key, keyID, teamID), push.Production, "com.other.app", nil, false, push.TopicNotAllowed, "TopicDisallowed"},
		{"gateway unavailable", trusted, certAuth(t, universal), push.Production, bundle, &apnstest.Response{Status: 503, Reason: "ServiceUnavailable"}, false, push.LiveUnreachable, "ServiceUnavailable"},
		{"gateway down", trusted, certAuth(t, universal), push.Production, bundle, nil, true, push.LiveUnreachable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := apnstest.Start(t, apnstest.ServerConfig{Config: tt.srv})
			s.RegisterKey(teamID, keyID, &key.PublicKey)
			s.AllowTopics(teamID, bundle)
			if tt.script != nil {
				s.Script(apns.ProbeDeviceToken, *tt.script)
			}
			cfg := config(s)
			if tt.closed {
				_ = s.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := apns.LiveCheck(ctx, cfg, tt.auth, tt.env, tt.topic)
			if err != nil {
				t.Fatalf("LiveCheck: %v", err)
			}
			if got.Code != tt.wantCode || got.ProviderReason != tt.wantReason {
				t.Errorf("got %s %q, want %s %q (%s)", got.Code, got.ProviderReason, tt.wantCode, tt.wantReason, got.Message)
			}
			if got.Message == "" {
				t.Error("no message for the admin")
			}
			b, _ := json.Marshal(got)
			if strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), "BEGIN") {
				t.Errorf("result carries material: %s", b)
			}
			if !tt.closed && tt.script == nil {
				if last, ok := s.Last(); ok && (last.PushType != "background" || last.Token != apns.ProbeDeviceToken) {
					t.Errorf("probe sent as %q to %s", last.PushType, apns.Redact(last.Token))
				}
			}
		})
	}
}

func TestLiveCheckUntrustedGateway(t *testing.T) {
	t.Parallel()
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{AcceptAnyIssuer: true}})
	cfg := config(s)
	cfg.RootCAs = x509.NewCertPool() // trusts nothing: not Apple, not the fake
	got, err := apns.LiveCheck(context.Background(), cfg, certAuth(t, apnstest.IssuePush(t, testcred.PushCert{})), push.Production, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if got.Code != push.LiveUnreachable || !strings.Contains(got.Message, "trusted roots") {
		t.Errorf("got %+v", got)
	}
}

func TestLiveCheckBadMaterial(t *testing.T) {
	t.Parallel()
	_, err := apns.LiveCheck(context.Background(), apns.Config{}, apns.TokenAuth(push.NewRedacted([]byte("nope")), keyID, teamID), push.Production, bundle)
	if !push.Is(err, push.Invalid) {
		t.Errorf("err %v, want Invalid", err)
	}
}
