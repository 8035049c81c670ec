package apnstest_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sideshow/apns2"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

func TestCertificateClientApns2(t *testing.T) {
	t.Parallel()
	universal := apnstest.IssuePush(t, testcred.PushCert{})
	sandboxOnly := apnstest.IssuePush(t, testcred.PushCert{Environment: testcred.SandboxOnly})
	productionOnly := apnstest.IssuePush(t, testcred.PushCert{Environment: testcred.ProductionOnly})
	single := apnstest.IssuePush(t, testcred.PushCert{BundleID: "com.single.app", Topics: []string{"com.single.app"}})
	noPush := apnstest.IssuePush(t, testcred.PushCert{Environment: testcred.NoPushExtensions})

	prod := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	sand := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Environment: push.Sandbox}})

	big := []byte(`{"aps":{"alert":"` + strings.Repeat("x", 4100) + `"}}`)
	voipOK := []byte(`{"aps":{},"x":"` + strings.Repeat("x", 4500) + `"}`)
	tests := []struct {
		name       string
		srv        *apnstest.Server
		id         *testcred.Identity
		edit       func(n *apns2.Notification)
		wantStatus int
		wantReason string
	}{
		{"accepted", prod, universal, nil, 200, ""},
		{"sandbox host accepts universal", sand, universal, nil, 200, ""},
		{"voip topic", prod, universal, func(n *apns2.Notification) { n.Topic = bundle + ".voip"; n.PushType = apns2.PushTypeVOIP }, 200, ""},
		{"topic not in certificate", prod, universal, func(n *apns2.Notification) { n.Topic = "com.other.app" }, 400, "TopicDisallowed"},
		{"missing topic with multi-topic certificate", prod, universal, func(n *apns2.Notification) { n.Topic = "" }, 400, "MissingTopic"},
		{"missing topic with single-topic certificate", prod, single, func(n *apns2.Notification) { n.Topic = "" }, 200, ""},
		{"sandbox-only certificate on production", prod, sandboxOnly, nil, 403, "BadCertificateEnvironment"},
		{"production-only certificate on sandbox", sand, productionOnly, nil, 403, "BadCertificateEnvironment"},
		{"production-only certificate on production", prod, productionOnly, nil, 200, ""},
		{"certificate without push extensions", prod, noPush, nil, 403, "BadCertificateEnvironment"},
		{"payload over 4096 bytes", prod, universal, func(n *apns2.Notification) { n.Payload = big }, 413, "PayloadTooLarge"},
		{"voip payload up to 5120 bytes", prod, universal, func(n *apns2.Notification) {
			n.Topic, n.PushType, n.Payload = bundle+".voip", apns2.PushTypeVOIP, voipOK
		}, 200, ""},
		{"short token", prod, universal, func(n *apns2.Notification) { n.DeviceToken = "abc123" }, 400, "BadDeviceToken"},
		{"non-hex token", prod, universal, func(n *apns2.Notification) { n.DeviceToken = strings.Repeat("zz", 32) }, 400, "BadDeviceToken"},
		{"invalid push type", prod, universal, func(n *apns2.Notification) { n.PushType = "shout" }, 400, "InvalidPushType"},
		{"bad priority", prod, universal, func(n *apns2.Notification) { n.Priority = 7 }, 400, "BadPriority"},
		{"collapse id over 64 bytes", prod, universal, func(n *apns2.Notification) { n.CollapseID = strings.Repeat("c", 65) }, 400, "BadCollapseId"},
		{"collapse id of 64 bytes", prod, universal, func(n *apns2.Notification) { n.CollapseID = strings.Repeat("c", 64) }, 200, ""},
		{"bad apns-id", prod, universal, func(n *apns2.Notification) { n.ApnsID = "not-a-uuid" }, 400, "BadMessageId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := note()
			if tt.edit != nil {
				tt.edit(n)
			}
			got := mustPush(t, certClient(t, tt.srv, tt.id), n)
			if got.StatusCode != tt.wantStatus || got.Reason != tt.wantReason {
				t.Errorf("got %d %q, want %d %q", got.StatusCode, got.Reason, tt.wantStatus, tt.wantReason)
			}
			if got.ApnsID == "" {
				t.Error("no apns-id in the answer")
			}
		})
	}
}

