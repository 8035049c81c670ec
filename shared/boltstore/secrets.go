package boltstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// secretMeta is the record of one secret: its owner and stages.
type secretMeta struct {
	Owner    credential.SecretOwner `json:"owner"`
	Current  string                 `json:"current"`
	Previous string                 `json:"previous,omitempty"`
	Pending  string                 `json:"pending,omitempty"`
	DeleteAt time.Time              `json:"delete_at,omitzero"` // scheduled for deletion
}

var (
	keyMeta     = []byte("meta")
	bktVersions = []byte("versions")
)

func randomID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func checkSize(op string, v push.Redacted) error {
	if n := len(v.Reveal()); n > credential.MaxSecretSize {
		return push.Errorf(op, push.TooLarge, "the stored credential would be %d bytes, the limit is %d", n, credential.MaxSecretSize)
	}
	return nil
}

// secret returns the bucket and record of secret id, NotFound when it is
// missing or scheduled for deletion.
func secret(op string, tx *bolt.Tx, id string) (*bolt.Bucket, secretMeta, error) {
	var m secretMeta
	b := tx.Bucket(bktSecrets).Bucket([]byte(id))
	if b == nil {
		return nil, m, push.E(op, push.NotFound, fmt.Errorf("secret %s", id)).WithMsg("the secret does not exist")
	}
	if err := json.Unmarshal(b.Get(keyMeta), &m); err != nil {
		return nil, m, err
	}
	if !m.DeleteAt.IsZero() {
		return nil, m, push.E(op, push.NotFound, fmt.Errorf("secret %s is scheduled for deletion", id)).WithMsg("the secret is scheduled for deletion")
	}
	return b, m, nil
}

// CreateSecret implements credential.SecretStore.
// Errors: TooLarge, Internal.
func (s *Store) CreateSecret(_ context.Context, owner credential.SecretOwner, value push.Redacted) (string, string, error) {
	const op = "boltstore.CreateSecret"
	if err := checkSize(op, value); err != nil {
		return "", "", err
	}
	id, ver := randomID("secret-"), randomID("")
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bktSecrets).CreateBucket([]byte(id))
		if err != nil {
			return err
		}
		vb, err := b.CreateBucket(bktVersions)
		if err != nil {
			return err
		}
		if err := vb.Put([]byte(ver), s.seal.seal(value.Reveal(), id, ver)); err != nil {
			return err
		}
		return put(b, keyMeta, secretMeta{Owner: owner, Current: ver})
	})
	if err != nil {
		return "", "", internal(op, err)
	}
	return id, ver, nil
}

// PutVersion implements credential.SecretStore.
// Errors: NotFound, TooLarge, Internal.
func (s *Store) PutVersion(_ context.Context, id string, value push.Redacted) (string, error) {
	const op = "boltstore.PutVersion"
	if err := checkSize(op, value); err != nil {
		return "", err
	}
	ver := randomID("")
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, m, err := secret(op, tx, id)
		if err != nil {
			return err
		}
		if err := b.Bucket(bktVersions).Put([]byte(ver), s.seal.seal(value.Reveal(), id, ver)); err != nil {
			return err
		}
		m.Pending = ver
		return put(b, keyMeta, m)
	})
	if err != nil {
		return "", internal(op, err)
	}
	return ver, nil
}

// ReadVersion implements credential.SecretStore.
// Errors: NotFound, Internal.
func (s *Store) ReadVersion(_ context.Context, id, versionID string) (push.Redacted, error) {
	const op = "boltstore.ReadVersion"
	var plain []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b, _, err := secret(op, tx, id)
		if err != nil {
			return err
		}
		sealed := b.Bucket(bktVersions).Get([]byte(versionID))
		if sealed == nil {
			return push.E(op, push.NotFound, fmt.Errorf("secret %s version %s", id, versionID)).WithMsg("the secret version does not exist")
		}
		plain, err = s.seal.open(sealed, id, versionID)
		if err != nil {
			return push.E(op, push.Internal, fmt.Errorf("secret %s version %s: %w", id, versionID, err))
		}
		return nil
	})
	if err != nil {
		return push.Redacted{}, internal(op, err)
	}
	return push.NewRedacted(plain), nil
}

// Promote implements credential.SecretStore.
// Errors: NotFound, Internal.
func (s *Store) Promote(_ context.Context, id, versionID string) error {
	const op = "boltstore.Promote"
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, m, err := secret(op, tx, id)
		if err != nil {
			return err
		}
		if b.Bucket(bktVersions).Get([]byte(versionID)) == nil {
			return push.E(op, push.NotFound, fmt.Errorf("secret %s version %s", id, versionID)).WithMsg("the secret version does not exist")
		}
		if m.Current == versionID {
			return nil
		}
		m.Previous, m.Current = m.Current, versionID
		if m.Pending == versionID {
			m.Pending = ""
		}
		return put(b, keyMeta, m)
	})
	if err != nil {
		return internal(op, err)
	}
	return nil
}

// ScheduleDeletion implements credential.SecretStore: the secret becomes
// unreadable at once and is purged after the recovery window (by a later
// ScheduleDeletion call).
// Errors: Internal.
func (s *Store) ScheduleDeletion(_ context.Context, id string) error {
	const op = "boltstore.ScheduleDeletion"
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		all := tx.Bucket(bktSecrets)
		if b := all.Bucket([]byte(id)); b != nil {
			var m secretMeta
			if err := json.Unmarshal(b.Get(keyMeta), &m); err != nil {
				return err
			}
			if m.DeleteAt.IsZero() {
				m.DeleteAt = now.Add(s.window)
				if err := put(b, keyMeta, m); err != nil {
					return err
				}
			}
		}
		// Purge secrets whose recovery window has passed.
		var purge [][]byte
		err := all.ForEachBucket(func(k []byte) error {
			var m secretMeta
			if err := json.Unmarshal(all.Bucket(k).Get(keyMeta), &m); err != nil {
				return err
			}
			if !m.DeleteAt.IsZero() && m.DeleteAt.Before(now) {
				purge = append(purge, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range purge {
			if err := all.DeleteBucket(k); err != nil {
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
