package registry

import (
	"context"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/push"
)

// TestInspectionBurstWaits: with every inspection slot taken, a burst of
// uploads waits (none is inspected, none fails) and is inspected once a
// slot frees; a caller that gives up while waiting gets Transient.
func TestInspectionBurstWaits(t *testing.T) {
	s := &Service{Inspector: &certinfo.Inspector{}, Inspections: 2}
	in := s.inspectionSlots()
	if cap(in.slots) != 2 {
		t.Fatalf("%d slots, want 2", cap(in.slots))
	}
	// Two long inspections hold the slots.
	in.slots <- struct{}{}
	in.slots <- struct{}{}

	const burst = 8
	type result struct {
		checked map[push.Platform]*Checked
		err     error
	}
	results := make(chan result, burst)
	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			// Not a .p12: the inspection is quick and needs no live check.
			c, err := s.Inspect(context.Background(), "", &APNsUpload{BundleID: "com.example.app", P12: []byte("not a p12"), HasPassword: true}, nil)
			results <- result{c, err}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); in.waiting.Load() < burst; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d callers wait for a slot", in.waiting.Load(), burst)
		}
		time.Sleep(time.Millisecond)
	}
	if len(results) != 0 {
		t.Fatalf("%d inspections ran while every slot was taken", len(results))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Inspect(ctx, "", nil, &FCMUpload{ServiceAccountJSON: []byte("{}")}); !push.Is(err, push.Transient) {
		t.Errorf("a caller that gave up while waiting = %v, want Transient", err)
	}

	<-in.slots
	<-in.slots
	wg.Wait()
	close(results)
	n := 0
	for r := range results {
		n++
		if r.err != nil || r.checked[push.APNs] == nil || r.checked[push.APNs].Report.Code != certinfo.NotPKCS12 {
			t.Errorf("inspection after the wait = %+v, %v; want a not_pkcs12 report", r.checked, r.err)
		}
	}
	if n != burst || len(in.slots) != 0 || in.waiting.Load() != 0 {
		t.Errorf("%d results, %d slots held, %d waiting; want %d, 0, 0", n, len(in.slots), in.waiting.Load(), burst)
	}
}

func TestDefaultInspections(t *testing.T) {
	if n := DefaultInspections(); n < 1 {
		t.Errorf("DefaultInspections() = %d, want at least 1", n)
	}
	s := &Service{Inspector: &certinfo.Inspector{}}
	if got := cap(s.inspectionSlots().slots); got != DefaultInspections() {
		t.Errorf("a Service without Inspections has %d slots, want DefaultInspections() = %d", got, DefaultInspections())
	}
}
