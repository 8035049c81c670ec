// Package clientpool builds APNs and FCM clients from stored credential
// material and keeps them per credential: one APNs client per
// (credential, environment) and one FCM client per credential, reused
// across requests and Lambda invocations (Apple treats rapid reconnects as an attack; a warm HTTP/2
// connection is most of FCM's speed). It implements the registry's live
// check and test push on top of shared/apns and shared/fcm, and is the
// client source of the sender (dispatch.Clients, in sender.go).
package clientpool

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"firebase.google.com/go/v4/messaging"

	"mobilepush/shared/apns"
	"mobilepush/shared/credential"
	"mobilepush/shared/fcm"
	"mobilepush/shared/h2client"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

// DefaultMaxClients bounds the clients kept; the least recently used is
// closed when more are needed.
const DefaultMaxClients = 256

// Config is where the providers are, which HTTP/2 stack reaches them
// and how many clients to keep.
type Config struct {
	APNs       apns.Config
	FCM        fcm.Config
	MaxClients int
	// HTTP2Client, when set, is the HTTP/2 stack of every client the Pool
	// builds (it overrides APNs.HTTP2Client and FCM.HTTP2Client):
	// h2client.Lean or h2client.Std.
	HTTP2Client h2client.Stack
}

// Pool builds and caches provider clients. It is safe for concurrent
// use.
type Pool struct {
	cfg Config

	mu    sync.Mutex
	lru   *list.List // of *entry, most recent first
	byKey map[key]*list.Element
}

var (
	_ registry.Prover     = (*Pool)(nil)
	_ registry.TestPusher = (*Pool)(nil)
)

// key identifies a client: a digest of the material (so a rotated
// credential gets a new client and the old one ages out) and, for APNs,
// the environment.
type key struct {
	digest [32]byte
	env    push.Environment
}

type entry struct {
	key  key
	apns *apns.Client
	fcm  *fcm.Client
}

// New returns a Pool for cfg.
func New(cfg Config) *Pool {
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.HTTP2Client != "" {
		cfg.APNs.HTTP2Client, cfg.FCM.HTTP2Client = cfg.HTTP2Client, cfg.HTTP2Client
	}
	return &Pool{cfg: cfg, lru: list.New(), byKey: map[key]*list.Element{}}
}

func digest(m credential.Material) ([32]byte, error) {
	v, err := m.Encode()
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(v.Reveal()), nil
}

// APNsClient returns the cached client of m for env, building it on
// first use. Errors: Invalid (m is not an APNs credential), Unprocessable
// or Internal (the material does not load).
func (g *Pool) APNsClient(m credential.Material, env push.Environment) (*apns.Client, error) {
	const op = "clientpool.APNs"
	var auth apns.Auth
	switch m.Kind {
	case push.APNsP12:
		auth = apns.CertificateAuth(m.CertificateChainPEM, m.PrivateKeyPEM)
	case push.APNsP8:
		auth = apns.TokenAuth(m.PrivateKeyPEM, m.KeyID, m.TeamID)
	default:
		return nil, push.E(op, push.Invalid, fmt.Errorf("credential kind %q is not APNs", m.Kind))
	}
	d, err := digest(m)
	if err != nil {
		return nil, push.E(op, push.Other, err)
	}
	e, err := g.get(key{d, env}, func() (*entry, error) {
		c, err := apns.NewClient(g.cfg.APNs, auth, env)
		return &entry{apns: c}, err
	})
	if err != nil {
		return nil, push.E(op, push.Other, fmt.Errorf("build APNs client: %w", err))
	}
	return e.apns, nil
}

// FCMClient returns the cached client of m, building it on first use.
// Errors: Invalid (m is not a service account), Unprocessable or Internal.
func (g *Pool) FCMClient(ctx context.Context, m credential.Material) (*fcm.Client, error) {
	const op = "clientpool.FCM"
	if m.Kind != push.FCMJSON {
		return nil, push.E(op, push.Invalid, fmt.Errorf("credential kind %q is not FCM", m.Kind))
	}
	d, err := digest(m)
	if err != nil {
		return nil, push.E(op, push.Other, err)
	}
	e, err := g.get(key{digest: d}, func() (*entry, error) {
		c, err := fcm.New(context.WithoutCancel(ctx), m.ServiceAccountJSON, g.cfg.FCM)
		return &entry{fcm: c}, err
	})
	if err != nil {
		return nil, push.E(op, push.Other, fmt.Errorf("build FCM client: %w", err))
	}
	return e.fcm, nil
}

