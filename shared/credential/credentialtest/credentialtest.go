// Package credentialtest is the conformance suite every credential store
// must pass: Run drives a credential.Service over the stores under test
// through every operation, the error kinds, tenant isolation, concurrent
// updates, crash-safe rotation and rollback, the pending APNs key of a
// signing request, secret hygiene and the audit trail. Top-level tests
// that call Run have names containing "Conformance".
package credentialtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// NewStores returns fresh, empty stores for one subtest (it may register
// cleanups on t).
type NewStores func(t *testing.T) (credential.MetadataStore, credential.SecretStore)

var errInjected = errors.New("injected failure")

// harness is one subtest's Service with its fault-injecting wrappers.
type harness struct {
	t       *testing.T
	svc     *credential.Service
	meta    *faultyMeta
	secrets *faultySecrets
	clock   *Clock
	logs    *bytes.Buffer
	ctx     context.Context
}

func newHarness(t *testing.T, newStores NewStores) *harness {
	t.Helper()
	m, s := newStores(t)
	h := &harness{
		t: t, meta: &faultyMeta{MetadataStore: m}, secrets: &faultySecrets{SecretStore: s},
		clock: NewClock(time.Now().UTC()), logs: &bytes.Buffer{}, ctx: context.Background(),
	}
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.svc = credential.NewService(credential.Config{Meta: h.meta, Secrets: h.secrets, Now: h.clock.Now, Logger: logger})
	return h
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Run runs the conformance suite. newStores is called once per subtest.
func Run(t *testing.T, newStores NewStores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"CreateGet", testCreateGet},
		{"CreateInvalid", testCreateInvalid},
		{"NotFound", testNotFound},
		{"TenantIsolation", testTenantIsolation},
		{"ListPaged", testListPaged},
		{"FleetFind", testFleetFind},
		{"FleetSummary", testFleetSummary},
		{"Update", testUpdate},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"RotateRollback", testRotateRollback},
		{"RotationCrashBeforeCommit", testRotationCrash},
		{"PromoteFailureAfterCommit", testPromoteFailure},
		{"RemovePlatform", testRemovePlatform},
		{"DeleteAndSweep", testDeleteAndSweep},
		{"SetStatus", testSetStatus},
		{"DueIndex", testDue},
		{"AuditTrail", testAudit},
		{"AuditQuery", testAuditQuery},
		{"Ledger", testLedger},
		{"LedgerBatch", testLedgerBatch},
		{"LedgerBatchConcurrent", testLedgerBatchConcurrent},
		{"SecretsNeverInErrors", testSecretHygiene},
	}
	tests = append(tests, pendingTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newHarness(t, newStores))
		})
	}
}

// tenant returns a unique tenant name (with characters that need escaping).
func tenant(t *testing.T) string { return "tenant#" + secretText()[6:18] + "|" + t.Name() }

func wantKind(t *testing.T, err error, want push.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want kind %v", want)
	}
	if got := push.KindOf(err); got != want {
		t.Fatalf("error kind = %v, want %v (%v)", got, want, err)
	}
}

// result holds a call's value and error until get checks the error.
type result[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameApp(t *testing.T, got, want credential.App) {
	t.Helper()
	if g, w := asJSON(t, got), asJSON(t, want); g != w {
		t.Fatalf("app differs:\n got %s\nwant %s", g, w)
	}
}

func sameMaterial(t *testing.T, got credential.Material, want fakeMaterial) {
	t.Helper()
	if !got.Equal(want.mat) {
		t.Fatalf("material of kind %s differs from the %s material stored", got.Kind, want.mat.Kind)
	}
}

func (h *harness) create(tenant, id string, apns, fcm *fakeMaterial) credential.App {
	h.t.Helper()
	r := credential.CreateRequest{Tenant: tenant, ID: id, Name: "App " + id, Enabled: true, Environment: push.Production, Actor: "admin"}
	if apns != nil {
		r.APNs = apns.upload()
	}
	if fcm != nil {
		r.FCM = fcm.upload()
	}
	return must(h.svc.Create(h.ctx, r)).get(h.t)
}

func ptr[T any](v T) *T { return &v }

func testCreateGet(t *testing.T, h *harness) {
	ten := tenant(t)
	apns, fcm := newMaterial(push.APNsP12), newMaterial(push.FCMJSON)
	app := h.create(ten, "app-1", &apns, &fcm)
	if app.Version != 1 || app.APNs == nil || app.FCM == nil {
		t.Fatalf("created app = %+v, want version 1 with both credentials", app)
	}
	if app.APNs.Status.State != credential.OK || app.APNs.Secret.VersionID == "" || app.APNs.DueAt.IsZero() {
		t.Fatalf("apns meta = %+v, want ok, a version id and a due time", app.APNs)
	}
	// credential.DefaultDue: the moment 60 days are left, the highest of
	// push.DefaultThresholds (less than 61 days before not_after).
	if want := push.Crossed(apns.facts.NotAfter, 60); !app.APNs.DueAt.Equal(want) || push.DaysLeft(apns.facts.NotAfter, app.APNs.DueAt) != 60 {
		t.Errorf("apns due_at = %v, want %v, when 60 days are left before not_after %v", app.APNs.DueAt, want, apns.facts.NotAfter)
	}
	sameApp(t, must(h.svc.Get(h.ctx, ten, "app-1")).get(t), app)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "app-1", push.APNs)).get(t), apns)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "app-1", push.FCM)).get(t), fcm)

	// An app without credentials, with a generated id.
	bare := must(h.svc.Create(h.ctx, credential.CreateRequest{Tenant: ten, Name: "bare", Environment: push.Sandbox})).get(t)
	if bare.ID == "" || bare.APNs != nil || bare.FCM != nil || bare.Status(push.APNs).State != credential.Unconfigured {
		t.Fatalf("bare app = %+v", bare)
	}
	_, err := h.svc.Material(h.ctx, ten, bare.ID, push.APNs)
	wantKind(t, err, push.NotFound)

	// Same id again: Conflict, and the first app is untouched.
	_, err = h.svc.Create(h.ctx, credential.CreateRequest{Tenant: ten, ID: "app-1", Name: "again", APNs: newMaterial(push.APNsP8).upload()})
	wantKind(t, err, push.Conflict)
	if !errors.Is(err, credential.ErrAppExists) {
		t.Errorf("error %v does not wrap ErrAppExists", err)
	}
	sameApp(t, must(h.svc.Get(h.ctx, ten, "app-1")).get(t), app)
}

