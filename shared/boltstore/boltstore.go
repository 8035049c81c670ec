// Package boltstore is the embedded default store of mobilepush: the
// credential MetadataStore and SecretStore on one bbolt file, for the local
// `mobilepush serve` and its tests (docs/ARCHITECTURE.md, The bbolt file).
// The same file holds the embedded send queue (shared/localqueue, opened
// on Store.DB).
//
// Secret values are sealed with AES-256-GCM under a key kept in a separate
// file, created with mode 0600 on first use. One process owns the file:
// another that opens it waits at most Options.Timeout (default 1 s) for the
// lock and then gets an error wrapping ErrLocked, never a corrupted file.
package boltstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// ErrLocked is wrapped by Open when another process holds the data file.
var ErrLocked = errors.New("data file is locked by another process")

// Options configures Open.
type Options struct {
	// KeyFile is the sealing key's path; "" means the data file's path
	// with ".key" appended.
	KeyFile string
	// Timeout is how long Open waits for the file lock; 0 means 1 s.
	Timeout time.Duration
	// Now is the clock for TTLs and deletion windows; nil means time.Now.
	Now func() time.Time
	// RecoveryWindow is how long a secret scheduled for deletion is kept
	// (unreadable) before it is purged; 0 means 7 days.
	RecoveryWindow time.Duration
}

// Store implements credential.MetadataStore and credential.SecretStore on
// one bbolt file. It is safe for concurrent use.
type Store struct {
	db     *bolt.DB
	seal   *sealer
	now    func() time.Time
	window time.Duration
}

var (
	_ credential.MetadataStore = (*Store)(nil)
	_ credential.SecretStore   = (*Store)(nil)
)

var (
	bktApps     = []byte("apps")     // tenant -> id -> App
	bktDue      = []byte("due")      // be64(unix) + json key -> Due
	bktAudit    = []byte("audit")    // json[tenant,app] -> event id -> Event
	bktGraves   = []byte("graves")   // secret id -> Grave
	bktClaims   = []byte("claims")   // json message key -> Claim
	bktOutcomes = []byte("outcomes") // json message key -> json[platform,token] -> Outcome
	bktSecrets  = []byte("secrets")  // secret id -> {meta, versions/<id> -> sealed}
)

// Open opens (creating if needed) the store in the bbolt file at path and
// its sealing key. When another process holds the file it fails after
// Options.Timeout with an error wrapping ErrLocked (Kind Conflict).
// Errors: Conflict (ErrLocked), Internal.
func Open(path string, o Options) (*Store, error) {
	const op = "boltstore.Open"
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.KeyFile == "" {
		o.KeyFile = path + ".key"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RecoveryWindow <= 0 {
		o.RecoveryWindow = 7 * 24 * time.Hour
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, push.E(op, push.Conflict, fmt.Errorf("open %s: waited %v: %w (stop the other mobilepush process or use another data directory)", path, o.Timeout, ErrLocked))
	}
	if err != nil {
		return nil, push.E(op, push.Internal, fmt.Errorf("open %s: %w", path, err))
	}
	key, err := loadKey(o.KeyFile)
	if err != nil {
		db.Close()
		return nil, push.E(op, push.Other, err)
	}
	sl, err := newSealer(key)
	if err != nil {
		db.Close()
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bktApps, bktDue, bktAudit, bktGraves, bktClaims, bktOutcomes, bktSecrets} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, push.E(op, push.Internal, fmt.Errorf("init %s: %w", path, err))
	}
	return &Store{db: db, seal: sl, now: o.Now, window: o.RecoveryWindow}, nil
}

// DB returns the open bbolt file, for a package that keeps buckets of its
// own in it (shared/localqueue, under "queues"); it must not touch the
// store's buckets. The Store closes it.
func (s *Store) DB() *bolt.DB { return s.db }

// Close releases the file and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return push.E("boltstore.Close", push.Internal, err)
	}
	return nil
}

// key encodes the parts of a composite key unambiguously.
func key(parts ...any) []byte {
	b, _ := json.Marshal(parts)
	return b
}

func put(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, raw)
}

// internal wraps an unexpected failure of the file or of stored data.
func internal(op string, err error) error {
	var pe *push.Error
	if errors.As(err, &pe) {
		return err
	}
	return push.E(op, push.Internal, err)
}

// CopyTo writes a consistent copy of the data file to path (mode 0600),
// while the store stays in use: e.g. for a dry run that must not change
// the original. The copy opens with the same sealing key.
// Errors: Internal.
func (s *Store) CopyTo(path string) error {
	err := s.db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o600) })
	if err != nil {
		return push.E("boltstore.CopyTo", push.Internal, fmt.Errorf("copy to %s: %w", path, err))
	}
	return nil
}
