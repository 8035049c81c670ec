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
	msgs, index, tenants, flight, dead, groups *bolt.Bucket
	now                                        time.Time
}

func (q *Queue) buckets(tx *bolt.Tx) *qtx {
	return bucketsOf(tx.Bucket(bktQueues).Bucket(q.name), time.Now())
}

func bucketsOf(b *bolt.Bucket, now time.Time) *qtx {
	return &qtx{
		msgs: b.Bucket(qMsgs), index: b.Bucket(qIndex), tenants: b.Bucket(qTenants), flight: b.Bucket(qFlight),
		dead: b.Bucket(qDead), groups: b.Bucket(qGroups), now: now,
	}
}

// reindex builds the tenant index, the tenant counts and the in-flight
// set of queue bucket b from its messages, and drops the index of
// before tenants (a queue made by an earlier version).
func reindex(b *bolt.Bucket, now time.Time) error {
	if b.Bucket(qIndexV1) != nil {
		if err := b.DeleteBucket(qIndexV1); err != nil {
			return err
		}
	}
	t := bucketsOf(b, now)
	var all []*stored
	if err := t.msgs.ForEach(func(k, _ []byte) error {
		m, err := t.get(t.msgs, string(k))
		if err == nil {
			all = append(all, m)
		}
		return err
	}); err != nil {
		return err
	}
	for _, m := range all {
		if err := t.putMain(m, time.Time{}); err != nil {
			return err
		}
	}
	return nil
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

// tenantPrefix is the index prefix of tenant's messages: its length
// (uvarint) and its bytes, so no tenant's prefix starts another's.
func tenantPrefix(tenant string) []byte {
	p := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(tenant)+8), uint64(len(tenant)))
	return append(p, tenant...)
}

func indexKey(tenant string, at time.Time, id string) []byte {
	k := tenantPrefix(tenant)
	k = binary.BigEndian.AppendUint64(k, uint64(max(at.UnixNano(), 0)))
	return append(k, id...)
}

// indexAt is the visible_at of index key k of a tenant with prefix p.
func indexAt(p, k []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(k[len(p):len(p)+8])))
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

// putMain stores m in the main queue, indexed by its tenant and
// VisibleAt, and in the in-flight set while it is received and hidden;
// old is the VisibleAt it was indexed under (zero for a message new to
// the main queue).
func (t *qtx) putMain(m *stored, old time.Time) error {
	if !old.IsZero() {
		if err := t.index.Delete(indexKey(m.Tenant, old, m.ID)); err != nil {
			return err
		}
	} else if err := t.countTenant(m.Tenant, 1); err != nil {
		return err
	}
	if err := put(t.msgs, []byte(m.ID), m); err != nil {
		return err
	}
	if err := t.index.Put(indexKey(m.Tenant, m.VisibleAt, m.ID), nil); err != nil {
		return err
	}
	if m.Receipt != "" && m.VisibleAt.After(t.now) {
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(m.Tenant)), uint64(m.VisibleAt.UnixNano()))
		return t.flight.Put([]byte(m.ID), append(v, m.Tenant...))
	}
	return t.flight.Delete([]byte(m.ID))
}

func (t *qtx) removeMain(m *stored) error {
	if err := t.index.Delete(indexKey(m.Tenant, m.VisibleAt, m.ID)); err != nil {
		return err
	}
	if err := t.flight.Delete([]byte(m.ID)); err != nil {
		return err
	}
	if err := t.countTenant(m.Tenant, -1); err != nil {
		return err
	}
	return t.msgs.Delete([]byte(m.ID))
}

// countTenant adds d to the count of tenant's messages in the main
// queue; a tenant with none is dropped.
func (t *qtx) countTenant(tenant string, d int) error {
	key := tenantPrefix(tenant) // never empty, as bbolt keys must not be
	n := int64(d)
	if raw := t.tenants.Get(key); len(raw) == 8 {
		n += int64(binary.BigEndian.Uint64(raw))
	}
	if n <= 0 {
		return t.tenants.Delete(key)
	}
	return t.tenants.Put(key, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// inFlight counts the messages in flight per tenant, dropping the
// entries whose visibility timeout has passed (visible again).
func (t *qtx) inFlight() (map[string]int, error) {
	n := map[string]int{}
	var ended [][]byte
	c := t.flight.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(v) < 8 || !time.Unix(0, int64(binary.BigEndian.Uint64(v[:8]))).After(t.now) {
			ended = append(ended, append([]byte(nil), k...))
			continue
		}
		n[string(v[8:])]++
	}
	if !t.flight.Tx().Writable() {
		return n, nil
	}
	for _, k := range ended {
		if err := t.flight.Delete(k); err != nil {
			return nil, err
		}
	}
	return n, nil
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