func testCreateInvalid(t *testing.T, h *harness) {
	ten := tenant(t)
	p12 := newMaterial(push.APNsP12)
	huge := newMaterial(push.FCMJSON)
	huge.mat.ServiceAccountJSON = push.NewRedacted(bytes.Repeat([]byte(huge.marker), credential.MaxSecretSize/len(huge.marker)+1))
	noKey := newMaterial(push.APNsP12)
	noKey.mat.PrivateKeyPEM = push.Redacted{}
	tests := []struct {
		name string
		req  credential.CreateRequest
		want push.Kind
	}{
		{"empty tenant", credential.CreateRequest{Name: "x"}, push.Invalid},
		{"bad id", credential.CreateRequest{Tenant: ten, ID: "a/b", Name: "x"}, push.Invalid},
		{"empty name", credential.CreateRequest{Tenant: ten, ID: "ok"}, push.Invalid},
		{"bad environment", credential.CreateRequest{Tenant: ten, ID: "ok", Name: "x", Environment: "staging"}, push.Invalid},
		{"fcm material as apns", credential.CreateRequest{Tenant: ten, ID: "ok", Name: "x", APNs: huge.upload()}, push.Invalid},
		{"p12 without key", credential.CreateRequest{Tenant: ten, ID: "ok", Name: "x", APNs: noKey.upload()}, push.Invalid},
		{"too large", credential.CreateRequest{Tenant: ten, ID: "ok", Name: "x", APNs: p12.upload(), FCM: huge.upload()}, push.TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.Create(h.ctx, tt.req)
			wantKind(t, err, tt.want)
		})
	}
	// Nothing was stored by any of them.
	page := must(h.svc.List(h.ctx, ten, credential.Page{})).get(t)
	if len(page.Apps) != 0 {
		t.Fatalf("rejected creates stored %d apps", len(page.Apps))
	}
	if n := h.secrets.createdSecrets; n != 0 {
		t.Fatalf("rejected creates wrote %d secrets", n)
	}
}

func testNotFound(t *testing.T, h *harness) {
	ten := tenant(t)
	up := newMaterial(push.APNsP8)
	tests := []struct {
		name string
		call func() error
	}{
		{"get", func() error { _, err := h.svc.Get(h.ctx, ten, "nope"); return err }},
		{"update", func() error {
			_, err := h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "nope", Patch: credential.Patch{Name: ptr("n")}})
			return err
		}},
		{"rotate", func() error {
			_, err := h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "nope", Platform: push.APNs, Upload: *up.upload()})
			return err
		}},
		{"rollback", func() error {
			_, err := h.svc.Rollback(h.ctx, credential.RollbackRequest{Tenant: ten, ID: "nope", Platform: push.APNs})
			return err
		}},
		{"remove", func() error {
			_, err := h.svc.RemovePlatform(h.ctx, credential.RemoveRequest{Tenant: ten, ID: "nope", Platform: push.APNs})
			return err
		}},
		{"delete", func() error { return h.svc.Delete(h.ctx, ten, "nope", 0, "admin") }},
		{"status", func() error {
			_, err := h.svc.SetStatus(h.ctx, credential.StatusRequest{Tenant: ten, ID: "nope", Platform: push.APNs, Status: credential.Status{State: credential.OK}})
			return err
		}},
		{"material", func() error { _, err := h.svc.Material(h.ctx, ten, "nope", push.FCM); return err }},
		{"claim", func() error {
			_, err := h.svc.Claim(h.ctx, credential.MessageKey{Tenant: ten, MessageID: "m"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.call(), push.NotFound) })
	}
	if n := h.secrets.createdSecrets + h.secrets.putVersions; n != 0 {
		t.Errorf("operations on a missing app wrote %d secrets", n)
	}
}

func testTenantIsolation(t *testing.T, h *harness) {
	a, b := tenant(t)+"-a", tenant(t)+"-b"
	apns := newMaterial(push.APNsP12)
	appA := h.create(a, "shared-id", &apns, nil)

	other := newMaterial(push.APNsP8)
	_, err := h.svc.Get(h.ctx, b, "shared-id")
	wantKind(t, err, push.NotFound)
	_, err = h.svc.Material(h.ctx, b, "shared-id", push.APNs)
	wantKind(t, err, push.NotFound)
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: b, ID: "shared-id", Platform: push.APNs, Upload: *other.upload()})
	wantKind(t, err, push.NotFound)
	_, err = h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: b, ID: "shared-id", Patch: credential.Patch{Name: ptr("stolen")}})
	wantKind(t, err, push.NotFound)
	wantKind(t, h.svc.Delete(h.ctx, b, "shared-id", 0, "x"), push.NotFound)
	if p := must(h.svc.List(h.ctx, b, credential.Page{})).get(t); len(p.Apps) != 0 {
		t.Fatalf("tenant b lists %d apps of tenant a", len(p.Apps))
	}
	if p := must(h.svc.Audit(h.ctx, b, "shared-id", credential.Page{})).get(t); len(p.Events) != 0 {
		t.Fatalf("tenant b sees %d audit events of tenant a", len(p.Events))
	}

	// b may use the same id independently.
	fcm := newMaterial(push.FCMJSON)
	appB := h.create(b, "shared-id", nil, &fcm)
	if appB.APNs != nil {
		t.Fatal("tenant b's app sees tenant a's credential")
	}
	sameApp(t, must(h.svc.Get(h.ctx, a, "shared-id")).get(t), appA)
	sameMaterial(t, must(h.svc.Material(h.ctx, a, "shared-id", push.APNs)).get(t), apns)
	sameMaterial(t, must(h.svc.Material(h.ctx, b, "shared-id", push.FCM)).get(t), fcm)
	if err := h.svc.Delete(h.ctx, b, "shared-id", 0, "x"); err != nil {
		t.Fatal(err)
	}
	sameApp(t, must(h.svc.Get(h.ctx, a, "shared-id")).get(t), appA)
}

