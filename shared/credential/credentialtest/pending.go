package credentialtest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// pendingTests are the subtests of the pending APNs key (signing request).
var pendingTests = []struct {
	name string
	fn   func(t *testing.T, h *harness)
}{
	{"PendingCreateReplace", testPendingCreateReplace},
	{"PendingExpire", testPendingExpire},
	{"PendingConsume", testPendingConsume},
	{"PendingDiscard", testPendingDiscard},
	{"PendingCrashBetweenWrites", testPendingCrash},
	{"PendingDeleteApp", testPendingDeleteApp},
}

// signingRequest is a fake pending key: PEM-looking key bytes with a marker.
type signingRequest struct {
	req    credential.SigningRequest
	marker string
}

func newSigningRequest(ten, id string) signingRequest {
	m := secretText()
	return signingRequest{
		req: credential.SigningRequest{
			Tenant: ten, ID: id, Key: pem("PRIVATE KEY", m),
			CSRPEM:               "-----BEGIN CERTIFICATE REQUEST-----\nMIIC" + secretText()[6:20] + "\n-----END CERTIFICATE REQUEST-----\n",
			KeyFingerprintSHA256: secretText()[6:], CommonName: "App " + id, Email: "admin@example.com", Actor: "admin",
		},
		marker: m,
	}
}

func (h *harness) pending(sr signingRequest) credential.PendingKey {
	h.t.Helper()
	return must(h.svc.CreatePending(h.ctx, sr.req)).get(h.t)
}

func (h *harness) wantPendingKey(ten, id string, sr signingRequest, want credential.PendingKey) {
	h.t.Helper()
	got, key, err := h.svc.PendingPrivateKey(h.ctx, ten, id)
	if err != nil {
		h.t.Fatalf("PendingPrivateKey: %v", err)
	}
	if asJSON(h.t, got) != asJSON(h.t, want) {
		h.t.Fatalf("pending key = %s, want %s", asJSON(h.t, got), asJSON(h.t, want))
	}
	if string(key.Reveal()) != string(sr.req.Key.Reveal()) {
		h.t.Fatalf("the pending private key read back differs from the one stored")
	}
}

func testPendingCreateReplace(t *testing.T, h *harness) {
	ten := tenant(t)
	cur := newMaterial(push.APNsP12)
	app := h.create(ten, "csr", &cur, nil)
	_, err := h.svc.Pending(h.ctx, ten, "csr")
	wantKind(t, err, push.NotFound)

	first := newSigningRequest(ten, "csr")
	p1 := h.pending(first)
	if p1.CSRPEM != first.req.CSRPEM || p1.KeyFingerprintSHA256 != first.req.KeyFingerprintSHA256 || p1.Secret.ID == "" ||
		p1.Secret.ID == app.APNs.Secret.ID || !p1.ExpiresAt.Equal(p1.CreatedAt.Add(credential.PendingTTL)) {
		t.Fatalf("pending key = %+v (credential secret %s)", p1, app.APNs.Secret.ID)
	}
	if got := must(h.svc.Pending(h.ctx, ten, "csr")).get(t); asJSON(t, got) != asJSON(t, p1) {
		t.Fatalf("Pending = %s, want %s", asJSON(t, got), asJSON(t, p1))
	}
	h.wantPendingKey(ten, "csr", first, p1)

	// The credential in use is untouched, and the pending key's secret
	// never reads as a credential.
	after := must(h.svc.Get(h.ctx, ten, "csr")).get(t)
	if asJSON(t, after.APNs) != asJSON(t, app.APNs) || after.Version != app.Version+1 {
		t.Fatalf("the credential changed with the signing request: %+v", after.APNs)
	}
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "csr", push.APNs)).get(t), cur)
	_, err = h.svc.MaterialVersion(h.ctx, p1.Secret.ID, p1.Secret.VersionID)
	wantKind(t, err, push.Internal)

	// A new request replaces the pending one; the replaced key is buried.
	second := newSigningRequest(ten, "csr")
	p2 := h.pending(second)
	if p2.Secret.ID == p1.Secret.ID {
		t.Fatalf("the new request reused the secret of the replaced one")
	}
	h.wantPendingKey(ten, "csr", second, p2)
	h.secrets.mu.Lock()
	deleted := slices.Contains(h.secrets.deletions, p1.Secret.ID)
	h.secrets.mu.Unlock()
	if !deleted {
		t.Errorf("the replaced pending key %s was not scheduled for deletion", p1.Secret.ID)
	}
	n := 0
	for _, e := range allEvents(t, h, ten, "csr") {
		if e.Action == credential.ActionSigningRequest {
			n++
		}
	}
	if n != 2 {
		t.Errorf("signing request events = %d, want 2", n)
	}

	// Another tenant sees nothing, and an unknown app gets no secret.
	_, err = h.svc.Pending(h.ctx, tenant(t)+"-other", "csr")
	wantKind(t, err, push.NotFound)
	made := h.secrets.createdSecrets
	_, err = h.svc.CreatePending(h.ctx, newSigningRequest(ten, "nope").req)
	wantKind(t, err, push.NotFound)
	if h.secrets.createdSecrets != made {
		t.Errorf("a signing request for an unknown app created a secret")
	}
	bad := newSigningRequest(ten, "csr").req
	bad.Key = push.Redacted{}
	_, err = h.svc.CreatePending(h.ctx, bad)
	wantKind(t, err, push.Invalid)
}

