package localqueue

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"mobilepush/shared/push"
)

// Stats counts the messages of a queue, as SQS's
// ApproximateNumberOf* attributes do, but exactly.
type Stats struct {
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

// Stats counts the messages of the queue and of its dead-letter queue.
// Errors: Internal.
func (q *Queue) Stats(_ context.Context) (Stats, error) {
	var s Stats
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
		return Stats{}, internal("localqueue.Queue.Stats", err)
	}
	return s, nil
}

// Group returns the counts of group g.
// Errors: NotFound (no message of g was ever sent, or its stats expired
// GroupTTL after its last message left the main queue), Internal.
func (q *Queue) Group(_ context.Context, g string) (GroupStats, error) {
	const op = "localqueue.Queue.Group"
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
		return n, internal("localqueue.Queue.ExpireGroups", err)
	}
	return n, nil
}

// Peek calls fn with the messages of the main queue (dead false) or of
// the dead-letter queue (dead true), in id order (oldest first), until fn
// returns false. It changes nothing.
// Errors: Internal.
func (q *Queue) Peek(_ context.Context, dead bool, fn func(Message) bool) error {
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
			if !fn(m.Message) {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return internal("localqueue.Queue.Peek", err)
	}
	return nil
}