func testListPaged(t *testing.T, h *harness) {
	ten := tenant(t)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("app-%02d", 6-i) // created out of order
		h.create(ten, id, nil, nil)
		want = append(want, id)
	}
	h.create(tenant(t)+"-other", "app-99", nil, nil)
	slices.Sort(want)
	var got []string
	var sizes []int
	cursor := ""
	for range 10 {
		p := must(h.svc.List(h.ctx, ten, credential.Page{Cursor: cursor, Limit: 3})).get(t)
		sizes = append(sizes, len(p.Apps))
		for _, a := range p.Apps {
			got = append(got, a.ID)
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged ids = %v, want %v", got, want)
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Fatalf("page sizes = %v, want [3 3 1]", sizes)
	}
	// A page that ends exactly at the last app says so.
	if p := must(h.svc.List(h.ctx, ten, credential.Page{Limit: 7})).get(t); len(p.Apps) != 7 || p.Next != "" {
		t.Fatalf("a full last page = %d apps, next %q; want 7 and no cursor", len(p.Apps), p.Next)
	}
	_, err := h.svc.List(h.ctx, ten, credential.Page{Cursor: "!!not a cursor!!"})
	wantKind(t, err, push.Invalid)
}

func testUpdate(t *testing.T, h *harness) {
	ten := tenant(t)
	app := h.create(ten, "u1", nil, nil)
	got := must(h.svc.Update(h.ctx, credential.UpdateRequest{
		Tenant: ten, ID: "u1", Expect: 1, Actor: "admin",
		Patch: credential.Patch{Name: ptr("Renamed"), Description: ptr("d"), Enabled: ptr(false), Environment: ptr(push.Sandbox)},
	})).get(t)
	want := app
	want.Name, want.Description, want.Enabled, want.Environment, want.Version = "Renamed", "d", false, push.Sandbox, 2
	want.UpdatedAt = got.UpdatedAt
	sameApp(t, got, want)
	sameApp(t, must(h.svc.Get(h.ctx, ten, "u1")).get(t), got)

	_, err := h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "u1", Expect: 1, Patch: credential.Patch{Name: ptr("stale")}})
	wantKind(t, err, push.PreconditionFailed)
	if !errors.Is(err, credential.ErrVersionMismatch) {
		t.Errorf("error %v does not wrap ErrVersionMismatch", err)
	}
	_, err = h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "u1", Patch: credential.Patch{Name: ptr("")}})
	wantKind(t, err, push.Invalid)
	sameApp(t, must(h.svc.Get(h.ctx, ten, "u1")).get(t), got)
}

func testConcurrentUpdates(t *testing.T, h *harness) {
	const n = 8
	ten := tenant(t)
	h.create(ten, "race", nil, nil)

	// Round 1: everyone read version 1 and sends If-Match 1: exactly one wins.
	var wins, lost sync.WaitGroup
	var mu sync.Mutex
	winners, failures := 0, 0
	for i := range n {
		wins.Add(1)
		go func() {
			defer wins.Done()
			_, err := h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "race", Expect: 1, Patch: credential.Patch{Name: ptr(fmt.Sprintf("w%d", i))}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners++
			case push.Is(err, push.PreconditionFailed):
				failures++
			default:
				t.Errorf("update: %v", err)
			}
		}()
	}
	wins.Wait()
	if winners != 1 || failures != n-1 {
		t.Fatalf("winners = %d, precondition failures = %d; want 1 and %d", winners, failures, n-1)
	}

	// Round 2: read-modify-write loops with If-Match; none may be lost.
	for i := range n {
		lost.Add(1)
		go func() {
			defer lost.Done()
			for {
				a, err := h.svc.Get(h.ctx, ten, "race")
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				d := a.Description + fmt.Sprintf("[g%d]", i)
				_, err = h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "race", Expect: a.Version, Patch: credential.Patch{Description: &d}})
				if err == nil {
					return
				}
				if !push.Is(err, push.PreconditionFailed) && !errors.Is(err, credential.ErrContention) {
					t.Errorf("update: %v", err)
					return
				}
			}
		}()
	}
	// Round 3, concurrently: updates without If-Match are retried, never lost.
	for range n {
		lost.Add(1)
		go func() {
			defer lost.Done()
			if _, err := h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "race", Patch: credential.Patch{Enabled: ptr(true)}}); err != nil {
				t.Errorf("update without expect: %v", err)
			}
		}()
	}
	lost.Wait()
	a := must(h.svc.Get(h.ctx, ten, "race")).get(t)
	for i := range n {
		if !strings.Contains(a.Description, fmt.Sprintf("[g%d]", i)) {
			t.Errorf("update of goroutine %d lost: description %q", i, a.Description)
		}
	}
	if want := int64(1 + 1 + 2*n); a.Version != want {
		t.Errorf("version = %d, want %d (one per applied update)", a.Version, want)
	}
	// One audit event per applied version.
	evs := allEvents(t, h, ten, "race")
	versions := map[int64]bool{}
	for _, e := range evs {
		versions[e.Version] = true
	}
	for v := int64(1); v <= a.Version; v++ {
		if !versions[v] {
			t.Errorf("no audit event for version %d", v)
		}
	}
}

