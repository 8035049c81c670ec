package registry

import (
	"context"
	"runtime"
	"sync/atomic"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/push"
)

// DefaultInspections is how many offline inspections a Service runs at
// once when Service.Inspections is 0: half the CPUs, at least one. A
// .p12 may ask for up to certinfo's cap of key-derivation iterations
// (tenths of a second of CPU each); a burst of uploads then waits for a
// slot while the other requests keep the rest of the CPUs.
func DefaultInspections() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// inspections bounds the concurrent inspections of a Service.
type inspections struct {
	slots   chan struct{}
	waiting atomic.Int32 // callers waiting for a slot (read by tests)
}

func (s *Service) inspectionSlots() *inspections {
	s.inspectOnce.Do(func() {
		n := s.Inspections
		if n <= 0 {
			n = DefaultInspections()
		}
		s.inspect = &inspections{slots: make(chan struct{}, n)}
	})
	return s.inspect
}

// inspected runs one offline inspection when a slot is free. A caller
// whose context ends while it waits gets Transient (503, retry later);
// nothing was inspected.
func (s *Service) inspected(ctx context.Context, op string, inspect func(*certinfo.Inspector) *certinfo.Report) (*certinfo.Report, error) {
	in := s.inspectionSlots()
	select {
	case in.slots <- struct{}{}:
	default:
		in.waiting.Add(1)
		select {
		case in.slots <- struct{}{}:
			in.waiting.Add(-1)
		case <-ctx.Done():
			in.waiting.Add(-1)
			return nil, push.E(op, push.Transient, ctx.Err()).WithMsg("Too many uploads are being inspected at once; retry in a few seconds.")
		}
	}
	defer func() { <-in.slots }()
	return inspect(s.Inspector), nil
}