func testPendingExpire(t *testing.T, h *harness) {
	ten := tenant(t)
	h.create(ten, "exp", nil, nil)
	sr := newSigningRequest(ten, "exp")
	p := h.pending(sr)

	h.clock.Advance(credential.PendingTTL - time.Minute)
	h.wantPendingKey(ten, "exp", sr, p)

	h.clock.Advance(2 * time.Minute)
	_, err := h.svc.Pending(h.ctx, ten, "exp")
	wantKind(t, err, push.NotFound)
	_, _, err = h.svc.PendingPrivateKey(h.ctx, ten, "exp")
	wantKind(t, err, push.NotFound)
	up := newMaterial(push.APNsP12)
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "exp", Platform: push.APNs, Upload: *up.upload(), FromPending: &p.Secret})
	wantKind(t, err, push.Conflict)
	if a := must(h.svc.Get(h.ctx, ten, "exp")).get(t); a.APNs != nil {
		t.Fatalf("an expired request made a credential: %+v", a.APNs)
	}

	// Discarding the expired request cleans it up and still says none is pending.
	err = h.svc.DiscardPending(h.ctx, ten, "exp", "admin")
	wantKind(t, err, push.NotFound)
	if a := must(h.svc.Get(h.ctx, ten, "exp")).get(t); a.PendingAPNs != nil {
		t.Fatalf("the expired request is still recorded: %+v", a.PendingAPNs)
	}
	h.secrets.mu.Lock()
	deleted := slices.Contains(h.secrets.deletions, p.Secret.ID)
	h.secrets.mu.Unlock()
	if !deleted {
		t.Errorf("the expired pending key was not scheduled for deletion")
	}

	// A fresh request works after expiry.
	again := newSigningRequest(ten, "exp")
	h.wantPendingKey(ten, "exp", again, h.pending(again))
}