func allEvents(t *testing.T, h *harness, ten, id string) []credential.Event {
	t.Helper()
	var out []credential.Event
	cursor := ""
	for range 100 {
		p := must(h.svc.Audit(h.ctx, ten, id, credential.Page{Cursor: cursor, Limit: 4})).get(t)
		out = append(out, p.Events...)
		if cursor = p.Next; cursor == "" {
			return out
		}
	}
	t.Fatal("audit paging does not end")
	return nil
}

func testRotateRollback(t *testing.T, h *harness) {
	ten := tenant(t)
	first := newMaterial(push.APNsP12)
	app := h.create(ten, "rot", &first, nil)
	v1 := app.APNs.Secret

	second := newMaterial(push.APNsP8)
	rot := must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "rot", Platform: push.APNs, Expect: app.Version, Upload: *second.upload(), Actor: "admin"})).get(t)
	if rot.Version != 2 || rot.APNs.Kind != push.APNsP8 || rot.APNs.Secret.ID != v1.ID ||
		rot.APNs.Secret.PreviousVersionID != v1.VersionID || rot.APNs.Secret.VersionID == v1.VersionID {
		t.Fatalf("after rotate: %+v", rot.APNs)
	}
	if rot.APNs.Previous == nil || asJSON(t, rot.APNs.Previous.Facts) != asJSON(t, first.facts) {
		t.Fatalf("previous revision = %+v, want the first credential's facts", rot.APNs.Previous)
	}
	sameApp(t, must(h.svc.Get(h.ctx, ten, "rot")).get(t), rot)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "rot", push.APNs)).get(t), second)
	sameMaterial(t, must(h.svc.PreviousMaterial(h.ctx, ten, "rot", push.APNs)).get(t), first)

	// A stale If-Match changes nothing.
	third := newMaterial(push.APNsP12)
	_, err := h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "rot", Platform: push.APNs, Expect: 1, Upload: *third.upload()})
	wantKind(t, err, push.PreconditionFailed)
	sameApp(t, must(h.svc.Get(h.ctx, ten, "rot")).get(t), rot)

	back := must(h.svc.Rollback(h.ctx, credential.RollbackRequest{Tenant: ten, ID: "rot", Platform: push.APNs, Expect: rot.Version, Actor: "admin"})).get(t)
	if back.APNs.Kind != push.APNsP12 || back.APNs.Secret.VersionID != v1.VersionID || back.APNs.Secret.PreviousVersionID != rot.APNs.Secret.VersionID {
		t.Fatalf("after rollback: %+v", back.APNs)
	}
	if asJSON(t, back.APNs.Facts) != asJSON(t, first.facts) {
		t.Fatalf("rolled back facts = %+v, want %+v", back.APNs.Facts, first.facts)
	}
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "rot", push.APNs)).get(t), first)

	// Rolling back again undoes the rollback.
	again := must(h.svc.Rollback(h.ctx, credential.RollbackRequest{Tenant: ten, ID: "rot", Platform: push.APNs})).get(t)
	if again.APNs.Secret.VersionID != rot.APNs.Secret.VersionID {
		t.Fatalf("second rollback: version %s, want %s", again.APNs.Secret.VersionID, rot.APNs.Secret.VersionID)
	}
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "rot", push.APNs)).get(t), second)

	// A platform rotated in for the first time has nothing to roll back to.
	fcm := newMaterial(push.FCMJSON)
	withFCM := must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "rot", Platform: push.FCM, Upload: *fcm.upload()})).get(t)
	if withFCM.FCM == nil || withFCM.FCM.Previous != nil {
		t.Fatalf("fcm after first rotate: %+v", withFCM.FCM)
	}
	_, err = h.svc.Rollback(h.ctx, credential.RollbackRequest{Tenant: ten, ID: "rot", Platform: push.FCM})
	wantKind(t, err, push.Conflict)
	_, err = h.svc.PreviousMaterial(h.ctx, ten, "rot", push.FCM)
	wantKind(t, err, push.NotFound)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "rot", push.FCM)).get(t), fcm)
}

func testRotationCrash(t *testing.T, h *harness) {
	ten := tenant(t)
	first := newMaterial(push.APNsP12)
	app := h.create(ten, "crash", &first, nil)

	// The secret write succeeds, then the metadata write fails.
	h.meta.setFailApply(func(credential.Change) error {
		return push.E("fault.Apply", push.Transient, errInjected)
	})
	next := newMaterial(push.APNsP12)
	_, err := h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "crash", Platform: push.APNs, Upload: *next.upload()})
	wantKind(t, err, push.Transient)
	if h.secrets.putVersions != 1 {
		t.Fatalf("the new version was not written before the failure (puts = %d)", h.secrets.putVersions)
	}
	h.meta.setFailApply(nil)

	// The previous credential is still current and readable.
	sameApp(t, must(h.svc.Get(h.ctx, ten, "crash")).get(t), app)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "crash", push.APNs)).get(t), first)
	for _, e := range allEvents(t, h, ten, "crash") {
		if e.Action == credential.ActionRotate {
			t.Fatalf("a failed rotation left an audit event: %+v", e)
		}
	}

	// A later rotation works, and its rollback returns the first material.
	third := newMaterial(push.APNsP8)
	must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "crash", Platform: push.APNs, Upload: *third.upload()})).get(t)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "crash", push.APNs)).get(t), third)
	must(h.svc.Rollback(h.ctx, credential.RollbackRequest{Tenant: ten, ID: "crash", Platform: push.APNs})).get(t)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "crash", push.APNs)).get(t), first)
}

