package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// App implements credential.AppStore.
// Errors: NotFound, Internal.
func (s *Store) App(_ context.Context, tenant, id string) (credential.App, error) {
	const op = "boltstore.App"
	var a credential.App
	err := s.db.View(func(tx *bolt.Tx) error {
		t := tx.Bucket(bktApps).Bucket([]byte(tenant))
		var raw []byte
		if t != nil {
			raw = t.Get([]byte(id))
		}
		if raw == nil {
			return push.Errorf(op, push.NotFound, "app %s does not exist", id)
		}
		return json.Unmarshal(raw, &a)
	})
	if err != nil {
		return credential.App{}, internal(op, err)
	}
	return a, nil
}

// Apps implements credential.AppStore.
// Errors: Internal.
func (s *Store) Apps(_ context.Context, tenant, after string, limit int) ([]credential.App, error) {
	const op = "boltstore.Apps"
	apps := []credential.App{}
	err := s.db.View(func(tx *bolt.Tx) error {
		t := tx.Bucket(bktApps).Bucket([]byte(tenant))
		if t == nil {
			return nil
		}
		c := t.Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(apps) < limit; k, v = c.Next() {
			var a credential.App
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			apps = append(apps, a)
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return apps, nil
}

func dueKey(d credential.Due) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(max(d.DueAt.Unix(), 0)))
	return append(b[:], key(d.Tenant, d.AppID, d.Platform)...)
}

// dues lists the expiry index entries app a implies.
func dues(a *credential.App) []credential.Due {
	var out []credential.Due
	for _, p := range []push.Platform{push.APNs, push.FCM} {
		if m := a.Meta(p); m != nil && !m.DueAt.IsZero() {
			out = append(out, credential.Due{Tenant: a.Tenant, AppID: a.ID, Platform: p, DueAt: m.DueAt})
		}
	}
	return out
}

// Apply implements credential.AppStore: one bbolt transaction.
// Errors: Conflict (credential.ErrAppExists, or an event id exists),
// NotFound, PreconditionFailed (credential.ErrVersionMismatch), Internal.
func (s *Store) Apply(_ context.Context, c credential.Change) error {
	const op = "boltstore.Apply"
	err := s.db.Update(func(tx *bolt.Tx) error {
		t, err := tx.Bucket(bktApps).CreateBucketIfNotExists([]byte(c.Tenant))
		if err != nil {
			return err
		}
		raw := t.Get([]byte(c.AppID))
		var old *credential.App
		switch {
		case c.Expect == 0 && raw != nil:
			return push.E(op, push.Conflict, credential.ErrAppExists).WithMsg("app %s already exists", c.AppID)
		case c.Expect != 0 && raw == nil:
			return push.Errorf(op, push.NotFound, "app %s does not exist", c.AppID)
		case raw != nil:
			old = new(credential.App)
			if err := json.Unmarshal(raw, old); err != nil {
				return err
			}
			if old.Version != c.Expect {
				return push.E(op, push.PreconditionFailed, credential.ErrVersionMismatch).WithMsg("app %s changed since it was read; read it again", c.AppID)
			}
		}
		due := tx.Bucket(bktDue)
		if old != nil {
			for _, d := range dues(old) {
				if err := due.Delete(dueKey(d)); err != nil {
					return err
				}
			}
		}
		if c.App != nil {
			if err := put(t, []byte(c.AppID), c.App); err != nil {
				return err
			}
			for _, d := range dues(c.App) {
				if err := put(due, dueKey(d), d); err != nil {
					return err
				}
			}
		} else if err := t.Delete([]byte(c.AppID)); err != nil {
			return err
		}
		for _, e := range c.Events {
			if err := appendEvent(tx, e); err != nil {
				return err
			}
		}
		for _, g := range c.Bury {
			if err := put(tx.Bucket(bktGraves), []byte(g.SecretID), g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return internal(op, err)
	}
	return nil
}

func appendEvent(tx *bolt.Tx, e credential.Event) error {
	b, err := tx.Bucket(bktAudit).CreateBucketIfNotExists(key(e.Tenant, e.AppID))
	if err != nil {
		return err
	}
	if b.Get([]byte(e.ID)) != nil {
		return push.E("boltstore.AppendEvent", push.Conflict, fmt.Errorf("event %s exists", e.ID))
	}
	return put(b, []byte(e.ID), e)
}

// AppendEvent implements credential.AuditLog.
// Errors: Conflict, Internal.
func (s *Store) AppendEvent(_ context.Context, e credential.Event) error {
	if err := s.db.Update(func(tx *bolt.Tx) error { return appendEvent(tx, e) }); err != nil {
		return internal("boltstore.AppendEvent", err)
	}
	return nil
}

// Events implements credential.AuditLog.
// Errors: Internal.
func (s *Store) Events(_ context.Context, tenant, appID, before string, limit int) ([]credential.Event, error) {
	const op = "boltstore.Events"
	evs := []credential.Event{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktAudit).Bucket(key(tenant, appID))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		if before == "" {
			k, v = c.Last()
		} else if k, v = c.Seek([]byte(before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && len(evs) < limit; k, v = c.Prev() {
			var e credential.Event
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			evs = append(evs, e)
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return evs, nil
}

// Due implements credential.DueIndex: it walks the due bucket, ordered by
// due time, and stops at the first entry after now.
// Errors: Internal.
func (s *Store) Due(_ context.Context, now time.Time, limit int) ([]credential.Due, error) {
	const op = "boltstore.Due"
	out := []credential.Due{}
	var end [8]byte
	binary.BigEndian.PutUint64(end[:], uint64(max(now.Unix(), 0))+1)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktDue).Cursor()
		for k, v := c.First(); k != nil && bytes.Compare(k[:8], end[:]) < 0 && len(out) < limit; k, v = c.Next() {
			var d credential.Due
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if !d.DueAt.After(now) {
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Graves implements credential.Graveyard.
// Errors: Internal.
func (s *Store) Graves(_ context.Context, limit int) ([]credential.Grave, error) {
	const op = "boltstore.Graves"
	out := []credential.Grave{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktGraves).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var g credential.Grave
			if err := json.Unmarshal(v, &g); err != nil {
				return err
			}
			out = append(out, g)
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return out, nil
}

// Unbury implements credential.Graveyard.
// Errors: Internal.
func (s *Store) Unbury(_ context.Context, secretID string) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktGraves).Delete([]byte(secretID)) })
	if err != nil {
		return internal("boltstore.Unbury", err)
	}
	return nil
}
