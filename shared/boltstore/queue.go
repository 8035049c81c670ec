package boltstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/push"
)

// The queue buckets: bktQueues holds one bucket per queue name, and each
// of those the buckets below.
var (
	bktQueues = []byte("queues")
	qMsgs     = []byte("m") // message id -> QueueMessage (the main queue)
	qIndex    = []byte("t") // tenantPrefix(tenant) + be64(visible_at ns) + message id -> nil
	qTenants  = []byte("n") // tenantPrefix(tenant) -> be64(its messages in the main queue)
	qFlight   = []byte("f") // message id -> be64(in flight until, ns) + tenant
	qDead     = []byte("d") // message id -> QueueMessage (the dead-letter queue)
	qGroups   = []byte("g") // group -> GroupStats

	// qIndexV1 is the index before tenants: be64(visible_at ns) + id.
	// Opening a queue that has it rebuilds the index by tenant.
	qIndexV1 = []byte("i")
)

// Queue errors.
var (
	// ErrStaleReceipt is wrapped when a receipt handle is not the latest
	// one of its message: the visibility timeout passed and the message
	// was received again (or deleted).
	ErrStaleReceipt = errors.New("receipt handle is stale: the message was received again or deleted")
)

// ReasonMaxReceives is the DeadReason of a message the queue moved to the
// dead-letter queue because it was received MaxReceiveCount times
// without being deleted.
const ReasonMaxReceives = "max_receive_count"

// QueueConfig configures a Queue.
type QueueConfig struct {
	// VisibilityTimeout is how long a received message stays invisible
	// unless Receive is given another; 0 means 5 minutes.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is how many receives a message gets: the next
	// receive moves it to the dead-letter queue instead (SQS's redrive
	// policy). 0 means 5.
	MaxReceiveCount int
	// GroupTTL is how long the stats of a group stay readable after its
	// last message left the main queue; 0 means 7 days.
	GroupTTL time.Duration
}

// Queue is a durable message queue with SQS semantics in the store's
// bbolt file: delayed sends, receives that hide a message for a
// visibility timeout and count receives, delete by receipt handle,
// changing the visibility, a dead-letter queue (after MaxReceiveCount
// receives, or by an explicit SendDead) and redrive from it.
//
// Every operation is one bbolt transaction, synced to disk before it
// returns: a message Send accepted survives a crash or kill at any
// moment, and a message that was in flight when the process died becomes
// visible again when its visibility timeout ends.
//
// Messages may name a group (like an SQS message group id, without FIFO
// order): the queue keeps per-group counts, updated in the same
// transactions, so a caller can tell whether a logical message still has
// parts on the queue. Use one *Queue per queue name and Store (receivers
// are woken by the sends of the same *Queue). Safe for concurrent use.
//
// The queue is fair across tenants (each message's Tenant; messages
// without one share the tenant ""), as an SQS fair queue is: a receive
// takes each message from the tenant with the fewest messages in flight
// that has one visible (ties: the oldest visible message first), and
// within a tenant the oldest visible first. A tenant with a backlog so
// never holds up another tenant's message for more than about one
// receive, and a tenant alone gets every message it has, oldest first.
type Queue struct {
	s    *Store
	name []byte
	cfg  QueueConfig

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when a message is sent
}