func testPendingConsume(t *testing.T, h *harness) {
	ten := tenant(t)
	first := newMaterial(push.APNsP12)
	h.create(ten, "use", &first, nil)
	sr := newSigningRequest(ten, "use")
	p := h.pending(sr)

	// A certificate paired with a replaced request is refused.
	stale := p.Secret
	sr2 := newSigningRequest(ten, "use")
	p = h.pending(sr2)
	up := newMaterial(push.APNsP12)
	before := must(h.svc.Get(h.ctx, ten, "use")).get(t)
	_, err := h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "use", Platform: push.APNs, Upload: *up.upload(), FromPending: &stale})
	wantKind(t, err, push.Conflict)
	sameApp(t, must(h.svc.Get(h.ctx, ten, "use")).get(t), before)
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "use", Platform: push.FCM, Upload: *newMaterial(push.FCMJSON).upload(), FromPending: &p.Secret})
	wantKind(t, err, push.Invalid)

	app := must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "use", Platform: push.APNs, Upload: *up.upload(), FromPending: &p.Secret, Actor: "admin"})).get(t)
	if app.PendingAPNs != nil || app.APNs.Previous == nil {
		t.Fatalf("after the rotation from the request: pending %+v, apns %+v", app.PendingAPNs, app.APNs)
	}
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "use", push.APNs)).get(t), up)
	_, err = h.svc.Pending(h.ctx, ten, "use")
	wantKind(t, err, push.NotFound)
	h.secrets.mu.Lock()
	deleted := slices.Contains(h.secrets.deletions, p.Secret.ID)
	h.secrets.mu.Unlock()
	if !deleted {
		t.Errorf("the consumed pending key was not scheduled for deletion")
	}
	var rot *credential.Event
	for _, e := range allEvents(t, h, ten, "use") {
		if e.Action == credential.ActionRotate {
			rot = &e
			break
		}
	}
	if rot == nil || rot.Message != credential.FromSigningRequest || rot.NewFingerprint != up.facts.FingerprintSHA256 {
		t.Fatalf("rotation event = %+v, want one %q", rot, credential.FromSigningRequest)
	}

	// Consuming twice is refused; rollback restores the first credential.
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "use", Platform: push.APNs, Upload: *newMaterial(push.APNsP12).upload(), FromPending: &p.Secret})
	wantKind(t, err, push.Conflict)
	must(h.svc.Rollback(h.ctx, credential.RollbackRequest{Tenant: ten, ID: "use", Platform: push.APNs})).get(t)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "use", push.APNs)).get(t), first)

	// An app without an APNs credential gets its first one from a request.
	h.create(ten, "fresh", nil, nil)
	pf := h.pending(newSigningRequest(ten, "fresh"))
	cert := newMaterial(push.APNsP12)
	got := must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "fresh", Platform: push.APNs, Upload: *cert.upload(), FromPending: &pf.Secret})).get(t)
	if got.APNs == nil || got.APNs.Secret.ID == pf.Secret.ID || got.PendingAPNs != nil {
		t.Fatalf("first credential from a request: %+v, pending %+v", got.APNs, got.PendingAPNs)
	}
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "fresh", push.APNs)).get(t), cert)
}

func testPendingDiscard(t *testing.T, h *harness) {
	ten := tenant(t)
	h.create(ten, "dis", nil, nil)
	err := h.svc.DiscardPending(h.ctx, ten, "dis", "admin")
	wantKind(t, err, push.NotFound)
	err = h.svc.DiscardPending(h.ctx, ten, "missing", "admin")
	wantKind(t, err, push.NotFound)

	p := h.pending(newSigningRequest(ten, "dis"))
	if err := h.svc.DiscardPending(h.ctx, ten, "dis", "admin"); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Pending(h.ctx, ten, "dis")
	wantKind(t, err, push.NotFound)
	_, err = h.svc.MaterialVersion(h.ctx, p.Secret.ID, p.Secret.VersionID)
	wantKind(t, err, push.NotFound)
	if g := must(h.meta.Graves(h.ctx, 100)).get(t); slices.ContainsFunc(g, func(g credential.Grave) bool { return g.SecretID == p.Secret.ID }) {
		t.Errorf("the discarded key's grave stayed after its deletion was scheduled")
	}
	err = h.svc.DiscardPending(h.ctx, ten, "dis", "admin")
	wantKind(t, err, push.NotFound)
	found := false
	for _, e := range allEvents(t, h, ten, "dis") {
		found = found || e.Action == credential.ActionDiscardRequest && e.OldFingerprint == p.KeyFingerprintSHA256
	}
	if !found {
		t.Errorf("no audit event for the discarded request")
	}
}

