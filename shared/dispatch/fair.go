package dispatch

import (
	"context"
	"sync"
)

// fairSlots is a counting semaphore shared fairly across tenants: a free
// slot goes to whoever asks, but while tenants wait for one, each slot
// freed goes to the waiting tenant holding the fewest (ties: the one that
// has waited longest), and within a tenant to its earliest message (the
// lowest order). So when several tenants' pushes are in flight, a tenant
// that holds more than its share while others wait gets no more until
// they catch up; a tenant alone may hold every slot; and a tenant's
// messages finish one after another instead of all at once at the end,
// which frees the worker holding each as early as it can be. It is safe
// for concurrent use.
type fairSlots struct {
	// asOne counts every tenant as one: slots go in arrival order (the
	// benchmark's baseline without fairness).
	asOne bool

	mu      sync.Mutex
	free    int
	held    map[string]int
	waiting []*slotWaiter // in arrival order
}

// slotWaiter is one acquire waiting for a slot; granted is closed when
// the slot is handed to it.
type slotWaiter struct {
	tenant  string
	order   uint64
	granted chan struct{}
	done    bool // handed a slot (under fairSlots.mu)
}

func newFairSlots(n int) *fairSlots {
	return &fairSlots{free: n, held: map[string]int{}}
}

// acquire takes a slot for tenant's message of the given order (lower:
// started earlier), waiting until one is handed to it or ctx ends; on
// false it holds none.
func (f *fairSlots) acquire(ctx context.Context, tenant string, order uint64) bool {
	if f.asOne {
		tenant = ""
	}
	f.mu.Lock()
	if f.free > 0 && len(f.waiting) == 0 {
		f.free--
		f.held[tenant]++
		f.mu.Unlock()
		return true
	}
	w := &slotWaiter{tenant: tenant, order: order, granted: make(chan struct{})}
	f.waiting = append(f.waiting, w)
	f.mu.Unlock()
	select {
	case <-w.granted:
		return true
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.done { // handed a slot as ctx ended: pass it on
		f.releaseLocked(tenant)
		return false
	}
	for i, o := range f.waiting {
		if o == w {
			f.waiting = append(f.waiting[:i], f.waiting[i+1:]...)
			break
		}
	}
	return false
}

// release frees a slot tenant holds, handing it to the waiting tenant
// that holds the fewest.
func (f *fairSlots) release(tenant string) {
	if f.asOne {
		tenant = ""
	}
	f.mu.Lock()
	f.releaseLocked(tenant)
	f.mu.Unlock()
}

func (f *fairSlots) releaseLocked(tenant string) {
	if f.held[tenant]--; f.held[tenant] <= 0 {
		delete(f.held, tenant)
	}
	if len(f.waiting) == 0 {
		f.free++
		return
	}
	best := 0
	for i, w := range f.waiting {
		b := f.waiting[best]
		if h, bh := f.held[w.tenant], f.held[b.tenant]; h < bh || (h == bh && w.tenant == b.tenant && w.order < b.order) {
			best = i
		}
	}
	w := f.waiting[best]
	f.waiting = append(f.waiting[:best], f.waiting[best+1:]...)
	f.held[w.tenant]++
	w.done = true
	close(w.granted)
}

// holding returns the slots tenant holds (for tests).
func (f *fairSlots) holding(tenant string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held[tenant]
}