// QueueMessage is a message as the queue keeps it.
type QueueMessage struct {
	ID         string            `json:"id"`
	Body       []byte            `json:"body"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Group      string            `json:"group,omitempty"`
	// Tenant is whom the message is for: receives share out by it.
	Tenant string    `json:"tenant,omitempty"`
	SentAt time.Time `json:"sent_at"`
	// VisibleAt is when the message can be received (next).
	VisibleAt time.Time `json:"visible_at"`
	// ReceiveCount is how many times the message was received.
	ReceiveCount  int       `json:"receive_count"`
	FirstReceived time.Time `json:"first_received,omitzero"`
	// DeadAt and DeadReason are set in the dead-letter queue; DeadReason
	// is ReasonMaxReceives or the reason given to SendDead.
	DeadAt     time.Time `json:"dead_at,omitzero"`
	DeadReason string    `json:"dead_reason,omitempty"`
}

// stored is the JSON form of a QueueMessage with its receipt.
type stored struct {
	QueueMessage
	Receipt string `json:"receipt,omitempty"`
}

// Received is a message handed out by Receive: its ReceiptHandle deletes
// it or changes its visibility until it is received again.
type Received struct {
	QueueMessage
	ReceiptHandle string
}

// SendInput is one message to send.
type SendInput struct {
	Body       []byte
	Attributes map[string]string
	Group      string
	// Tenant is whom the message is for (see Queue: receives are fair
	// across tenants).
	Tenant string
	// Delay hides the message for this long after the send (SQS allows up
	// to 15 minutes; this queue does not limit it).
	Delay time.Duration
	// Reason is the DeadReason of a message sent with SendDead.
	Reason string
}

// QueueStats counts the messages of a queue, as SQS's
// ApproximateNumberOf* attributes do, but exactly.
type QueueStats struct {
	Visible  int // ready to be received (the depth)
	InFlight int // received, neither deleted nor visible again yet
	Delayed  int // sent with a delay that has not passed
	Dead     int // in the dead-letter queue
}

// GroupStats counts the messages of one group.
type GroupStats struct {
	// Live is the group's messages in the main queue (visible, in flight
	// or delayed).
	Live int `json:"live"`
	// Dead is the group's messages in the dead-letter queue.
	Dead int `json:"dead"`
	// Received reports whether a message of the group was ever received.
	Received  bool      `json:"received"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Queue opens (creating if needed) the queue called name in the store.
// Errors: Invalid (empty name), Internal.
func (s *Store) Queue(name string, cfg QueueConfig) (*Queue, error) {
	const op = "boltstore.Queue"
	if name == "" {
		return nil, push.E(op, push.Invalid, errors.New("queue name is empty"))
	}
	if cfg.VisibilityTimeout <= 0 {
		cfg.VisibilityTimeout = 5 * time.Minute
	}
	if cfg.MaxReceiveCount <= 0 {
		cfg.MaxReceiveCount = 5
	}
	if cfg.GroupTTL <= 0 {
		cfg.GroupTTL = 7 * 24 * time.Hour
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		all, err := tx.CreateBucketIfNotExists(bktQueues)
		if err != nil {
			return err
		}
		q, err := all.CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return err
		}
		rebuild := q.Bucket(qIndex) == nil
		for _, b := range [][]byte{qMsgs, qIndex, qTenants, qFlight, qDead, qGroups} {
			if _, err := q.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if rebuild {
			return reindex(q, s.now())
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, fmt.Errorf("create queue %s: %w", name, err))
	}
	return &Queue{s: s, name: []byte(name), cfg: cfg, wake: make(chan struct{})}, nil
}

// Config returns the queue's configuration with defaults applied.
func (q *Queue) Config() QueueConfig { return q.cfg }

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
	return q.s.db.Update(func(tx *bolt.Tx) error {
		t := q.buckets(tx)
		t.now = q.s.now()
		return fn(t)
	})
}

