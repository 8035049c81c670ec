package dispatch_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/push"
)

// stalledLedger holds every outcome write until release is closed, as a
// ledger would be at the moment a process dies with writes outstanding.
type stalledLedger struct {
	dispatch.Ledger
	release chan struct{}
}

func (l *stalledLedger) RecordOutcomes(ctx context.Context, key credential.MessageKey, owner string, outs []credential.Outcome) []error {
	<-l.release
	return l.Ledger.RecordOutcomes(ctx, key, owner, outs)
}

// TestResendWindowIsTheInFlightBound: while the ledger writes nothing,
// the gateways see at most MaxInFlight APNs pushes and FCMCalls chunks,
// so a crash at that moment re-sends no more than that. (Before, a push's
// slot was freed on its answer and a whole message went out unrecorded.)
func TestResendWindowIsTheInFlightBound(t *testing.T) {
	tests := []struct {
		name        string
		apns, fcm   int
		maxInFlight int
		fcmCalls    int
		wantAPNs    int
		wantFCM     int
	}{
		{name: "apns", apns: 300, maxInFlight: 40, fcmCalls: 8, wantAPNs: 40},
		{name: "fcm", fcm: 1000, maxInFlight: 40, fcmCalls: 1, wantFCM: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			l := &stalledLedger{Ledger: r.Store, release: make(chan struct{})}
			s := dispatch.New(dispatch.Config{Apps: credential.NewCache(r.Store, credential.CacheConfig{}), Ledger: l, Suspender: r.Store,
				Clients: r.Clients(), Owner: "w", MaxInFlight: tt.maxInFlight, FCMCalls: tt.fcmCalls})
			var apnsToks, fcmToks []string
			for i := range tt.apns {
				apnsToks = append(apnsToks, hexToken(1000+i))
			}
			for i := range tt.fcm {
				fcmToks = append(fcmToks, fmt.Sprintf("fcm-window-%d", i))
			}
			a0 := r.Apple.Total() // the rig's own checks
			var wg sync.WaitGroup
			var res dispatch.Result
			var err error
			wg.Go(func() {
				res, err = s.Send(context.Background(), dispatch.Delivery{Message: message("window", apnsToks, fcmToks)})
			})
			// Let the sender go as far as it can with nothing recorded.
			seen := func() (int, int) { return r.Apple.Total() - a0, len(r.Google.Sent()) }
			a, f := seen()
			for settled, deadline := 0, time.Now().Add(20*time.Second); settled < 10; {
				if time.Now().After(deadline) {
					t.Fatalf("the sender did not settle: %d APNs, %d FCM pushes", a, f)
				}
				time.Sleep(20 * time.Millisecond)
				if na, nf := seen(); na != a || nf != f || na+nf == 0 {
					a, f, settled = na, nf, 0
					continue
				}
				settled++
			}
			if a != tt.wantAPNs || f != tt.wantFCM {
				t.Errorf("sent without a recorded outcome: %d APNs, %d FCM; want %d, %d (the in-flight bound)", a, f, tt.wantAPNs, tt.wantFCM)
			}
			close(l.release)
			wg.Wait()
			if err != nil || res.Counts[push.Delivered] != tt.apns+tt.fcm {
				t.Fatalf("after the ledger came back: %+v, %v", res.Counts, err)
			}
		})
	}
}
