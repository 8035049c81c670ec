package localqueue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"mobilepush/shared/push"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// openDB opens the bbolt file at path, as boltstore.Open does.
func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// openQueue opens the bbolt file at path and its queue "q" on the clock.
func openQueue(t *testing.T, path string, c *clock, cfg Config) (*bolt.DB, *Queue) {
	t.Helper()
	db := openDB(t, path)
	cfg.Now = c.Now
	q, err := Open(db, "q", cfg)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, q
}

func receiveN(t *testing.T, q *Queue, max int, vis time.Duration) []Received {
	t.Helper()
	got, err := q.Receive(context.Background(), max, vis, 0)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func stats(t *testing.T, q *Queue) Stats {
	t.Helper()
	s, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestQueueSemantics(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, c *clock, q *Queue)
	}{
		{"send then receive hides the message for the visibility timeout", func(t *testing.T, c *clock, q *Queue) {
			if _, err := q.Send(ctx, SendInput{Body: []byte("a"), Attributes: map[string]string{"k": "v"}}); err != nil {
				t.Fatal(err)
			}
			got := receiveN(t, q, 10, 30*time.Second)
			if len(got) != 1 || string(got[0].Body) != "a" || got[0].Attributes["k"] != "v" || got[0].ReceiveCount != 1 {
				t.Fatalf("receive = %+v", got)
			}
			if again := receiveN(t, q, 10, 0); len(again) != 0 {
				t.Fatalf("in flight message received again: %+v", again)
			}
			if got, want := stats(t, q), (Stats{InFlight: 1}); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
			c.Add(31 * time.Second)
			back := receiveN(t, q, 10, 0)
			if len(back) != 1 || back[0].ReceiveCount != 2 || back[0].ReceiptHandle == got[0].ReceiptHandle {
				t.Fatalf("after the visibility timeout = %+v", back)
			}
			if err := q.Delete(ctx, got[0].ReceiptHandle); !errors.Is(err, ErrStaleReceipt) || !push.Is(err, push.PreconditionFailed) {
				t.Errorf("delete with the old receipt = %v, want ErrStaleReceipt", err)
			}
			if err := q.Delete(ctx, back[0].ReceiptHandle); err != nil {
				t.Fatal(err)
			}
			if got, want := stats(t, q), (Stats{}); got != want {
				t.Errorf("stats after delete = %+v, want %+v", got, want)
			}
		}},
		{"delay", func(t *testing.T, c *clock, q *Queue) {
			if _, err := q.Send(ctx, SendInput{Body: []byte("later"), Delay: time.Minute}, SendInput{Body: []byte("now")}); err != nil {
				t.Fatal(err)
			}
			if got, want := stats(t, q), (Stats{Visible: 1, Delayed: 1}); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
			got := receiveN(t, q, 10, time.Hour)
			if len(got) != 1 || string(got[0].Body) != "now" {
				t.Fatalf("receive = %+v, want only the undelayed message", got)
			}
			c.Add(time.Minute)
			got = receiveN(t, q, 10, time.Hour)
			if len(got) != 1 || string(got[0].Body) != "later" {
				t.Fatalf("after the delay = %+v", got)
			}
		}},
		{"receive count moves to the dead-letter queue", func(t *testing.T, c *clock, q *Queue) {
			if _, err := q.Send(ctx, SendInput{Body: []byte("poison"), Group: "g"}); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 2; i++ { // MaxReceiveCount 2
				got := receiveN(t, q, 1, time.Second)
				if len(got) != 1 || got[0].ReceiveCount != i {
					t.Fatalf("receive %d = %+v", i, got)
				}
				c.Add(2 * time.Second)
			}
			if got := receiveN(t, q, 1, time.Second); len(got) != 0 {
				t.Fatalf("third receive = %+v, want it dead-lettered", got)
			}
			if got, want := stats(t, q), (Stats{Dead: 1}); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
			var dead []Message
			_ = q.Peek(ctx, true, func(m Message) bool { dead = append(dead, m); return true })
			if len(dead) != 1 || dead[0].DeadReason != ReasonMaxReceives || string(dead[0].Body) != "poison" {
				t.Errorf("dead letters = %+v", dead)
			}
			g, err := q.Group(ctx, "g")
			if err != nil || g.Live != 0 || g.Dead != 1 || !g.Received {
				t.Errorf("group = %+v, %v", g, err)
			}
		}},
		{"redrive with new attributes", func(t *testing.T, c *clock, q *Queue) {
			ids, err := q.SendDead(ctx, SendInput{Body: []byte("d"), Group: "g", Reason: "platform_suspended", Attributes: map[string]string{"attempt": "1"}})
			if err != nil {
				t.Fatal(err)
			}
			n, err := q.Redrive(ctx, nil, map[string]map[string]string{ids[0]: {"attempt": "2"}})
			if err != nil || n != 1 {
				t.Fatalf("redrive = %d, %v", n, err)
			}
			got := receiveN(t, q, 1, time.Second)
			if len(got) != 1 || got[0].Attributes["attempt"] != "2" || got[0].ReceiveCount != 1 || got[0].DeadReason != "" {
				t.Fatalf("redriven = %+v", got)
			}
			if g, _ := q.Group(ctx, "g"); g.Live != 1 || g.Dead != 0 {
				t.Errorf("group = %+v", g)
			}
		}},
		{"settle enqueues follow-ups and deletes together", func(t *testing.T, c *clock, q *Queue) {
			if _, err := q.Send(ctx, SendInput{Body: []byte("m"), Group: "g"}); err != nil {
				t.Fatal(err)
			}
			got := receiveN(t, q, 1, time.Second)
			err := q.Settle(ctx, got[0].ReceiptHandle,
				[]SendInput{{Body: []byte("retry"), Group: "g", Delay: 4 * time.Second}},
				[]SendInput{{Body: []byte("dead"), Group: "g", Reason: "rejected"}})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := stats(t, q), (Stats{Delayed: 1, Dead: 1}); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
			if g, _ := q.Group(ctx, "g"); g.Live != 1 || g.Dead != 1 {
				t.Errorf("group = %+v, want 1 live (the retry), 1 dead", g)
			}
			// A stale receipt settles nothing.
			if err := q.Settle(ctx, got[0].ReceiptHandle, []SendInput{{Body: []byte("x")}}, nil); !errors.Is(err, ErrStaleReceipt) {
				t.Errorf("second settle = %v, want ErrStaleReceipt", err)
			}
			if got, want := stats(t, q), (Stats{Delayed: 1, Dead: 1}); got != want {
				t.Errorf("stats after a stale settle = %+v, want %+v", got, want)
			}
		}},
		{"change visibility", func(t *testing.T, c *clock, q *Queue) {
			if _, err := q.Send(ctx, SendInput{Body: []byte("m")}); err != nil {
				t.Fatal(err)
			}
			got := receiveN(t, q, 1, time.Hour)
			if err := q.ChangeVisibility(ctx, got[0].ReceiptHandle, 0); err != nil {
				t.Fatal(err)
			}
			if again := receiveN(t, q, 1, time.Hour); len(again) != 1 {
				t.Fatalf("after visibility 0: %+v", again)
			}
		}},
		{"group expires after its TTL", func(t *testing.T, c *clock, q *Queue) {
			if _, err := q.Send(ctx, SendInput{Body: []byte("m"), Group: "g"}); err != nil {
				t.Fatal(err)
			}
			got := receiveN(t, q, 1, time.Second)
			if err := q.Delete(ctx, got[0].ReceiptHandle); err != nil {
				t.Fatal(err)
			}
			if g, err := q.Group(ctx, "g"); err != nil || g.Live != 0 {
				t.Fatalf("group = %+v, %v", g, err)
			}
			c.Add(time.Hour + time.Second)
			if _, err := q.Group(ctx, "g"); !push.Is(err, push.NotFound) {
				t.Errorf("expired group = %v, want NotFound", err)
			}
			if n, err := q.ExpireGroups(ctx); err != nil || n != 1 {
				t.Errorf("ExpireGroups = %d, %v", n, err)
			}
		}},
		{"bad input", func(t *testing.T, c *clock, q *Queue) {
			if _, err := q.Send(ctx, SendInput{}); !push.Is(err, push.Invalid) {
				t.Errorf("empty body: %v", err)
			}
			if err := q.Delete(ctx, "nonsense"); !push.Is(err, push.Invalid) {
				t.Errorf("malformed receipt: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			s, q := openQueue(t, filepath.Join(t.TempDir(), "q.db"), c, Config{MaxReceiveCount: 2, GroupTTL: time.Hour})
			defer s.Close()
			tt.run(t, c, q)
		})
	}
}

// TestQueuePersistence closes and reopens the file: queued, delayed,
// in-flight and dead messages are all still there, and the in-flight one
// reappears after its visibility timeout.
func TestQueuePersistence(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, q := openQueue(t, path, c, Config{})
	if _, err := q.Send(ctx, SendInput{Body: []byte("inflight")}); err != nil {
		t.Fatal(err)
	}
	if got := receiveN(t, q, 1, 10*time.Second); len(got) != 1 {
		t.Fatal("no message")
	}
	if _, err := q.Send(ctx, SendInput{Body: []byte("visible")}, SendInput{Body: []byte("delayed"), Delay: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.SendDead(ctx, SendInput{Body: []byte("dead"), Reason: "rejected"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // as after a kill: nothing else is written on close
		t.Fatal(err)
	}

	s, q = openQueue(t, path, c, Config{})
	defer s.Close()
	if got, want := stats(t, q), (Stats{Visible: 1, InFlight: 1, Delayed: 1, Dead: 1}); got != want {
		t.Fatalf("after reopen stats = %+v, want %+v", got, want)
	}
	c.Add(time.Minute)
	got := receiveN(t, q, 10, time.Second)
	bodies := map[string]int{}
	for _, m := range got {
		bodies[string(m.Body)] = m.ReceiveCount
	}
	want := map[string]int{"inflight": 2, "visible": 1, "delayed": 1}
	if len(bodies) != len(want) {
		t.Fatalf("received %v, want %v", bodies, want)
	}
	for b, n := range want {
		if bodies[b] != n {
			t.Errorf("%s: receive count %d, want %d", b, bodies[b], n)
		}
	}
}

// TestQueueLongPoll checks that a waiting Receive is woken by a Send.
func TestQueueLongPoll(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "q.db"))
	defer db.Close()
	q, err := Open(db, "q", Config{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_, _ = q.Send(ctx, SendInput{Body: []byte("x")})
	}()
	start := time.Now()
	got, err := q.Receive(ctx, 1, time.Minute, 5*time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("receive = %v, %v", got, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("woken after %v", d)
	}
}

func TestOpenRefusesBadArguments(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "q.db"))
	defer db.Close()
	tests := []struct {
		name  string
		db    *bolt.DB
		queue string
	}{
		{"no file", nil, "q"},
		{"no name", db, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(tt.db, tt.queue, Config{}); !push.Is(err, push.Invalid) {
				t.Errorf("Open = %v, want Invalid", err)
			}
		})
	}
}

// sendFor sends bodies for tenant one by one, a microsecond apart (ids
// sent in the same instant sort at random).
func sendFor(t *testing.T, c *clock, q *Queue, tenant string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := q.Send(context.Background(), SendInput{Body: []byte(b), Tenant: tenant}); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Microsecond)
	}
}

