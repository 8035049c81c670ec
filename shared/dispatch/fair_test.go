package dispatch

import (
	"context"
	"testing"
	"time"
)

// waitWaiting waits until n acquires wait for a slot (a goroutine
// reaching its wait is not observable otherwise).
func waitWaiting(t *testing.T, f *fairSlots, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		f.mu.Lock()
		got := len(f.waiting)
		f.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acquires waiting, want %d", got, n)
		}
	}
}

// granted waits for an acquire started by acquireAsync to return.
func granted(t *testing.T, c <-chan bool) bool {
	t.Helper()
	select {
	case ok := <-c:
		return ok
	case <-time.After(5 * time.Second):
		t.Fatal("an acquire that should have returned still waits")
		return false
	}
}

// acquireAsync starts an acquire for tenant; the channel reports it.
func acquireAsync(f *fairSlots, ctx context.Context, tenant string, order uint64) <-chan bool {
	c := make(chan bool, 1)
	go func() { c <- f.acquire(ctx, tenant, order) }()
	return c
}

func TestFairSlotsAloneTakesAll(t *testing.T) {
	f := newFairSlots(5)
	for i := range 5 {
		if !f.acquire(context.Background(), "a", 0) {
			t.Fatalf("acquire %d failed with slots free", i)
		}
	}
	if got := f.holding("a"); got != 5 {
		t.Errorf("a holds %d, want all 5", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if f.acquire(ctx, "a", 0) {
		t.Error("acquired a sixth slot of five")
	}
	if got := f.holding("a"); got != 5 {
		t.Errorf("after a cancelled acquire a holds %d, want 5", got)
	}
	f.release("a")
	if !f.acquire(context.Background(), "b", 0) {
		t.Error("a released slot is not free")
	}
}

// TestFairSlotsFreedSlotGoesToTheTenantHoldingFewest: tenant a holds
// every slot and waits for more with several acquires; b waits with one.
// Each freed slot goes to whoever holds the fewest, so b is served next
// although a's acquires waited first, two busy tenants end with equal
// shares, and within a tenant the earliest message goes first.
func TestFairSlotsFreedSlotGoesToTheTenantHoldingFewest(t *testing.T) {
	ctx := context.Background()
	f := newFairSlots(4)
	for range 4 {
		f.acquire(ctx, "a", 0)
	}
	var aWaits []<-chan bool
	for range 3 {
		aWaits = append(aWaits, acquireAsync(f, ctx, "a", uint64(10-len(aWaits))))
	}
	waitWaiting(t, f, 3)
	var bWaits []<-chan bool
	for range 3 {
		bWaits = append(bWaits, acquireAsync(f, ctx, "b", 0))
		waitWaiting(t, f, 3+len(bWaits))
	}

	f.release("a") // a 3, b 0: to b
	if !granted(t, bWaits[0]) || f.holding("b") != 1 || f.holding("a") != 3 {
		t.Fatalf("after one release a holds %d, b %d; want 3 and 1", f.holding("a"), f.holding("b"))
	}
	f.release("a") // a 2, b 1: to b
	if !granted(t, bWaits[1]) || f.holding("b") != 2 {
		t.Fatalf("after two releases a holds %d, b %d; want 2 and 2", f.holding("a"), f.holding("b"))
	}
	f.release("a") // a 1, b 2: to a's earliest message (the last to wait)
	if !granted(t, aWaits[2]) || f.holding("a") != 2 || f.holding("b") != 2 {
		t.Fatalf("after three releases a holds %d, b %d; want 2 and 2", f.holding("a"), f.holding("b"))
	}
	f.release("b") // a 2, b 1: to b
	if !granted(t, bWaits[2]) || f.holding("b") != 2 {
		t.Fatalf("b's release went to a: a holds %d, b %d", f.holding("a"), f.holding("b"))
	}
	// b is done: a's waiting acquires get what b frees.
	f.release("b")
	f.release("b")
	for i, c := range aWaits[:2] {
		if !granted(t, c) {
			t.Fatalf("a's acquire %d failed", i)
		}
	}
	if f.holding("a") != 4 || f.holding("b") != 0 {
		t.Errorf("a holds %d, b %d; want a all 4 once alone", f.holding("a"), f.holding("b"))
	}
}

func TestFairSlotsCancelledWaiterLeaves(t *testing.T) {
	f := newFairSlots(1)
	f.acquire(context.Background(), "a", 0)
	ctx, cancel := context.WithCancel(context.Background())
	got := acquireAsync(f, ctx, "b", 0)
	waitWaiting(t, f, 1)
	cancel()
	if granted(t, got) {
		t.Fatal("a cancelled acquire succeeded")
	}
	waitWaiting(t, f, 0)
	f.release("a")
	if !f.acquire(context.Background(), "c", 0) || f.holding("b") != 0 {
		t.Errorf("the slot went to the cancelled waiter (b holds %d)", f.holding("b"))
	}
}