func testPendingCrash(t *testing.T, h *harness) {
	ten := tenant(t)
	first := newMaterial(push.APNsP12)
	h.create(ten, "crash", &first, nil)
	sr := newSigningRequest(ten, "crash")
	p := h.pending(sr)
	fail := func(credential.Change) error { return push.E("fault.Apply", push.Transient, errInjected) }

	// A new request whose metadata write fails leaves the pending one.
	h.meta.setFailApply(fail)
	_, err := h.svc.CreatePending(h.ctx, newSigningRequest(ten, "crash").req)
	wantKind(t, err, push.Transient)
	h.meta.setFailApply(nil)
	h.wantPendingKey(ten, "crash", sr, p)

	// The credential's secret version is written, then the commit fails:
	// the old credential and the pending key are both still there.
	h.meta.setFailApply(fail)
	up := newMaterial(push.APNsP12)
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "crash", Platform: push.APNs, Upload: *up.upload(), FromPending: &p.Secret})
	wantKind(t, err, push.Transient)
	h.meta.setFailApply(nil)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "crash", push.APNs)).get(t), first)
	h.wantPendingKey(ten, "crash", sr, p)

	// The commit succeeds, then scheduling the pending key's deletion
	// fails: the new credential is in use, the request is gone, and the
	// buried key is finished by Sweep.
	h.secrets.set(func(f *faultySecrets) { f.failDelete = true })
	app := must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "crash", Platform: push.APNs, Upload: *up.upload(), FromPending: &p.Secret})).get(t)
	h.secrets.set(func(f *faultySecrets) { f.failDelete = false })
	if app.PendingAPNs != nil {
		t.Fatalf("the pending key survived its consumption: %+v", app.PendingAPNs)
	}
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "crash", push.APNs)).get(t), up)
	_, err = h.svc.Pending(h.ctx, ten, "crash")
	wantKind(t, err, push.NotFound)
	graves := must(h.meta.Graves(h.ctx, 100)).get(t)
	if !slices.ContainsFunc(graves, func(g credential.Grave) bool { return g.SecretID == p.Secret.ID }) {
		t.Fatalf("the consumed key has no grave after its deletion failed: %+v", graves)
	}
	for {
		n := must(h.svc.Sweep(h.ctx, 100)).get(t)
		if n == 0 {
			break
		}
	}
	_, err = h.svc.MaterialVersion(h.ctx, p.Secret.ID, p.Secret.VersionID)
	wantKind(t, err, push.NotFound)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "crash", push.APNs)).get(t), up)
}

func testPendingDeleteApp(t *testing.T, h *harness) {
	ten := tenant(t)
	apns, fcm := newMaterial(push.APNsP12), newMaterial(push.FCMJSON)
	app := h.create(ten, "del", &apns, &fcm)
	sr := newSigningRequest(ten, "del")
	p := h.pending(sr)
	if err := h.svc.Delete(h.ctx, ten, "del", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	h.secrets.mu.Lock()
	deleted := slices.Clone(h.secrets.deletions)
	h.secrets.mu.Unlock()
	for _, id := range []string{app.APNs.Secret.ID, app.FCM.Secret.ID, p.Secret.ID} {
		if !slices.Contains(deleted, id) {
			t.Errorf("secret %s of the deleted app was not scheduled for deletion", id)
		}
	}
	// The key never showed in a log line or an audit event.
	if strings.Contains(h.logs.String(), sr.marker) {
		t.Errorf("the pending key appears in the logs")
	}
	for _, e := range allEvents(t, h, ten, "del") {
		if strings.Contains(asJSON(t, e), sr.marker) {
			t.Errorf("the pending key appears in audit event %+v", e)
		}
	}
}