func TestRawRequests(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	hc := rawClient(s, tlsCert(id))
	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		wantStatus int
		wantReason string
	}{
		{"GET", http.MethodGet, "/3/device/" + devTok, nil, 405, "MethodNotAllowed"},
		{"bad path", http.MethodPost, "/2/device/" + devTok, nil, 404, "BadPath"},
		{"no token", http.MethodPost, "/3/device/", nil, 400, "MissingDeviceToken"},
		{"negative expiration", http.MethodPost, "/3/device/" + devTok, map[string]string{"apns-expiration": "-5"}, 400, "BadExpirationDate"},
		{"text expiration", http.MethodPost, "/3/device/" + devTok, map[string]string{"apns-expiration": "tomorrow"}, 400, "BadExpirationDate"},
		{"priority 1", http.MethodPost, "/3/device/" + devTok, map[string]string{"apns-priority": "1"}, 200, ""},
		{"priority text", http.MethodPost, "/3/device/" + devTok, map[string]string{"apns-priority": "high"}, 400, "BadPriority"},
		{"empty payload", http.MethodPost, "/3/device/" + devTok, map[string]string{"x-body": ""}, 400, "PayloadEmpty"},
		{"bad topic", http.MethodPost, "/3/device/" + devTok, map[string]string{"apns-topic": "com.example app"}, 400, "BadTopic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := payload
			if b, ok := tt.header["x-body"]; ok {
				body = b
			}
			req, _ := http.NewRequest(tt.method, s.URL+tt.path, strings.NewReader(body))
			req.Header.Set("apns-topic", bundle)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var wantBody string
			if tt.wantReason != "" {
				wantBody = `{"reason":"` + tt.wantReason + `"}`
			}
			if res.StatusCode != tt.wantStatus || string(got) != wantBody {
				t.Errorf("got %d %s, want %d %s", res.StatusCode, got, tt.wantStatus, wantBody)
			}
		})
	}
}