// get returns the entry of k, building it with build on a miss. Building
// happens under the lock: it is local work (no network), and it keeps two
// callers from opening two clients for one credential.
func (g *Pool) get(k key, build func() (*entry, error)) (*entry, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if el, ok := g.byKey[k]; ok {
		g.lru.MoveToFront(el)
		return el.Value.(*entry), nil
	}
	e, err := build()
	if err != nil {
		return nil, err
	}
	e.key = k
	g.byKey[k] = g.lru.PushFront(e)
	for g.lru.Len() > g.cfg.MaxClients {
		old := g.lru.Back()
		g.lru.Remove(old)
		oe := old.Value.(*entry)
		delete(g.byKey, oe.key)
		oe.close()
	}
	return e, nil
}

func (e *entry) close() {
	if e.apns != nil {
		e.apns.Close()
	}
	if e.fcm != nil {
		e.fcm.Close()
	}
}

// Close closes every cached client.
func (g *Pool) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for el := g.lru.Front(); el != nil; el = el.Next() {
		el.Value.(*entry).close()
	}
	g.lru.Init()
	g.byKey = map[key]*list.Element{}
}

// Prove implements registry.Prover: the APNs live check on env for topic,
// or the FCM token + validate_only check.
func (g *Pool) Prove(ctx context.Context, m credential.Material, env push.Environment, topic string) push.LiveResult {
	switch m.Kind.Platform() {
	case push.APNs:
		c, err := g.APNsClient(m, env)
		if err != nil {
			return unusable(push.CertificateRejected, err)
		}
		return c.Check(ctx, topic)
	case push.FCM:
		c, err := g.FCMClient(ctx, m)
		if err != nil {
			return unusable(push.PermissionDenied, err)
		}
		return c.Check(ctx)
	}
	return unusable(push.CertificateRejected, errors.New("unknown credential kind"))
}

// unusable is the verdict on material that passed inspection yet cannot
// make a client: a rejection, so nothing unusable is stored.
func unusable(code push.LiveCode, err error) push.LiveResult {
	return push.LiveResult{Code: code, ProviderReason: "client_error", Message: "The credential could not be loaded for sending (" + push.MessageOf(err) + "). Export it again and upload the new file."}
}

// TestPush implements registry.TestPusher: one visible notification.
func (g *Pool) TestPush(ctx context.Context, m credential.Material, env push.Environment, topic string, msg registry.TestMessage) (registry.Answer, error) {
	switch m.Kind.Platform() {
	case push.APNs:
		c, err := g.APNsClient(m, env)
		if err != nil {
			return registry.Answer{}, err
		}
		payload, err := json.Marshal(map[string]any{"aps": map[string]any{"alert": map[string]string{"title": msg.Title, "body": msg.Body}, "sound": "default"}})
		if err != nil {
			return registry.Answer{}, err
		}
		resp, err := c.Push(ctx, apns.Notification{DeviceToken: msg.Token, Topic: topic, Payload: payload, PushType: "alert", Priority: 10})
		if err != nil {
			return registry.Answer{}, err
		}
		return registry.Answer{Platform: push.APNs, Status: resp.Status, Reason: resp.Reason, MessageID: resp.ID, Delivered: resp.Status == 200}, nil
	case push.FCM:
		c, err := g.FCMClient(ctx, m)
		if err != nil {
			return registry.Answer{}, err
		}
		res := c.Send(ctx, []*messaging.Message{{Token: msg.Token, Notification: &messaging.Notification{Title: msg.Title, Body: msg.Body}}})[0]
		v := res.Verdict
		ans := registry.Answer{Platform: push.FCM, Status: v.HTTPStatus, Reason: v.Reason, MessageID: res.MessageID, Delivered: v.Outcome == push.Delivered}
		if ans.Delivered && ans.Status == 0 {
			ans.Status = 200
		}
		return ans, nil
	}
	return registry.Answer{}, push.E("clientpool.TestPush", push.Invalid, fmt.Errorf("credential kind %q", m.Kind))
}
