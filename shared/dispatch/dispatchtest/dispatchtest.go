// Package dispatchtest wires a dispatch.Sender to a bbolt store and to the
// fake Apple and Google servers, for the tests of the send path.
package dispatchtest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/clientpool"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/h2client"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// Notes is a fake dispatch.Notifier that records what would be published.
type Notes struct {
	Mu      sync.Mutex
	Invalid map[push.Platform][]string // dead tokens per platform
	Faults  []string                   // "platform:reason" per credential fault
}

func (n *Notes) InvalidTokens(_ context.Context, _ credential.App, p push.Platform, tokens []string) error {
	n.Mu.Lock()
	defer n.Mu.Unlock()
	n.Invalid[p] = append(n.Invalid[p], tokens...)
	return nil
}

func (n *Notes) CredentialInvalid(_ context.Context, _ credential.App, p push.Platform, reason string) error {
	n.Mu.Lock()
	defer n.Mu.Unlock()
	n.Faults = append(n.Faults, string(p)+":"+reason)
	return nil
}

// NewNotes returns an empty Notes.
func NewNotes() *Notes { return &Notes{Invalid: map[push.Platform][]string{}} }

// NewStore returns a credential service over a fresh bbolt file, closed
// when the test ends.
func NewStore(t testing.TB) *credential.Service {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "d.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return credential.NewService(credential.Config{Meta: st, Secrets: st})
}

// Rig is a Sender over a bbolt store, with a fake Apple (strict trust:
// only the test Apple root) and a fake Google, and one app (tenant
// "acme", id "shop", bundle com.acme.app, project acme-push) holding a
// certificate and a service-account key.
type Rig struct {
	Store  *credential.Service
	Apple  *apnstest.Server
	Google *fcmtest.Server
	Sender *dispatch.Sender
	Notes  *Notes
	App    credential.App
	Cert   *testcred.Identity
	// Stack is the HTTP/2 stack of the rig's provider clients.
	Stack h2client.Stack
}

// NewRig builds a Rig on the lean HTTP/2 client; everything is closed
// when the test ends.
func NewRig(t testing.TB) *Rig {
	t.Helper()
	return NewRigOn(t, h2client.Lean)
}

// NewRigOn builds a Rig whose provider clients use the HTTP/2 stack s.
func NewRigOn(t testing.TB, s h2client.Stack) *Rig {
	t.Helper()
	r := &Rig{Store: NewStore(t), Notes: NewNotes(), Stack: s}
	r.Apple = apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{Environment: push.Production, ClientCAs: apnstest.TrustAppleWWDR(t)}})
	r.Google = fcmtest.NewServer(t, fcmtest.Options{RecordMessages: true, RecordSent: true})
	pool := r.Clients()
	t.Cleanup(pool.Close)

	r.App, r.Cert = r.AddApp(t, "shop")
	r.Sender = r.NewSender("worker-1")
	return r
}

// AddApp registers app id of tenant "acme" (bundle com.acme.app, FCM
// project acme-push) with a fresh certificate from the test Apple CA and
// a fresh service-account key (client email <id>@acme-push...) the fake
// Google knows.
func (r *Rig) AddApp(t testing.TB, id string) (credential.App, *testcred.Identity) {
	t.Helper()
	ca, err := testcred.AppleWWDR()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssuePush(testcred.PushCert{BundleID: "com.acme.app"})
	if err != nil {
		t.Fatal(err)
	}
	chain, key, err := cert.PEM()
	if err != nil {
		t.Fatal(err)
	}
	sa, err := testcred.ServiceAccount{ProjectID: "acme-push", ClientEmail: id + "@acme-push.iam.gserviceaccount.com"}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Google.AddServiceAccount(sa); err != nil {
		t.Fatal(err)
	}
	app, err := r.Store.Create(context.Background(), credential.CreateRequest{
		Tenant: "acme", ID: id, Name: id, Enabled: true, Environment: push.Production,
		APNs: &credential.Upload{
			Material: credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(key)},
			Facts:    credential.Facts{BundleID: "com.acme.app", NotAfter: cert.Cert.NotAfter},
		},
		FCM: &credential.Upload{Material: credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted(sa)}, Facts: credential.Facts{ProjectID: "acme-push"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return app, cert
}

// Clients returns a pool of provider clients pointed at the rig's fakes.
func (r *Rig) Clients() *clientpool.Pool {
	return clientpool.New(clientpool.Config{
		APNs:        apns.Config{ProductionURL: r.Apple.URL, SandboxURL: r.Apple.URL, RootCAs: r.Apple.RootCAs},
		FCM:         fcm.Config{Endpoint: r.Google.URL, TokenURL: r.Google.TokenURL, RootCAs: r.Google.RootCAs},
		HTTP2Client: r.Stack,
	})
}

// NewSender returns another Sender (another worker) over the same store
// and fakes, with its own client cache and a metadata cache of 1 ms.
func (r *Rig) NewSender(owner string) *dispatch.Sender {
	cache := credential.NewCache(r.Store, credential.CacheConfig{TTL: time.Millisecond})
	pool := r.Clients()
	return dispatch.New(dispatch.Config{Apps: cache, Ledger: r.Store, Suspender: r.Store, Clients: pool, Notifier: r.Notes, Owner: owner, LeaseFor: time.Minute, MaxAttempts: 3})
}

// HexToken is a well-formed APNs device token for i.
func HexToken(i int) string { return fmt.Sprintf("%064x", i+1) }

// Message is a v1 message of the rig's app to the given tokens.
func Message(id string, apnsTokens, fcmTokens []string) *push.Message {
	return &push.Message{Version: 1, Tenant: "acme", AppID: "shop", MessageID: id,
		Tokens:       push.Tokens{APNs: apnsTokens, FCM: fcmTokens},
		Notification: push.Notification{Title: "Sale", Body: "50% off"}}
}
