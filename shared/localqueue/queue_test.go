package localqueue

import (
	"context"
	"errors"
	"path/filepath"
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
