package credential_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"mobilepush/shared/boltstore"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// racingMeta runs meanwhile (once) just before the next Apply reaches the
// store: another writer that commits between a change's read and its
// write, so the change loses the race.
type racingMeta struct {
	credential.MetadataStore
	meanwhile func()
}

func (m *racingMeta) Apply(ctx context.Context, c credential.Change) error {
	if f := m.meanwhile; f != nil {
		m.meanwhile = nil
		f()
	}
	return m.MetadataStore.Apply(ctx, c)
}

// createdSecrets records the secrets created through it.
type createdSecrets struct {
	credential.SecretStore
	refs []credential.SecretRef
}

func (s *createdSecrets) CreateSecret(ctx context.Context, o credential.SecretOwner, v push.Redacted) (string, string, error) {
	id, ver, err := s.SecretStore.CreateSecret(ctx, o, v)
	if err == nil {
		s.refs = append(s.refs, credential.SecretRef{ID: id, VersionID: ver})
	}
	return id, ver, err
}

type raceWorld struct {
	ctx     context.Context
	svc     *credential.Service
	meta    *racingMeta
	secrets *createdSecrets
}

func newRaceWorld(t *testing.T) *raceWorld {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "data.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &raceWorld{ctx: context.Background(), meta: &racingMeta{MetadataStore: st}, secrets: &createdSecrets{SecretStore: st}}
	w.svc = credential.NewService(credential.Config{Meta: w.meta, Secrets: w.secrets})
	return w
}

func p8Upload(keyID string) credential.Upload {
	return credential.Upload{Material: credential.Material{Kind: push.APNsP8, PrivateKeyPEM: push.NewRedacted([]byte("key " + keyID)), KeyID: keyID, TeamID: "TEAM123456"}}
}

func fcmUpload(project string) credential.Upload {
	return credential.Upload{Material: credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted([]byte(`{"project_id":"` + project + `"}`))},
		Facts: credential.Facts{ProjectID: project}}
}