func bodiesOf(got []Received) []string {
	var out []string
	for _, m := range got {
		out = append(out, string(m.Body))
	}
	return out
}

// TestQueueFairAcrossTenants: a receive prefers the tenants with the
// fewest messages in flight, so one tenant's backlog holds another's
// message up for at most one receive, and a tenant alone gets all.
func TestQueueFairAcrossTenants(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, c *clock, q *Queue)
	}{
		{"a tenant alone gets every message, oldest first", func(t *testing.T, c *clock, q *Queue) {
			for i := range 12 {
				sendFor(t, c, q, "a", fmt.Sprintf("a%02d", i))
				c.Add(time.Millisecond)
			}
			got := bodiesOf(receiveN(t, q, 10, time.Minute))
			want := []string{"a00", "a01", "a02", "a03", "a04", "a05", "a06", "a07", "a08", "a09"}
			if !slices.Equal(got, want) {
				t.Errorf("received %v, want %v", got, want)
			}
		}},
		{"a quiet tenant's message goes before a backlog", func(t *testing.T, c *clock, q *Queue) {
			for i := range 100 {
				sendFor(t, c, q, "a", fmt.Sprintf("a%02d", i))
			}
			if got := receiveN(t, q, 4, time.Minute); len(got) != 4 {
				t.Fatalf("received %d, want 4", len(got))
			}
			c.Add(time.Second)
			sendFor(t, c, q, "b", "b0")
			// a has 4 in flight, b none: b's message comes first although
			// 96 of a's are older.
			got := bodiesOf(receiveN(t, q, 1, time.Minute))
			if !slices.Equal(got, []string{"b0"}) {
				t.Errorf("received %v, want b's message", got)
			}
		}},
		{"one receive shares out by messages in flight", func(t *testing.T, c *clock, q *Queue) {
			for i := range 20 {
				sendFor(t, c, q, "a", fmt.Sprintf("a%02d", i))
			}
			c.Add(time.Millisecond)
			sendFor(t, c, q, "b", "b0", "b1", "b2")
			c.Add(time.Millisecond)
			sendFor(t, c, q, "c", "c0")
			got := bodiesOf(receiveN(t, q, 8, time.Minute))
			// Rounds by fewest in flight, ties to the oldest message.
			want := []string{"a00", "b0", "c0", "a01", "b1", "a02", "b2", "a03"}
			if !slices.Equal(got, want) {
				t.Errorf("received %v, want %v", got, want)
			}
		}},
		{"settled and expired messages stop counting as in flight", func(t *testing.T, c *clock, q *Queue) {
			sendFor(t, c, q, "a", "a0", "a1", "a2", "a3", "a4")
			first := receiveN(t, q, 2, 10*time.Second)
			c.Add(time.Millisecond)
			sendFor(t, c, q, "b", "b0", "b1", "b2")
			if got := bodiesOf(receiveN(t, q, 2, time.Minute)); !slices.Equal(got, []string{"b0", "b1"}) {
				t.Fatalf("received %v, want b's two (a has 2 in flight)", got)
			}
			// a's two settle: a has none in flight, b two: a goes first.
			for _, m := range first {
				if err := q.Delete(ctx, m.ReceiptHandle); err != nil {
					t.Fatal(err)
				}
			}
			if got := bodiesOf(receiveN(t, q, 1, time.Hour)); !slices.Equal(got, []string{"a2"}) {
				t.Fatalf("after settling received %v, want a2", got)
			}
			// b's two expire (a still has a2 in flight): b goes first.
			c.Add(time.Minute + time.Second)
			if got := receiveN(t, q, 1, time.Hour); len(got) != 1 || got[0].Tenant != "b" {
				t.Errorf("after b's visibility ended received %v, want one of b's", bodiesOf(got))
			}
		}},
		{"a quiet receive takes only from tenants with fewer in flight than the busiest", func(t *testing.T, c *clock, q *Queue) {
			sendFor(t, c, q, "a", "a0", "a1", "a2")
			if got := bodiesOf(receiveN(t, q, 2, time.Minute)); !slices.Equal(got, []string{"a0", "a1"}) {
				t.Fatalf("received %v, want a0 and a1", got)
			}
			quiet := func() []string {
				got, err := q.ReceiveQuiet(ctx, 1, time.Minute, 0)
				if err != nil {
					t.Fatal(err)
				}
				return bodiesOf(got)
			}
			if got := quiet(); len(got) != 0 {
				t.Fatalf("quiet receive with only a (in flight) = %v, want none", got)
			}
			sendFor(t, c, q, "b", "b0", "b1", "b2")
			for _, want := range []string{"b0", "b1"} { // b has 0, then 1 in flight, a 2
				if got := quiet(); !slices.Equal(got, []string{want}) {
					t.Fatalf("quiet receive = %v, want %s", got, want)
				}
			}
			if got := quiet(); len(got) != 0 { // 2 each: neither is quieter
				t.Errorf("quiet receive with a and b at 2 in flight each = %v, want none", got)
			}
		}},
		{"tenants keep their messages across follow-ups, dead letters and redrive", func(t *testing.T, c *clock, q *Queue) {
			sendFor(t, c, q, "a", "a0")
			got := receiveN(t, q, 1, time.Minute)
			err := q.Settle(ctx, got[0].ReceiptHandle, []SendInput{{Body: []byte("a-retry"), Tenant: "a"}}, []SendInput{{Body: []byte("a-dead"), Tenant: "a", Reason: "x"}})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := q.Redrive(ctx, nil, nil); err != nil || n != 1 {
				t.Fatalf("redrive = %d, %v", n, err)
			}
			for _, m := range receiveN(t, q, 10, time.Minute) {
				if m.Tenant != "a" {
					t.Errorf("%s: tenant %q, want a", m.Body, m.Tenant)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			s, q := openQueue(t, filepath.Join(t.TempDir(), "q.db"), c, Config{})
			defer s.Close()
			tt.run(t, c, q)
		})
	}
}

// TestQueueReindexesAnEarlierFile opens a queue written before tenants
// (one index by visible time): its messages are indexed again, the
// visible ones received and the one in flight kept hidden until its
// visibility timeout.
func TestQueueReindexesAnEarlierFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	db := openDB(t, path)
	err := db.Update(func(tx *bolt.Tx) error {
		all, err := tx.CreateBucketIfNotExists(bktQueues)
		if err != nil {
			return err
		}
		b, err := all.CreateBucket([]byte("q"))
		if err != nil {
			return err
		}
		for _, name := range [][]byte{qMsgs, qIndexV1, qDead, qGroups} {
			if _, err := b.CreateBucket(name); err != nil {
				return err
			}
		}
		for _, m := range []stored{
			{Message: Message{ID: "1", Body: []byte("visible"), SentAt: c.now, VisibleAt: c.now}},
			{Message: Message{ID: "2", Body: []byte("inflight"), SentAt: c.now, VisibleAt: c.now.Add(time.Minute), ReceiveCount: 1}, Receipt: "r"},
		} {
			if err := put(b.Bucket(qMsgs), []byte(m.ID), m); err != nil {
				return err
			}
			k := binary.BigEndian.AppendUint64(nil, uint64(m.VisibleAt.UnixNano()))
			if err := b.Bucket(qIndexV1).Put(append(k, m.ID...), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Open(db, "q", Config{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := bodiesOf(receiveN(t, q, 10, time.Hour)); !slices.Equal(got, []string{"visible"}) {
		t.Fatalf("received %v, want the visible message", got)
	}
	if got, want := stats(t, q), (Stats{InFlight: 2}); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	c.Add(time.Minute + time.Second)
	if got := bodiesOf(receiveN(t, q, 10, time.Minute)); !slices.Equal(got, []string{"inflight"}) {
		t.Errorf("after its visibility timeout received %v, want the in-flight message", got)
	}
}

// TestQueueReclaim: the messages in flight become visible at once with
// their receive counts, their receipts stale; delayed messages stay
// delayed.
func TestQueueReclaim(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	c := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, q := openQueue(t, path, c, Config{})
	sendFor(t, c, q, "a", "a0", "a1")
	held := receiveN(t, q, 2, time.Hour)
	if _, err := q.Send(ctx, SendInput{Body: []byte("later"), Tenant: "a", Delay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // the process that received them is gone
		t.Fatal(err)
	}
	s, q = openQueue(t, path, c, Config{})
	defer s.Close()
	got, err := q.Reclaim(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("Reclaim = %d messages, %v; want 2", len(got), err)
	}
	if err := q.Delete(ctx, held[0].ReceiptHandle); !errors.Is(err, ErrStaleReceipt) {
		t.Errorf("a reclaimed message's old receipt: %v, want ErrStaleReceipt", err)
	}
	again := receiveN(t, q, 10, time.Minute)
	if b := bodiesOf(again); !slices.Equal(b, []string{"a0", "a1"}) {
		t.Fatalf("received %v after Reclaim, want a0 and a1 at once", b)
	}
	for _, m := range again {
		if m.ReceiveCount != 2 {
			t.Errorf("%s: receive count %d, want 2", m.Body, m.ReceiveCount)
		}
	}
	if n, err := q.Reclaim(ctx); err != nil || len(n) != 2 {
		t.Errorf("second Reclaim = %d, %v; want the 2 received again", len(n), err)
	}
	if st := stats(t, q); st.Delayed != 1 {
		t.Errorf("stats %+v: the delayed message must stay delayed", st)
	}
}
