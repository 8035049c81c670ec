package dispatch

import (
	"sync"
	"time"
)

// pool runs functions on at most max goroutines that outlive them: an
// APNs push on a fresh goroutine grows that goroutine's stack through the
// HTTP/2 client's deep calls, copying it several times, which costs a
// good share of the push's CPU; a goroutine that pushed once pushes again
// without growing. A goroutine left idle for idle ends.
type pool struct {
	work   chan func()
	exited chan struct{} // a goroutine ended: room for a new one
	idle   time.Duration

	mu     sync.Mutex
	n, max int
}

func newPool(max int, idle time.Duration) *pool {
	return &pool{work: make(chan func()), exited: make(chan struct{}, 1), idle: idle, max: max}
}

// run runs f on an idle goroutine of the pool, or on a new one when none
// is idle and there are fewer than max; otherwise it waits until one is
// free. It does not wait for f. Waiting callers are served in turn.
func (p *pool) run(f func()) {
	for {
		select {
		case p.work <- f:
			return
		default:
		}
		p.mu.Lock()
		if p.n < p.max {
			p.n++
			p.mu.Unlock()
			go p.loop(f)
			return
		}
		p.mu.Unlock()
		select {
		case p.work <- f:
			return
		case <-p.exited:
		}
	}
}

func (p *pool) loop(f func()) {
	t := time.NewTimer(p.idle)
	defer t.Stop()
	for {
		f()
		f = nil // let f's captures go while idle
		t.Reset(p.idle)
		select {
		case f = <-p.work:
			continue
		case <-t.C:
		}
		p.mu.Lock()
		p.n--
		p.mu.Unlock()
		select {
		case p.exited <- struct{}{}:
		default: // a wake-up is pending already
		}
		return
	}
}