func TestClientCertificateTrust(t *testing.T) {
	t.Parallel()
	stranger, err := testcred.NewRoot(pkix.Name{CommonName: "Not Apple"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := stranger.IssuePush(testcred.PushCert{})
	if err != nil {
		t.Fatal(err)
	}
	expired := apnstest.IssuePush(t, testcred.PushCert{NotBefore: time.Now().Add(-400 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	good := apnstest.IssuePush(t, testcred.PushCert{})

	trusted := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	anyIssuer := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{AcceptAnyIssuer: true}})
	nobody := apnstest.Start(t, apnstest.ServerConfig{})

	tests := []struct {
		name      string
		srv       *apnstest.Server
		id        *testcred.Identity
		topic     string
		wantAlert bool
		want      string // reason when answered
	}{
		{"trusted issuer", trusted, good, bundle, false, ""},
		{"unknown issuer", trusted, foreign, bundle, true, ""},
		{"expired", trusted, expired, bundle, true, ""},
		{"any issuer: foreign accepted", anyIssuer, foreign, bundle, false, ""},
		{"any issuer: still checks topics", anyIssuer, foreign, "com.other", false, "TopicDisallowed"},
		{"any issuer: still checks dates", anyIssuer, expired, bundle, true, ""},
		{"no trust configured", nobody, good, bundle, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := note()
			n.Topic = tt.topic
			r, err := certClient(t, tt.srv, tt.id).Push(n)
			if tt.wantAlert {
				if !isAlert(err) {
					t.Fatalf("got %v, %v; want a TLS alert", r, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if r.Reason != tt.want {
				t.Errorf("reason %q, want %q", r.Reason, tt.want)
			}
		})
	}
}

func TestRevokeMidConnection(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	c := certClient(t, s, id)
	if r := mustPush(t, c, note()); r.StatusCode != 200 {
		t.Fatalf("before revocation: %d %s", r.StatusCode, r.Reason)
	}
	s.Revoke(id.Cert)
	if r := mustPush(t, c, note()); r.StatusCode != 403 || r.Reason != "BadCertificate" {
		t.Errorf("open connection after revocation: %d %q, want 403 BadCertificate", r.StatusCode, r.Reason)
	}
	if _, err := certClient(t, s, id).Push(note()); !isAlert(err) {
		t.Errorf("new connection after revocation: %v, want a TLS alert", err)
	}
}

func TestTokenClientApns2(t *testing.T) {
	t.Parallel()
	key, other := ecKey(t), ecKey(t)
	s := apnstest.Start(t, apnstest.ServerConfig{})
	s.RegisterKey(teamID, keyID, &key.PublicKey)
	s.AllowTopics(teamID, bundle, bundle+".voip")

	t.Run("valid token", func(t *testing.T) {
		c, _ := tokenClient(t, s, key, keyID, teamID)
		if r := mustPush(t, c, note()); r.StatusCode != 200 {
			t.Errorf("got %d %q", r.StatusCode, r.Reason)
		}
	})
	tests := []struct {
		name       string
		key        *ecdsa.PrivateKey
		kid, team  string
		topic      string
		bearer     func() string // overrides the generated token
		wantStatus int
		wantReason string
	}{
		{"unknown key id", key, "OTHERKEY00", teamID, bundle, nil, 403, "InvalidProviderToken"},
		{"wrong signature", other, keyID, teamID, bundle, nil, 403, "InvalidProviderToken"},
		{"topic of another team", key, keyID, teamID, "com.other.app", nil, 400, "TopicDisallowed"},
		{"missing topic", key, keyID, teamID, "", nil, 400, "MissingTopic"},
		{"older than an hour", key, keyID, teamID, bundle, func() string {
			return signJWT(t, key, keyID, teamID, time.Now().Add(-61*time.Minute))
		}, 403, "ExpiredProviderToken"},
		{"not a JWT", key, keyID, teamID, bundle, func() string { return "abc.def" }, 403, "InvalidProviderToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, tok := tokenClient(t, s, tt.key, tt.kid, tt.team)
			if tt.bearer != nil {
				tok.Bearer, tok.IssuedAt = tt.bearer(), time.Now().Unix()
			}
			n := note()
			n.Topic = tt.topic
			r := mustPush(t, c, n)
			if r.StatusCode != tt.wantStatus || r.Reason != tt.wantReason {
				t.Errorf("got %d %q, want %d %q", r.StatusCode, r.Reason, tt.wantStatus, tt.wantReason)
			}
		})
	}
	t.Run("no credential at all", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/3/device/"+devTok, strings.NewReader(payload))
		req.Header.Set("apns-topic", bundle)
		res, err := rawClient(s).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 403 || string(body) != `{"reason":"MissingProviderToken"}` {
			t.Errorf("got %d %s", res.StatusCode, body)
		}
	})
	t.Run("refreshed within 20 minutes", func(t *testing.T) {
		c, tok := tokenClient(t, s, key, keyID, teamID)
		tok.Bearer, tok.IssuedAt = signJWT(t, key, keyID, teamID, time.Now().Add(-10*time.Minute)), time.Now().Unix()
		if r := mustPush(t, c, note()); r.StatusCode != 200 {
			t.Fatalf("first token: %d %q", r.StatusCode, r.Reason)
		}
		tok.Bearer = signJWT(t, key, keyID, teamID, time.Now())
		if r := mustPush(t, c, note()); r.StatusCode != 429 || r.Reason != "TooManyProviderTokenUpdates" {
			t.Errorf("second token: %d %q, want 429 TooManyProviderTokenUpdates", r.StatusCode, r.Reason)
		}
	})
	t.Run("declared expired, then replaced", func(t *testing.T) {
		k := ecKey(t)
		s.RegisterKey(teamID, "EXPIRE0001", &k.PublicKey)
		c, tok := tokenClient(t, s, k, "EXPIRE0001", teamID)
		mustPush(t, c, note())
		s.ExpireTokens(teamID, "EXPIRE0001")
		if r := mustPush(t, c, note()); r.Reason != "ExpiredProviderToken" {
			t.Fatalf("after ExpireTokens: %d %q", r.StatusCode, r.Reason)
		}
		if _, err := tok.Generate(); err != nil {
			t.Fatal(err)
		}
		if r := mustPush(t, c, note()); r.StatusCode != 200 {
			t.Errorf("fresh token: %d %q, want 200", r.StatusCode, r.Reason)
		}
		if got := s.ProviderTokens(teamID, "EXPIRE0001"); got != 2 {
			t.Errorf("ProviderTokens = %d, want 2", got)
		}
	})
}

func TestTokenAcceptAnyIssuer(t *testing.T) {
	t.Parallel()
	key := ecKey(t)
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{AcceptAnyIssuer: true}})
	c, _ := tokenClient(t, s, key, keyID, teamID)
	if r := mustPush(t, c, note()); r.StatusCode != 200 {
		t.Fatalf("unknown key in accept-any mode: %d %q", r.StatusCode, r.Reason)
	}
	c2, tok2 := tokenClient(t, s, key, keyID, teamID)
	tok2.Bearer, tok2.IssuedAt = signJWT(t, key, keyID, teamID, time.Now().Add(-2*time.Hour)), time.Now().Unix()
	if r := mustPush(t, c2, note()); r.Reason != "ExpiredProviderToken" {
		t.Errorf("old token in accept-any mode: %d %q, want ExpiredProviderToken", r.StatusCode, r.Reason)
	}
}

func TestScriptsAndCounts(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Environment: push.Sandbox}})
	c := certClient(t, s, id)
	gone := time.UnixMilli(1700000000000)
	s.Script(devTok, apnstest.Response{Status: 429, Reason: "TooManyRequests"}, apnstest.Response{Status: 429, Reason: "TooManyRequests"})
	other := strings.Repeat("ab", 32)
	s.Script(other, apnstest.Response{Status: 410, Reason: "Unregistered", Timestamp: gone})

	var got []string
	for range 3 {
		r := mustPush(t, c, note())
		got = append(got, r.Reason)
		if r.ApnsUniqueID == "" {
			t.Error("sandbox answer without apns-unique-id")
		}
	}
	if want := []string{"TooManyRequests", "TooManyRequests", ""}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("sequence %q, want %q", got, want)
	}
	n := note()
	n.DeviceToken = other
	n.ApnsID = "123e4567-e89b-12d3-a456-426655440000"
	r := mustPush(t, c, n)
	if r.StatusCode != 410 || r.Reason != "Unregistered" || !r.Timestamp.Equal(gone) || r.ApnsID != n.ApnsID {
		t.Errorf("410: got %d %q %v %q", r.StatusCode, r.Reason, r.Timestamp, r.ApnsID)
	}

	s.ScriptCredential(apnstest.CertificateID(id.Cert), apnstest.Response{Status: 403, Reason: "BadCertificate"})
	if r := mustPush(t, c, note()); r.Reason != "BadCertificate" {
		t.Errorf("credential script: %q", r.Reason)
	}

	cnt := s.Counts()
	if cnt.Total != 5 || cnt.ByStatus[200] != 1 || cnt.ByStatus[429] != 2 || cnt.ByToken[devTok] != 4 || cnt.ByToken[other] != 1 ||
		cnt.ByID[n.ApnsID] != 1 || cnt.ByCredential[apnstest.CertificateID(id.Cert)] != 5 || cnt.ByReason["Unregistered"] != 1 {
		t.Errorf("counts %+v", cnt)
	}
	last, ok := s.Last()
	if !ok || last.Token != devTok || last.Topic != bundle || !bytes.Equal(last.Payload, []byte(payload)) || last.PushType != "alert" {
		t.Errorf("last %+v", last)
	}
	if lf, _ := s.LastFor(other); lf.ID != n.ApnsID || lf.Status != 410 {
		t.Errorf("LastFor %+v", lf)
	}
	if got := len(s.Requests()); got != 5 {
		t.Errorf("Requests: %d, want 5", got)
	}
}

