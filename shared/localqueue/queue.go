// Package localqueue is the durable embedded queue of `mobilepush serve`
// (docs/ARCHITECTURE.md, The bbolt file): a message queue with SQS
// semantics (delayed sends, visibility timeouts, receive counts, a
// dead-letter queue, redrive) in buckets of its own in the bbolt file
// the credential stores (shared/boltstore) keep theirs in. Every
// operation is one bbolt transaction.
package localqueue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/push"
)

// The queue buckets: bktQueues, a top-level bucket of the file, holds
// one bucket per queue name, and each of those the buckets below.
var (
	bktQueues = []byte("queues")
	qMsgs     = []byte("m") // message id -> Message (the main queue)
	qIndex    = []byte("t") // tenantPrefix(tenant) + be64(visible_at ns) + message id -> nil
	qTenants  = []byte("n") // tenantPrefix(tenant) -> be64(its messages in the main queue)
	qFlight   = []byte("f") // message id -> be64(in flight until, ns) + tenant
	qDead     = []byte("d") // message id -> Message (the dead-letter queue)
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

// Config configures a Queue.
type Config struct {
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
	// Now is the clock of visibility, delays and group TTLs; nil means
	// time.Now.
	Now func() time.Time
}

// Queue is a durable message queue with SQS semantics in a bbolt file:
// delayed sends, receives that hide a message for a visibility timeout
// and count receives, delete by receipt handle, changing the
// visibility, a dead-letter queue (after MaxReceiveCount receives, or by
// an explicit SendDead) and redrive from it.
//
// Every operation is one bbolt transaction, synced to disk before it
// returns: a message Send accepted survives a crash or kill at any
// moment, and a message that was in flight when the process died becomes
// visible again when its visibility timeout ends.
//
// Messages may name a group (like an SQS message group id, without FIFO
// order): the queue keeps per-group counts, updated in the same
// transactions, so a caller can tell whether a logical message still has
// parts on the queue. Use one *Queue per queue name and file (receivers
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
	db   *bolt.DB
	name []byte
	cfg  Config

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when a message is sent
}

// Message is a message as the queue keeps it.
type Message struct {
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

// stored is the JSON form of a Message with its receipt.
type stored struct {
	Message
	Receipt string `json:"receipt,omitempty"`
}

// Received is a message handed out by Receive: its ReceiptHandle deletes
// it or changes its visibility until it is received again.
type Received struct {
	Message
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

// Open opens (creating if needed) the queue called name in db, the open
// bbolt file (boltstore.Store.DB): its buckets are under the top-level
// bucket "queues". The caller keeps db open while it uses the queue and
// closes it.
// Errors: Invalid (empty name, nil db), Internal.
func Open(db *bolt.DB, name string, cfg Config) (*Queue, error) {
	const op = "localqueue.Open"
	if db == nil {
		return nil, push.E(op, push.Invalid, errors.New("no bbolt file"))
	}
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
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
			return reindex(q, cfg.Now())
		}
		return nil
	})
	if err != nil {
		return nil, internal(op, fmt.Errorf("create queue %s: %w", name, err))
	}
	return &Queue{db: db, name: []byte(name), cfg: cfg, wake: make(chan struct{})}, nil
}

// Config returns the queue's configuration with defaults applied.
func (q *Queue) Config() Config { return q.cfg }

// Send puts the messages on the queue in one transaction (all or none)
// and returns their ids once they are on disk.
// Errors: Invalid (an empty body or a negative delay), Internal.
func (q *Queue) Send(_ context.Context, in ...SendInput) ([]string, error) {
	const op = "localqueue.Queue.Send"
	if err := checkInputs(op, in); err != nil {
		return nil, err
	}
	ids := make([]string, len(in))
	err := q.update(func(t *qtx) error {
		for i, s := range in {
			m := &stored{Message: Message{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now.Add(s.Delay)}}
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
	const op = "localqueue.Queue.SendDead"
	if err := checkInputs(op, in); err != nil {
		return nil, err
	}
	ids := make([]string, len(in))
	err := q.update(func(t *qtx) error {
		for i, s := range in {
			m := &stored{Message: Message{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now}}
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
	return q.receive(ctx, "localqueue.Queue.Receive", max, visibility, wait, false)
}

// ReceiveQuiet is Receive restricted to quiet tenants: those with no
// message in flight, or fewer than the tenant with the most. A receiver
// kept for them takes a quiet tenant's message at once while the other
// receivers are busy with a noisy tenant's; a tenant alone is never
// quiet while it has a message in flight.
// Errors: Internal.
func (q *Queue) ReceiveQuiet(ctx context.Context, max int, visibility, wait time.Duration) ([]Received, error) {
	return q.receive(ctx, "localqueue.Queue.ReceiveQuiet", max, visibility, wait, true)
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
	return &Received{Message: m.Message, ReceiptHandle: m.ID + ":" + m.Receipt}, nil
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
	const op = "localqueue.Queue.Settle"
	if err := checkInputs(op, append(append([]SendInput{}, next...), dead...)); err != nil {
		return err
	}
	err := q.update(func(t *qtx) error {
		m, err := t.receipt(op, receiptHandle)
		if err != nil {
			return err
		}
		for _, s := range next {
			n := &stored{Message: Message{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now.Add(s.Delay)}}
			if err := t.putMain(n, time.Time{}); err != nil {
				return err
			}
			if err := t.group(s.Group, func(g *GroupStats) { g.Live++ }); err != nil {
				return err
			}
		}
		for _, s := range dead {
			d := &stored{Message: Message{ID: newID(t.now), Body: s.Body, Attributes: s.Attributes, Group: s.Group, Tenant: s.Tenant, SentAt: t.now, VisibleAt: t.now}}
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
	const op = "localqueue.Queue.ChangeVisibility"
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
func (q *Queue) Reclaim(_ context.Context) ([]Message, error) {
	var out []Message
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
			out = append(out, m.Message)
		}
		return nil
	})
	if err != nil {
		return nil, internal("localqueue.Queue.Reclaim", err)
	}
	if len(out) > 0 {
		q.signal()
	}
	return out, nil
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
		return 0, internal("localqueue.Queue.Redrive", err)
	}
	if n > 0 {
		q.signal()
	}
	return n, nil
}