func testPromoteFailure(t *testing.T, h *harness) {
	ten := tenant(t)
	first := newMaterial(push.FCMJSON)
	h.create(ten, "promote", nil, &first)

	// The metadata commits, then moving the current stage fails: the
	// metadata is the truth, so the new credential is in use.
	h.secrets.set(func(f *faultySecrets) { f.failPromote = true })
	next := newMaterial(push.FCMJSON)
	app := must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "promote", Platform: push.FCM, Upload: *next.upload()})).get(t)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "promote", push.FCM)).get(t), next)
	if !strings.Contains(h.logs.String(), "promote_secret_version_failed") {
		t.Errorf("the failed promotion was not logged")
	}
	h.secrets.set(func(f *faultySecrets) { f.failPromote = false })

	// The next rotation repairs the stage and goes on normally.
	third := newMaterial(push.FCMJSON)
	must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "promote", Platform: push.FCM, Expect: app.Version, Upload: *third.upload()})).get(t)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "promote", push.FCM)).get(t), third)
	sameMaterial(t, must(h.svc.PreviousMaterial(h.ctx, ten, "promote", push.FCM)).get(t), next)
}

func testRemovePlatform(t *testing.T, h *harness) {
	ten := tenant(t)
	apns, fcm := newMaterial(push.APNsP8), newMaterial(push.FCMJSON)
	app := h.create(ten, "rm", &apns, &fcm)
	secretID := app.APNs.Secret.ID

	got := must(h.svc.RemovePlatform(h.ctx, credential.RemoveRequest{Tenant: ten, ID: "rm", Platform: push.APNs, Expect: app.Version, Actor: "admin"})).get(t)
	if got.APNs != nil || got.FCM == nil || got.Version != app.Version+1 {
		t.Fatalf("after remove: %+v", got)
	}
	_, err := h.svc.Material(h.ctx, ten, "rm", push.APNs)
	wantKind(t, err, push.NotFound)
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "rm", push.FCM)).get(t), fcm)
	_, err = h.secrets.ReadVersion(h.ctx, secretID, app.APNs.Secret.VersionID)
	wantKind(t, err, push.NotFound)
	if gs := must(h.meta.Graves(h.ctx, 100)).get(t); len(gs) != 0 {
		t.Fatalf("graves left after remove: %+v", gs)
	}
	_, err = h.svc.RemovePlatform(h.ctx, credential.RemoveRequest{Tenant: ten, ID: "rm", Platform: push.APNs})
	wantKind(t, err, push.NotFound)
}

func testDeleteAndSweep(t *testing.T, h *harness) {
	ten := tenant(t)
	apns, fcm := newMaterial(push.APNsP12), newMaterial(push.FCMJSON)
	app := h.create(ten, "del", &apns, &fcm)

	wantKind(t, h.svc.Delete(h.ctx, ten, "del", app.Version+5, "admin"), push.PreconditionFailed)
	must(h.svc.Get(h.ctx, ten, "del")).get(t)

	// Scheduling the secrets' deletion fails: the graves keep them.
	h.secrets.set(func(f *faultySecrets) { f.failDelete = true })
	if err := h.svc.Delete(h.ctx, ten, "del", app.Version, "admin"); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.Get(h.ctx, ten, "del")
	wantKind(t, err, push.NotFound)
	graves := must(h.meta.Graves(h.ctx, 100)).get(t)
	var ids []string
	for _, g := range graves {
		ids = append(ids, g.SecretID)
	}
	slices.Sort(ids)
	want := []string{app.APNs.Secret.ID, app.FCM.Secret.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("graves = %v, want the app's secrets %v", ids, want)
	}

	h.secrets.set(func(f *faultySecrets) { f.failDelete = false })
	if n := must(h.svc.Sweep(h.ctx, 10)).get(t); n != 2 {
		t.Fatalf("swept %d, want 2", n)
	}
	if gs := must(h.meta.Graves(h.ctx, 100)).get(t); len(gs) != 0 {
		t.Fatalf("graves left after sweep: %+v", gs)
	}
	for _, ref := range []credential.SecretRef{app.APNs.Secret, app.FCM.Secret} {
		_, err := h.secrets.ReadVersion(h.ctx, ref.ID, ref.VersionID)
		wantKind(t, err, push.NotFound)
	}
	wantKind(t, h.svc.Delete(h.ctx, ten, "del", 0, "admin"), push.NotFound)

	// The id can be registered again, with new secrets.
	again := h.create(ten, "del", &apns, nil)
	if again.APNs.Secret.ID == app.APNs.Secret.ID {
		t.Fatal("a new app reuses a secret scheduled for deletion")
	}
	sameMaterial(t, must(h.svc.Material(h.ctx, ten, "del", push.APNs)).get(t), apns)
	// The audit trail outlives the app.
	if evs := allEvents(t, h, ten, "del"); !slices.ContainsFunc(evs, func(e credential.Event) bool { return e.Action == credential.ActionDelete }) {
		t.Fatal("no delete event in the audit trail")
	}
}