func TestAbortAndInject(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t),
		Inject: func(r apnstest.Request) (apnstest.Response, bool) {
			if strings.HasPrefix(r.Token, "5005") {
				return apnstest.Response{Status: 503, Reason: "ServiceUnavailable"}, true
			}
			return apnstest.Response{}, false
		}}})
	c := certClient(t, s, id)
	s.Script(devTok, apnstest.Response{Abort: apnstest.AbortAfterRead}, apnstest.Response{Abort: apnstest.AbortBeforeRead})
	n := note()
	n.ApnsID = "123e4567-e89b-12d3-a456-426655440001"
	if _, err := c.Push(n); err == nil {
		t.Error("AbortAfterRead: no error")
	}
	if _, err := c.Push(n); err == nil {
		t.Error("AbortBeforeRead: no error")
	}
	if r := mustPush(t, c, n); r.StatusCode != 200 {
		t.Errorf("after the script: %d", r.StatusCode)
	}
	n.DeviceToken = "5005" + devTok[4:]
	if r := mustPush(t, c, n); r.StatusCode != 503 || r.Reason != "ServiceUnavailable" {
		t.Errorf("inject: %d %q", r.StatusCode, r.Reason)
	}
	cnt := s.Counts()
	if cnt.Aborted != 2 || cnt.ByToken[devTok] != 2 || cnt.ByID[n.ApnsID] != 3 || cnt.Total != 2 {
		t.Errorf("counts %+v", cnt)
	}
}

func TestConcurrentApns2AndConnections(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Latency: 5 * time.Millisecond}})
	c := certClient(t, s, id)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			r, err := c.Push(note())
			if err == nil && r.StatusCode != 200 {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Total(); got != 200 {
		t.Errorf("Total = %d, want 200", got)
	}
	if got := s.Connections(); got < 1 || got > 3 {
		t.Errorf("Connections = %d, want 1..3 (HTTP/2 multiplexing)", got)
	}
}

// TestLeafOnlyClientCertificate: a leaf presented without its chain (a
// Keychain export, Apple's aps.cer) verifies only when the gateway knows
// the intermediate itself, as Apple does.
func TestLeafOnlyClientCertificate(t *testing.T) {
	t.Parallel()
	leafOnly := *apnstest.IssuePush(t, testcred.PushCert{})
	leafOnly.Chain = nil
	rootOnly := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	knowing := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t), Intermediates: apnstest.AppleIntermediates(t)}})
	if r, err := certClient(t, rootOnly, &leafOnly).Push(note()); !isAlert(err) {
		t.Errorf("without known intermediates: %v, %v; want a TLS alert", r, err)
	}
	r, err := certClient(t, knowing, &leafOnly).Push(note())
	if err != nil || r.StatusCode != 200 {
		t.Errorf("with the intermediate known: %v, %v", r, err)
	}
}