func (q *Queue) view(fn func(t *qtx) error) error {
	return q.s.db.View(func(tx *bolt.Tx) error {
		t := q.buckets(tx)
		t.now = q.s.now()
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

// Send puts the messages on the queue in one transaction (all or none)
// and returns their ids once they are on disk.
// Errors: Invalid (an empty body or a negative delay), Internal.
func (q *Queue) Send(_ context.Context, in ...SendInput) ([]string, error) {
	const op = "boltstore.Queue.Send"
	if err := checkInputs(op, in); err != nil {
		return nil, err
	}
	ids := make([]string, len(in))
	err := q.update(func(t *qtx) error {
		for i, s := range in {
			m := &stored{QueueMessage: QueueMessage{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now.Add(s.Delay)}}
			if err := t.putMain(m, time.Time{}); err != nil {
				return err
			}
			if err := t.group(s.Group, func(g *GroupStats) { g.Live++ }); err != nil {
				return err
			}
			ids[i] = m.ID
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	q.signal()
	return ids, nil
}

// SendDead puts the messages straight into the dead-letter queue, each
// with its Reason, in one transaction.
// Errors: Invalid (an empty body), Internal.
func (q *Queue) SendDead(_ context.Context, in ...SendInput) ([]string, error) {
	const op = "boltstore.Queue.SendDead"
	if err := checkInputs(op, in); err != nil {
		return nil, err
	}
	ids := make([]string, len(in))
	err := q.update(func(t *qtx) error {
		for i, s := range in {
			m := &stored{QueueMessage: QueueMessage{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now}}
			if err := t.toDead(m, s.Reason, false); err != nil {
				return err
			}
			ids[i] = m.ID
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, err)
	}
	return ids, nil
}

func checkInputs(op string, in []SendInput) error {
	for i, s := range in {
		switch {
		case len(s.Body) == 0:
			return push.E(op, push.Invalid, fmt.Errorf("message %d: empty body", i))
		case s.Delay < 0:
			return push.E(op, push.Invalid, fmt.Errorf("message %d: negative delay", i))
		}
	}
	return nil
}

// Receive returns up to max visible messages, fairly across tenants (see
// Queue), each hidden for visibility (0 means the queue's
// VisibilityTimeout) with its receive count raised. A message already received MaxReceiveCount times
// goes to the dead-letter queue instead. With none visible it waits up to
// wait for one (long polling) and returns an empty slice when none came
// or ctx ended.
// Errors: Internal.
func (q *Queue) Receive(ctx context.Context, max int, visibility, wait time.Duration) ([]Received, error) {
	return q.receive(ctx, "boltstore.Queue.Receive", max, visibility, wait, false)
}

// ReceiveQuiet is Receive restricted to quiet tenants: those with no
// message in flight, or fewer than the tenant with the most. A receiver
// kept for them takes a quiet tenant's message at once while the other
// receivers are busy with a noisy tenant's; a tenant alone is never
// quiet while it has a message in flight.
// Errors: Internal.
func (q *Queue) ReceiveQuiet(ctx context.Context, max int, visibility, wait time.Duration) ([]Received, error) {
	return q.receive(ctx, "boltstore.Queue.ReceiveQuiet", max, visibility, wait, true)
}

func (q *Queue) receive(ctx context.Context, op string, max int, visibility, wait time.Duration, quiet bool) ([]Received, error) {
	if max <= 0 {
		max = 1
	}
	if visibility <= 0 {
		visibility = q.cfg.VisibilityTimeout
	}
	deadline := time.Now().Add(wait)
	for {
		woken := q.waiter()
		var out []Received
		var next time.Time // the earliest invisible message
		// Look first in a read transaction: an empty receive (a long poll
		// woken by another tenant's send) then costs no disk sync.
		ready := false
		err := q.view(func(t *qtx) error {
			flying, err := t.inFlight()
			if err != nil {
				return err
			}
			ids, n, err := t.pick(flying, 1, quiet)
			ready, next = len(ids) > 0, n
			return err
		})
		if err == nil && ready {
			err = q.update(func(t *qtx) error {
				out, next = out[:0], time.Time{}
				flying, err := t.inFlight()
				if err != nil {
					return err
				}
				for len(out) < max {
					var ids []string
					ids, next, err = t.pick(flying, max-len(out), quiet)
					if err != nil || len(ids) == 0 {
						return err
					}
					for _, id := range ids {
						r, err := q.receiveOne(t, id, visibility)
						if err != nil {
							return err
						}
						if r != nil {
							out = append(out, *r)
							flying[r.Tenant]++
						}
					}
				}
				return nil
			})
		}
		if err != nil {
			return nil, internal(op, err)
		}
		left := time.Until(deadline)
		if len(out) > 0 || left <= 0 {
			return out, nil
		}
		if !next.IsZero() {
			left = min(left, time.Until(next)+time.Millisecond)
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return out, nil
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

// pick chooses up to n visible messages, fairly: each from the tenant
// with the fewest messages in flight (flying, counting the ones picked
// before it), ties to the oldest visible message, oldest first within a
// tenant; with quiet, only from quiet tenants (see ReceiveQuiet). next is
// when the earliest hidden message becomes visible (zero if none is
// known). Stale index entries are dropped.
func (t *qtx) pick(flying map[string]int, n int, quiet bool) (ids []string, next time.Time, err error) {
	type head struct {
		tenant string
		prefix []byte
		keys   [][]byte // visible, oldest first
		took   int
	}
	var heads []*head
	busiest := 0
	for _, n := range flying {
		busiest = max(busiest, n)
	}
	tc := t.tenants.Cursor()
	for tk, _ := tc.First(); tk != nil; tk, _ = tc.Next() {
		_, w := binary.Uvarint(tk)
		h := &head{tenant: string(tk[w:]), prefix: append([]byte(nil), tk...)}
		if quiet && flying[h.tenant] > 0 && flying[h.tenant] >= busiest {
			continue
		}
		c := t.index.Cursor()
		for k, _ := c.Seek(h.prefix); k != nil && bytes.HasPrefix(k, h.prefix) && len(h.keys) < n; k, _ = c.Next() {
			if at := indexAt(h.prefix, k); at.After(t.now) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				break
			}
			h.keys = append(h.keys, append([]byte(nil), k...))
		}
		if len(h.keys) > 0 {
			heads = append(heads, h)
		}
	}
	picked := map[string]int{}
	for len(ids) < n {
		var best *head
		for _, h := range heads {
			if h.took == len(h.keys) {
				continue
			}
			if best == nil {
				best = h
				continue
			}
			hf, bf := flying[h.tenant]+picked[h.tenant], flying[best.tenant]+picked[best.tenant]
			if hf < bf || (hf == bf && indexAt(h.prefix, h.keys[h.took]).Before(indexAt(best.prefix, best.keys[best.took]))) {
				best = h
			}
		}
		if best == nil {
			break
		}
		k := best.keys[best.took]
		best.took++
		picked[best.tenant]++
		id := string(k[len(best.prefix)+8:])
		if t.msgs.Get([]byte(id)) == nil { // a stale index entry
			if !t.index.Tx().Writable() {
				continue
			}
			if err := t.index.Delete(k); err != nil {
				return nil, next, err
			}
			continue
		}
		ids = append(ids, id)
	}
	return ids, next, nil
}

// receiveOne receives message id: it hides it for visibility, or moves
// it to the dead-letter queue (nil result) when it was received
// MaxReceiveCount times already.
func (q *Queue) receiveOne(t *qtx, id string, visibility time.Duration) (*Received, error) {
	m, err := t.get(t.msgs, id)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, nil
	}
	if m.ReceiveCount >= q.cfg.MaxReceiveCount {
		if err := t.removeMain(m); err != nil {
			return nil, err
		}
		return nil, t.toDead(m, ReasonMaxReceives, true)
	}
	old := m.VisibleAt
	m.ReceiveCount++
	if m.FirstReceived.IsZero() {
		m.FirstReceived = t.now
	}
	m.Receipt = newReceipt()
	m.VisibleAt = t.now.Add(visibility)
	if err := t.putMain(m, old); err != nil {
		return nil, err
	}
	if err := t.group(m.Group, func(g *GroupStats) { g.Received = true }); err != nil {
		return nil, err
	}
	return &Received{QueueMessage: m.QueueMessage, ReceiptHandle: m.ID + ":" + m.Receipt}, nil
}

// receipt loads the in-flight message of a receipt handle.
func (t *qtx) receipt(op, handle string) (*stored, error) {
	id, r, ok := strings.Cut(handle, ":")
	if !ok || id == "" || r == "" {
		return nil, push.E(op, push.Invalid, errors.New("malformed receipt handle"))
	}
	m, err := t.get(t.msgs, id)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Receipt != r || !m.VisibleAt.After(t.now) {
		return nil, push.E(op, push.PreconditionFailed, fmt.Errorf("message %s: %w", id, ErrStaleReceipt))
	}
	return m, nil
}

// Delete removes a received message (the acknowledgement).
// Errors: Invalid (malformed handle), PreconditionFailed wrapping
// ErrStaleReceipt (its visibility timeout passed, or it was received
// again or deleted), Internal.
func (q *Queue) Delete(ctx context.Context, receiptHandle string) error {
	return q.Settle(ctx, receiptHandle, nil, nil)
}

// Settle deletes a received message and, in the same transaction, sends
// next to the queue and dead to the dead-letter queue: the follow-ups of
// a message and its acknowledgement happen together or not at all.
// Errors: as Delete, and Invalid for a bad input.
func (q *Queue) Settle(_ context.Context, receiptHandle string, next, dead []SendInput) error {
	const op = "boltstore.Queue.Settle"
	if err := checkInputs(op, append(append([]SendInput{}, next...), dead...)); err != nil {
		return err
	}
	err := q.update(func(t *qtx) error {
		m, err := t.receipt(op, receiptHandle)
		if err != nil {
			return err
		}
		for _, s := range next {
			n := &stored{QueueMessage: QueueMessage{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now.Add(s.Delay)}}
			if err := t.putMain(n, time.Time{}); err != nil {
				return err
			}
			if err := t.group(s.Group, func(g *GroupStats) { g.Live++ }); err != nil {
				return err
			}
		}
		for _, s := range dead {
			d := &stored{QueueMessage: QueueMessage{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now}}
			if err := t.toDead(d, s.Reason, false); err != nil {
				return err
			}
		}
		if err := t.removeMain(m); err != nil {
			return err
		}
		return t.group(m.Group, func(g *GroupStats) { g.Live-- })
	})
	if err != nil {
		return internal(op, err)
	}
	if len(next) > 0 {
		q.signal()
	}
	return nil
}

// ChangeVisibility makes a received message visible again after d from
// now (0: at once), as SQS ChangeMessageVisibility does.
// Errors: as Delete.
func (q *Queue) ChangeVisibility(_ context.Context, receiptHandle string, d time.Duration) error {
	const op = "boltstore.Queue.ChangeVisibility"
	if d < 0 {
		return push.E(op, push.Invalid, errors.New("negative visibility timeout"))
	}
	err := q.update(func(t *qtx) error {
		m, err := t.receipt(op, receiptHandle)
		if err != nil {
			return err
		}
		old := m.VisibleAt
		m.VisibleAt = t.now.Add(d)
		return t.putMain(m, old)
	})
	if err != nil {
		return internal(op, err)
	}
	if d == 0 {
		q.signal()
	}
	return nil
}

// Reclaim makes every message in flight visible at once, its receipt
// handle stale, and returns them, in one transaction. Call it when the
// receivers of those messages are known to be gone, as when the one
// process that owns the store starts: their messages are sent again now
// instead of after their visibility timeout. Their receive counts stay.
// Errors: Internal.
func (q *Queue) Reclaim(_ context.Context) ([]QueueMessage, error) {
	var out []QueueMessage
	err := q.update(func(t *qtx) error {
		out = out[:0]
		var ids []string
		if err := t.flight.ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil }); err != nil {
			return err
		}
		for _, id := range ids {
			m, err := t.get(t.msgs, id)
			if err != nil {
				return err
			}
			if m == nil {
				if err := t.flight.Delete([]byte(id)); err != nil {
					return err
				}
				continue
			}
			old := m.VisibleAt
			if m.Receipt == "" || !old.After(t.now) {
				continue
			}
			m.Receipt, m.VisibleAt = "", t.now
			if err := t.putMain(m, old); err != nil {
				return err
			}
			out = append(out, m.QueueMessage)
		}
		return nil
	})
	if err != nil {
		return nil, internal("boltstore.Queue.Reclaim", err)
	}
	if len(out) > 0 {
		q.signal()
	}
	return out, nil
}

// Stats counts the messages of the queue and of its dead-letter queue.
// Errors: Internal.
func (q *Queue) Stats(_ context.Context) (QueueStats, error) {
	var s QueueStats
	err := q.view(func(t *qtx) error {
		s.Dead = t.dead.Stats().KeyN
		return t.msgs.ForEach(func(k, _ []byte) error {
			m, err := t.get(t.msgs, string(k))
			if err != nil {
				return err
			}
			switch {
			case !m.VisibleAt.After(t.now):
				s.Visible++
			case m.ReceiveCount > 0 && m.Receipt != "":
				s.InFlight++
			default:
				s.Delayed++
			}
			return nil
		})
	})
	if err != nil {
		return QueueStats{}, internal("boltstore.Queue.Stats", err)
	}
	return s, nil
}

// Group returns the counts of group g.
// Errors: NotFound (no message of g was ever sent, or its stats expired
// GroupTTL after its last message left the main queue), Internal.
func (q *Queue) Group(_ context.Context, g string) (GroupStats, error) {
	const op = "boltstore.Queue.Group"
	var s GroupStats
	found := false
	err := q.view(func(t *qtx) error {
		raw := t.groups.Get([]byte(g))
		if raw == nil || g == "" {
			return nil
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		found = s.Live > 0 || t.now.Before(s.UpdatedAt.Add(q.cfg.GroupTTL))
		return nil
	})
	if err != nil {
		return GroupStats{}, internal(op, err)
	}
	if !found {
		return GroupStats{}, push.E(op, push.NotFound, errors.New("no such message group"))
	}
	return s, nil
}

// ExpireGroups deletes the stats of groups idle past GroupTTL with no
// message in the main queue, and returns how many it deleted.
// Errors: Internal.
func (q *Queue) ExpireGroups(_ context.Context) (int, error) {
	n := 0
	err := q.update(func(t *qtx) error {
		c := t.groups.Cursor()
		for k, v := c.First(); k != nil; {
			var s GroupStats
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			if s.Live <= 0 && !t.now.Before(s.UpdatedAt.Add(q.cfg.GroupTTL)) {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
				k, v = c.Seek(k)
				continue
			}
			k, v = c.Next()
		}
		return nil
	})
	if err != nil {
		return n, internal("boltstore.Queue.ExpireGroups", err)
	}
	return n, nil
}

// Peek calls fn with the messages of the main queue (dead false) or of
// the dead-letter queue (dead true), in id order (oldest first), until fn
// returns false. It changes nothing.
// Errors: Internal.
func (q *Queue) Peek(_ context.Context, dead bool, fn func(QueueMessage) bool) error {
	err := q.view(func(t *qtx) error {
		b := t.msgs
		if dead {
			b = t.dead
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			m, err := t.get(b, string(k))
			if err != nil {
				return err
			}
			if !fn(m.QueueMessage) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return internal("boltstore.Queue.Peek", err)
	}
	return nil
}

// Redrive moves messages from the dead-letter queue back to the main
// queue, visible at once with a receive count of 0, in one transaction.
// ids selects them (nil: all); attrs, when it has an entry for an id,
// replaces that message's attributes (e.g. a new attempt number). It
// returns how many messages moved; an id not in the dead-letter queue
// is skipped.
// Errors: Internal.
func (q *Queue) Redrive(_ context.Context, ids []string, attrs map[string]map[string]string) (int, error) {
	n := 0
	err := q.update(func(t *qtx) error {
		if ids == nil {
			if err := t.dead.ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil }); err != nil {
				return err
			}
		}
		for _, id := range ids {
			m, err := t.get(t.dead, id)
			if err != nil {
				return err
			}
			if m == nil {
				continue
			}
			if a, ok := attrs[id]; ok {
				m.Attributes = a
			}
			m.DeadAt, m.DeadReason, m.ReceiveCount, m.FirstReceived, m.Receipt = time.Time{}, "", 0, time.Time{}, ""
			m.VisibleAt = t.now
			if err := t.dead.Delete([]byte(id)); err != nil {
				return err
			}
			if err := t.putMain(m, time.Time{}); err != nil {
				return err
			}
			if err := t.group(m.Group, func(g *GroupStats) { g.Dead--; g.Live++ }); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, internal("boltstore.Queue.Redrive", err)
	}
	if n > 0 {
		q.signal()
	}
	return n, nil
}