func testSetStatus(t *testing.T, h *harness) {
	ten := tenant(t)
	apns := newMaterial(push.APNsP12)
	app := h.create(ten, "st", &apns, nil)
	ver := app.APNs.Secret.VersionID

	st := credential.Status{State: credential.Suspended, Reason: "BadCertificate", Message: "Apple rejected the certificate"}
	got := must(h.svc.SetStatus(h.ctx, credential.StatusRequest{Tenant: ten, ID: "st", Platform: push.APNs, VersionID: ver, Status: st, Actor: "sender"})).get(t)
	if got.APNs.Status.State != credential.Suspended || got.APNs.Status.Reason != "BadCertificate" || got.APNs.Status.CheckedAt.IsZero() {
		t.Fatalf("status = %+v", got.APNs.Status)
	}
	if !got.APNs.DueAt.Equal(app.APNs.DueAt) {
		t.Fatalf("due_at changed without DueAt: %v -> %v", app.APNs.DueAt, got.APNs.DueAt)
	}
	sameApp(t, must(h.svc.Get(h.ctx, ten, "st")).get(t), got)

	tests := []struct {
		name string
		req  credential.StatusRequest
		want push.Kind
	}{
		{"stale version", credential.StatusRequest{Tenant: ten, ID: "st", Platform: push.APNs, VersionID: "other", Status: st}, push.Conflict},
		{"no credential", credential.StatusRequest{Tenant: ten, ID: "st", Platform: push.FCM, Status: st}, push.NotFound},
		{"bad state", credential.StatusRequest{Tenant: ten, ID: "st", Platform: push.APNs, Status: credential.Status{State: "meh"}}, push.Invalid},
		{"unconfigured", credential.StatusRequest{Tenant: ten, ID: "st", Platform: push.APNs, Status: credential.Status{State: credential.Unconfigured}}, push.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.svc.SetStatus(h.ctx, tt.req)
			wantKind(t, err, tt.want)
		})
	}
	// The same state again is applied without a new audit event.
	before := len(allEvents(t, h, ten, "st"))
	must(h.svc.SetStatus(h.ctx, credential.StatusRequest{Tenant: ten, ID: "st", Platform: push.APNs, Status: st})).get(t)
	if after := len(allEvents(t, h, ten, "st")); after != before {
		t.Fatalf("repeating a status added %d audit events", after-before)
	}
}

func testDue(t *testing.T, h *harness) {
	now := h.clock.Now().Truncate(time.Second)
	t1, t2 := tenant(t)+"-1", tenant(t)+"-2"
	past := now.Add(-2 * time.Hour)
	mk := func(ten, id string, apnsDue, fcmDue time.Time) credential.App {
		r := credential.CreateRequest{Tenant: ten, ID: id, Name: id}
		if !apnsDue.IsZero() {
			m := newMaterial(push.APNsP8)
			r.APNs = m.upload()
			r.APNs.DueAt = apnsDue
		}
		if !fcmDue.IsZero() {
			m := newMaterial(push.FCMJSON)
			r.FCM = m.upload()
			r.FCM.DueAt = fcmDue
		}
		return must(h.svc.Create(h.ctx, r)).get(t)
	}
	mk(t1, "a", past, now.Add(48*time.Hour))
	mk(t2, "b", now.Add(-time.Hour), time.Time{})
	mk(t2, "c", now, past.Add(-time.Hour))
	mk(t1, "d", time.Time{}, now.Add(time.Second))

	type entry struct {
		tenant, app string
		p           push.Platform
	}
	list := func(at time.Time) []entry {
		t.Helper()
		var out []entry
		for _, d := range must(h.svc.Due(h.ctx, at, 100)).get(t) {
			out = append(out, entry{d.Tenant, d.AppID, d.Platform})
		}
		return out
	}
	want := []entry{{t2, "c", push.FCM}, {t1, "a", push.APNs}, {t2, "b", push.APNs}, {t2, "c", push.APNs}}
	if got := list(now); !slices.Equal(got, want) {
		t.Fatalf("due at now = %v\nwant %v", got, want)
	}
	if got := must(h.svc.Due(h.ctx, now, 2)).get(t); len(got) != 2 || got[0].AppID != "c" || !got[0].DueAt.Equal(past.Add(-time.Hour)) {
		t.Fatalf("due with limit 2 = %+v", got)
	}

	// Moving a due time, removing a platform and deleting an app update the index.
	later := now.Add(24 * time.Hour)
	must(h.svc.SetStatus(h.ctx, credential.StatusRequest{Tenant: t1, ID: "a", Platform: push.APNs, Status: credential.Status{State: credential.OK}, DueAt: &later})).get(t)
	must(h.svc.RemovePlatform(h.ctx, credential.RemoveRequest{Tenant: t2, ID: "c", Platform: push.FCM})).get(t)
	if err := h.svc.Delete(h.ctx, t2, "b", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if got, want := list(now), []entry{{t2, "c", push.APNs}}; !slices.Equal(got, want) {
		t.Fatalf("due after changes = %v, want %v", got, want)
	}
	var zero time.Time
	must(h.svc.SetStatus(h.ctx, credential.StatusRequest{Tenant: t2, ID: "c", Platform: push.APNs, Status: credential.Status{State: credential.Expired}, DueAt: &zero})).get(t)
	if got := list(now.Add(72 * time.Hour)); !slices.Equal(got, []entry{{t1, "d", push.FCM}, {t1, "a", push.APNs}, {t1, "a", push.FCM}}) {
		t.Fatalf("due in 3 days = %v", got)
	}
}

func testAudit(t *testing.T, h *harness) {
	ten := tenant(t)
	first := newMaterial(push.APNsP12)
	app := h.create(ten, "aud", &first, nil)
	must(h.svc.Update(h.ctx, credential.UpdateRequest{Tenant: ten, ID: "aud", Patch: credential.Patch{Name: ptr("x")}, Actor: "alice"})).get(t)
	second := newMaterial(push.APNsP12)
	must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "aud", Platform: push.APNs, Upload: *second.upload(), Actor: "bob"})).get(t)
	must(h.svc.Rollback(h.ctx, credential.RollbackRequest{Tenant: ten, ID: "aud", Platform: push.APNs, Actor: "bob"})).get(t)
	must(h.svc.SetStatus(h.ctx, credential.StatusRequest{Tenant: ten, ID: "aud", Platform: push.APNs, Status: credential.Status{State: credential.Expiring, Reason: "expiring_soon"}, Actor: "expiry"})).get(t)
	custom := must(h.svc.AppendAudit(h.ctx, credential.Event{Tenant: ten, AppID: "aud", Action: "validate", Platform: push.APNs, Actor: "carol", Result: "live_ok"})).get(t)
	fcm := newMaterial(push.FCMJSON)
	must(h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "aud", Platform: push.FCM, Upload: *fcm.upload(), Actor: "dave"})).get(t)
	must(h.svc.RemovePlatform(h.ctx, credential.RemoveRequest{Tenant: ten, ID: "aud", Platform: push.FCM, Actor: "dave"})).get(t)
	if err := h.svc.Delete(h.ctx, ten, "aud", 0, "erin"); err != nil {
		t.Fatal(err)
	}

	evs := allEvents(t, h, ten, "aud")
	type row struct {
		action credential.Action
		p      push.Platform
		actor  string
	}
	var got []row
	for i, e := range evs {
		got = append(got, row{e.Action, e.Platform, e.Actor})
		if i > 0 && e.ID >= evs[i-1].ID {
			t.Errorf("events not newest first at %d: %s after %s", i, e.ID, evs[i-1].ID)
		}
		if e.Tenant != ten || e.AppID != "aud" || e.At.IsZero() {
			t.Errorf("event %d = %+v", i, e)
		}
	}
	wantRows := []row{
		{credential.ActionDelete, "", "erin"},
		{credential.ActionRemove, push.FCM, "dave"},
		{credential.ActionRotate, push.FCM, "dave"},
		{"validate", push.APNs, "carol"},
		{credential.ActionStatus, push.APNs, "expiry"},
		{credential.ActionRollback, push.APNs, "bob"},
		{credential.ActionRotate, push.APNs, "bob"},
		{credential.ActionUpdate, "", "alice"},
		{credential.ActionCreate, push.APNs, "admin"},
		{credential.ActionCreate, "", "admin"},
	}
	if !slices.Equal(got, wantRows) {
		t.Fatalf("audit trail = %v\nwant %v", got, wantRows)
	}
	// Fingerprints and expiry of the changes are recorded.
	rotate := evs[6]
	if rotate.OldFingerprint != first.facts.FingerprintSHA256 || rotate.NewFingerprint != second.facts.FingerprintSHA256 ||
		!rotate.OldNotAfter.Equal(first.facts.NotAfter) || !rotate.NewNotAfter.Equal(second.facts.NotAfter) {
		t.Errorf("rotate event = %+v", rotate)
	}
	rollback := evs[5]
	if rollback.OldFingerprint != second.facts.FingerprintSHA256 || rollback.NewFingerprint != first.facts.FingerprintSHA256 {
		t.Errorf("rollback event = %+v", rollback)
	}
	if evs[3].ID != custom.ID || evs[3].Result != "live_ok" {
		t.Errorf("custom event = %+v, want %+v", evs[3], custom)
	}
	if evs[9].Version != app.Version {
		t.Errorf("create event version = %d, want %d", evs[9].Version, app.Version)
	}
	_, err := h.svc.AppendAudit(h.ctx, credential.Event{Tenant: ten, AppID: "aud"})
	wantKind(t, err, push.Invalid)
}

