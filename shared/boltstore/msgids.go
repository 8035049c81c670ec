package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bktMessageIDs maps json[tenant,message id] -> messageID: the content
// each message id was first accepted with. The key sweepKey (not a JSON
// array, so no message's key) holds when expired records were last
// deleted.
var (
	bktMessageIDs = []byte("message_ids")
	sweepKey      = []byte("\x00swept")
)

// sweepEvery is how often RememberMessage deletes expired records.
const sweepEvery = time.Hour

type messageID struct {
	Digest    string    `json:"digest"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RememberMessage records that tenant accepted message id with content
// digest, remembered until until, unless a record of the id that has not
// expired is there. It returns the digest recorded (the earlier one when
// there is one) and whether this call recorded it. Expired records are
// deleted as it goes, at most once per hour.
// Errors: Internal.
func (s *Store) RememberMessage(_ context.Context, tenant, id, digest string, until time.Time) (recorded string, first bool, err error) {
	const op = "boltstore.RememberMessage"
	now := s.now()
	k := key(tenant, id)
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bktMessageIDs)
		if err != nil {
			return err
		}
		if err := sweepMessageIDs(b, now); err != nil {
			return err
		}
		if raw := b.Get(k); raw != nil {
			var m messageID
			if err := json.Unmarshal(raw, &m); err != nil {
				return err
			}
			if now.Before(m.ExpiresAt) {
				recorded = m.Digest
				return nil
			}
		}
		recorded, first = digest, true
		return put(b, k, messageID{Digest: digest, ExpiresAt: until})
	})
	if err != nil {
		return "", false, internal(op, err)
	}
	return recorded, first, nil
}

// sweepMessageIDs deletes the expired records of b when the last sweep
// is sweepEvery ago.
func sweepMessageIDs(b *bolt.Bucket, now time.Time) error {
	if raw := b.Get(sweepKey); len(raw) == 8 && now.Before(time.Unix(int64(binary.BigEndian.Uint64(raw)), 0).Add(sweepEvery)) {
		return nil
	}
	var expired [][]byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if k[0] != '[' {
			continue
		}
		var m messageID
		if json.Unmarshal(v, &m) != nil || !now.Before(m.ExpiresAt) {
			expired = append(expired, k)
		}
	}
	for _, k := range expired {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return b.Put(sweepKey, binary.BigEndian.AppendUint64(nil, uint64(now.Unix())))
}
