package localqueue

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/push"
)

// qtx is the buckets of one queue in one transaction.
type qtx struct {
	msgs, index, dead, groups *bolt.Bucket
	now                       time.Time
}

func (q *Queue) buckets(tx *bolt.Tx) *qtx {
	b := tx.Bucket(bktQueues).Bucket(q.name)
	return &qtx{msgs: b.Bucket(qMsgs), index: b.Bucket(qIndex), dead: b.Bucket(qDead), groups: b.Bucket(qGroups), now: time.Now()}
}

func (q *Queue) update(fn func(t *qtx) error) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		t := q.buckets(tx)
		t.now = q.cfg.Now()
		return fn(t)
	})
}

func (q *Queue) view(fn func(t *qtx) error) error {
	return q.db.View(func(tx *bolt.Tx) error {
		t := q.buckets(tx)
		t.now = q.cfg.Now()
		return fn(t)
	})
}

func indexKey(at time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(max(at.UnixNano(), 0)))
	return append(k, id...)
}

// newID returns a message id that sorts by creation time.
func newID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

func newReceipt() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (t *qtx) get(b *bolt.Bucket, id string) (*stored, error) {
	raw := b.Get([]byte(id))
	if raw == nil {
		return nil, nil
	}
	var m stored
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("queue message %s: %w", id, err)
	}
	return &m, nil
}

// putMain stores m in the main queue, indexed by its VisibleAt; old is
// the VisibleAt it was indexed under (zero for a new message).
func (t *qtx) putMain(m *stored, old time.Time) error {
	if !old.IsZero() {
		if err := t.index.Delete(indexKey(old, m.ID)); err != nil {
			return err
		}
	}
	if err := put(t.msgs, []byte(m.ID), m); err != nil {
		return err
	}
	return t.index.Put(indexKey(m.VisibleAt, m.ID), nil)
}

func (t *qtx) removeMain(m *stored) error {
	if err := t.index.Delete(indexKey(m.VisibleAt, m.ID)); err != nil {
		return err
	}
	return t.msgs.Delete([]byte(m.ID))
}

// group applies fn to the stats of group g (nothing for no group).
func (t *qtx) group(g string, fn func(*GroupStats)) error {
	if g == "" {
		return nil
	}
	var s GroupStats
	if raw := t.groups.Get([]byte(g)); raw != nil {
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("queue group: %w", err)
		}
	}
	fn(&s)
	s.Live, s.Dead = max(s.Live, 0), max(s.Dead, 0)
	s.UpdatedAt = t.now
	return put(t.groups, []byte(g), s)
}

// toDead moves m (already out of the main queue, or new) to the
// dead-letter queue.
func (t *qtx) toDead(m *stored, reason string, fromMain bool) error {
	m.DeadAt, m.DeadReason, m.Receipt = t.now, reason, ""
	if err := put(t.dead, []byte(m.ID), m); err != nil {
		return err
	}
	return t.group(m.Group, func(s *GroupStats) {
		if fromMain {
			s.Live--
		}
		s.Dead++
	})
}

func (q *Queue) signal() {
	q.mu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.mu.Unlock()
}

func (q *Queue) waiter() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

// put stores v as JSON under k.
func put(b *bolt.Bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err == nil {
		err = b.Put(k, raw)
	}
	return err
}

// internal wraps an unexpected failure of the file or of stored data; a
// *push.Error keeps its kind.
func internal(op string, err error) error {
	if _, ok := errors.AsType[*push.Error](err); ok {
		return err
	}
	return push.E(op, push.Internal, err)
}