func testLedger(t *testing.T, h *harness) {
	ten := tenant(t)
	key := credential.MessageKey{Tenant: ten, MessageID: "msg#1", Attempt: 1}
	lease := 30 * time.Second

	c := must(h.svc.Lease(h.ctx, key, "w1", lease)).get(t)
	if c.Owner != "w1" || c.State != credential.InProgress || c.Leases != 1 || !c.LeaseUntil.Equal(h.clock.Now().Add(lease)) {
		t.Fatalf("lease = %+v", c)
	}
	// The owner may renew; another worker may not take a live lease.
	c = must(h.svc.Lease(h.ctx, key, "w1", lease)).get(t)
	_, err := h.svc.Lease(h.ctx, key, "w2", lease)
	wantKind(t, err, push.Conflict)
	if !errors.Is(err, credential.ErrLeaseHeld) {
		t.Fatalf("error %v does not wrap ErrLeaseHeld", err)
	}

	tok := func(i int) string { return fmt.Sprintf("token-%02d", i) }
	for i := range 3 {
		if err := h.svc.RecordOutcome(h.ctx, key, "w1", credential.Outcome{Platform: push.APNs, Token: tok(i), Result: push.Delivered}); err != nil {
			t.Fatal(err)
		}
	}
	err = h.svc.RecordOutcome(h.ctx, key, "w1", credential.Outcome{Platform: push.APNs, Token: tok(1), Result: push.Retry})
	wantKind(t, err, push.Conflict)
	if !errors.Is(err, credential.ErrOutcomeRecorded) {
		t.Fatalf("error %v does not wrap ErrOutcomeRecorded", err)
	}
	err = h.svc.RecordOutcome(h.ctx, key, "w2", credential.Outcome{Platform: push.APNs, Token: tok(5), Result: push.Delivered})
	wantKind(t, err, push.PreconditionFailed)
	if !errors.Is(err, credential.ErrLeaseLost) {
		t.Fatalf("error %v does not wrap ErrLeaseLost", err)
	}
	// The same token on the other platform is a different entry.
	if err := h.svc.RecordOutcome(h.ctx, key, "w1", credential.Outcome{Platform: push.FCM, Token: tok(1), Result: push.InvalidToken, Reason: "UNREGISTERED"}); err != nil {
		t.Fatal(err)
	}

	// w1 dies; after the lease w2 takes over and sees the recorded outcomes.
	h.clock.Advance(lease + time.Second)
	err = h.svc.RecordOutcome(h.ctx, key, "w1", credential.Outcome{Platform: push.APNs, Token: tok(3), Result: push.Delivered})
	wantKind(t, err, push.PreconditionFailed)
	c2 := must(h.svc.Lease(h.ctx, key, "w2", lease)).get(t)
	if c2.Owner != "w2" || c2.Leases != c.Leases+1 {
		t.Fatalf("take-over = %+v (previous %+v)", c2, c)
	}
	outs := must(h.svc.Outcomes(h.ctx, key)).get(t)
	if len(outs) != 4 {
		t.Fatalf("outcomes after take-over = %+v, want 4", outs)
	}
	for _, o := range outs {
		if o.At.IsZero() || o.ExpiresAt.Before(h.clock.Now().Add(24*time.Hour)) {
			t.Errorf("outcome %+v lacks time or TTL", o)
		}
	}
	if err := h.svc.RecordOutcome(h.ctx, key, "w2", credential.Outcome{Platform: push.APNs, Token: tok(3), Result: push.Delivered}); err != nil {
		t.Fatal(err)
	}
	err = h.svc.Complete(h.ctx, key, "w1")
	wantKind(t, err, push.PreconditionFailed)
	if err := h.svc.Complete(h.ctx, key, "w2"); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Complete(h.ctx, key, "w2"); err != nil {
		t.Fatalf("completing twice: %v", err)
	}
	_, err = h.svc.Lease(h.ctx, key, "w3", lease)
	wantKind(t, err, push.Conflict)
	if !errors.Is(err, credential.ErrMessageDone) {
		t.Fatalf("error %v does not wrap ErrMessageDone", err)
	}
	done := must(h.svc.Claim(h.ctx, key)).get(t)
	if done.State != credential.Done || done.Owner != "w2" || done.ExpiresAt.IsZero() {
		t.Fatalf("claim = %+v", done)
	}

	// Attempt 2 of the same message is independent; other tenants too.
	must(h.svc.Lease(h.ctx, credential.MessageKey{Tenant: ten, MessageID: "msg#1", Attempt: 2}, "w3", lease)).get(t)
	must(h.svc.Lease(h.ctx, credential.MessageKey{Tenant: ten + "x", MessageID: "msg#1", Attempt: 1}, "w4", lease)).get(t)
	if outs := must(h.svc.Outcomes(h.ctx, credential.MessageKey{Tenant: ten, MessageID: "msg#1", Attempt: 2})).get(t); len(outs) != 0 {
		t.Fatalf("attempt 2 sees %d outcomes of attempt 1", len(outs))
	}
	wantKind(t, h.svc.Complete(h.ctx, credential.MessageKey{Tenant: ten, MessageID: "none", Attempt: 1}, "w1"), push.NotFound)
	_, err = h.svc.Lease(h.ctx, credential.MessageKey{Tenant: ten}, "w1", lease)
	wantKind(t, err, push.Invalid)
}