func (w *raceWorld) create(t *testing.T, id string, apns *credential.Upload) credential.App {
	t.Helper()
	app, err := w.svc.Create(w.ctx, credential.CreateRequest{Tenant: "t", ID: id, Name: "App", APNs: apns})
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func (w *raceWorld) rotate(platform push.Platform, up credential.Upload) (credential.App, error) {
	return w.svc.Rotate(w.ctx, credential.RotateRequest{Tenant: "t", ID: "a", Platform: platform, Upload: up})
}

// gone reports whether secret id is no longer readable (scheduled for
// deletion).
func (w *raceWorld) gone(t *testing.T, id, version string) bool {
	t.Helper()
	_, err := w.secrets.ReadVersion(w.ctx, id, version)
	if err != nil && !push.Is(err, push.NotFound) {
		t.Fatal(err)
	}
	return push.Is(err, push.NotFound)
}

// TestRotateRetriesALostRace: a rotation without If-Match whose commit
// loses to another writer's change of other fields re-reads the app and
// commits again, keeping both changes and writing its value only once.
func TestRotateRetriesALostRace(t *testing.T) {
	w := newRaceWorld(t)
	first := p8Upload("FIRST00001")
	w.create(t, "a", &first)
	w.meta.meanwhile = func() {
		name := "Renamed meanwhile"
		if _, err := w.svc.Update(w.ctx, credential.UpdateRequest{Tenant: "t", ID: "a", Patch: credential.Patch{Name: &name}}); err != nil {
			t.Error(err)
		}
	}
	app, err := w.rotate(push.APNs, p8Upload("SECOND0001"))
	if err != nil {
		t.Fatal(err)
	}
	if app.Name != "Renamed meanwhile" || app.Version != 3 || app.APNs.Secret.PreviousVersionID == "" {
		t.Errorf("after the retried rotation: name %q, version %d, previous version %q; want the rename kept, version 3 and a previous version",
			app.Name, app.Version, app.APNs.Secret.PreviousVersionID)
	}
	m, err := w.svc.Material(w.ctx, "t", "a", push.APNs)
	if err != nil || m.KeyID != "SECOND0001" {
		t.Errorf("material after the rotation = %q, %v; want SECOND0001", m.KeyID, err)
	}
	if len(w.secrets.refs) != 1 {
		t.Errorf("%d secrets created, want 1 (the rotation writes a version of the existing one)", len(w.secrets.refs))
	}
}

// TestRotateLosesToAnotherRotation: when another rotation of the same
// platform commits first, the rotation fails with PreconditionFailed
// (ErrVersionMismatch) instead of overwriting it, and a secret it created
// for the platform is discarded.
func TestRotateLosesToAnotherRotation(t *testing.T) {
	tests := []struct {
		name     string
		platform push.Platform
		ours     credential.Upload
		theirs   credential.Upload
		// whether ours is a new secret (the app had no credential of
		// the platform), which must then be discarded
		fresh bool
	}{
		{"a version of the existing secret", push.APNs, p8Upload("OURS000001"), p8Upload("THEIRS0001"), false},
		{"a new secret", push.FCM, fcmUpload("ours"), fcmUpload("theirs"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newRaceWorld(t)
			first := p8Upload("FIRST00001")
			w.create(t, "a", &first)
			var theirs credential.App
			w.meta.meanwhile = func() {
				var err error
				if theirs, err = w.rotate(tt.platform, tt.theirs); err != nil {
					t.Error(err)
				}
			}
			before := len(w.secrets.refs)
			_, err := w.rotate(tt.platform, tt.ours)
			if !push.Is(err, push.PreconditionFailed) || !errors.Is(err, credential.ErrVersionMismatch) {
				t.Fatalf("Rotate = %v, want PreconditionFailed (ErrVersionMismatch)", err)
			}
			got, err := w.svc.Get(w.ctx, "t", "a")
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != theirs.Version || got.Meta(tt.platform).Secret != theirs.Meta(tt.platform).Secret {
				t.Errorf("the app after the lost race = version %d %+v, want the winner's version %d %+v",
					got.Version, got.Meta(tt.platform).Secret, theirs.Version, theirs.Meta(tt.platform).Secret)
			}
			created := w.secrets.refs[before:]
			if !tt.fresh {
				if len(created) != 0 { // both write versions of the app's secret
					t.Errorf("secrets created %v, want none", created)
				}
				return
			}
			// Ours is written before the commit that loses, theirs during it.
			if len(created) != 2 || created[1] != theirs.FCM.Secret {
				t.Fatalf("secrets created %v, want ours, then theirs %v", created, theirs.FCM.Secret)
			}
			if !w.gone(t, created[0].ID, created[0].VersionID) {
				t.Error("the secret of the losing rotation was not discarded")
			}
			if w.gone(t, theirs.FCM.Secret.ID, theirs.FCM.Secret.VersionID) {
				t.Error("the winner's secret was discarded")
			}
		})
	}
}

// TestDeleteRetriesALostRace: a deletion without If-Match that loses to a
// change adding a credential re-reads the app and buries that credential's
// secret too.
func TestDeleteRetriesALostRace(t *testing.T) {
	w := newRaceWorld(t)
	first := p8Upload("FIRST00001")
	app := w.create(t, "a", &first)
	var added credential.App
	w.meta.meanwhile = func() {
		var err error
		if added, err = w.rotate(push.FCM, fcmUpload("late")); err != nil {
			t.Error(err)
		}
	}
	if err := w.svc.Delete(w.ctx, "t", "a", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Get(w.ctx, "t", "a"); !push.Is(err, push.NotFound) {
		t.Errorf("Get after Delete = %v, want NotFound", err)
	}
	for name, ref := range map[string]credential.SecretRef{"apns": app.APNs.Secret, "fcm added meanwhile": added.FCM.Secret} {
		if !w.gone(t, ref.ID, ref.VersionID) {
			t.Errorf("the %s secret outlived the app", name)
		}
	}
}