func testSecretHygiene(t *testing.T, h *harness) {
	ten := tenant(t)
	apns := newMaterial(push.APNsP12)
	fcm := newMaterial(push.FCMJSON)
	app := h.create(ten, "hyg", &apns, &fcm)
	markers := []string{apns.marker, fcm.marker}

	var errs []error
	collect := func(err error) {
		if err == nil {
			t.Helper()
			t.Fatal("expected an error")
		}
		errs = append(errs, err)
	}
	huge := newMaterial(push.FCMJSON)
	huge.mat.ServiceAccountJSON = push.NewRedacted(bytes.Repeat([]byte(huge.marker), credential.MaxSecretSize/len(huge.marker)+1))
	markers = append(markers, huge.marker)
	_, err := h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "hyg", Platform: push.FCM, Upload: *huge.upload()})
	collect(err)
	_, err = h.svc.Create(h.ctx, credential.CreateRequest{Tenant: ten, ID: "hyg", Name: "dup", FCM: fcm.upload()})
	collect(err)
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "hyg", Platform: push.APNs, Upload: *fcm.upload()})
	collect(err)
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "hyg", Platform: push.APNs, Expect: 99, Upload: *apns.upload()})
	collect(err)
	// Direct store errors: too large, missing versions.
	_, err = h.secrets.PutVersion(h.ctx, app.FCM.Secret.ID, huge.mat.ServiceAccountJSON)
	collect(err)
	_, _, err = h.secrets.CreateSecret(h.ctx, credential.SecretOwner{Tenant: ten, AppID: "hyg", Platform: push.FCM}, huge.mat.ServiceAccountJSON)
	collect(err)
	_, err = h.secrets.ReadVersion(h.ctx, app.APNs.Secret.ID, "00000000-0000-0000-0000-000000000000")
	collect(err)
	// Corrupt stored values: decoding never quotes them.
	_, err = credential.DecodeMaterial(push.NewRedacted([]byte(apns.marker)))
	collect(err)
	_, err = credential.DecodeMaterial(push.NewRedacted([]byte(`{"v":1,"kind":"apns_p8","private_key_pem":"` + apns.marker + `"}`)))
	collect(err)
	// A rotation that fails in the metadata commit.
	h.meta.setFailApply(func(credential.Change) error { return push.E("fault.Apply", push.Transient, errInjected) })
	_, err = h.svc.Rotate(h.ctx, credential.RotateRequest{Tenant: ten, ID: "hyg", Platform: push.APNs, Upload: *apns.upload()})
	collect(err)
	h.meta.setFailApply(nil)

	got := must(h.svc.Get(h.ctx, ten, "hyg")).get(t)
	mat := must(h.svc.Material(h.ctx, ten, "hyg", push.APNs)).get(t)
	texts := []string{h.logs.String(), fmt.Sprintf("%v %+v %#v", got, got, got), fmt.Sprintf("%v %+v %#v %s", mat, mat, mat, mat), asJSON(t, got), asJSON(t, mat)}
	for _, err := range errs {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, text := range texts {
		for _, m := range markers {
			if strings.Contains(text, m) {
				t.Fatalf("secret material leaked into %q", text)
			}
		}
	}
}
