package interop

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
)

// bodyIs checks an answer with status 200 and the given body.
func bodyIs(want []byte) func(*outcome) error {
	return func(o *outcome) error {
		if o.status != http.StatusOK || !bytes.Equal(o.body, want) {
			return fmt.Errorf("status %d, %d bytes; want 200 and %d bytes", o.status, len(o.body), len(want))
		}
		return nil
	}
}

// TestInteropStreamLimits sends 5,000 requests to nghttpd allowing 1 and
// 100 concurrent streams per connection: none is refused or lost.
//
// The control needs StrictMaxConcurrentStreams at a limit of 1: by
// default x/net's Transport dials another connection for a request that
// finds every stream taken, one dial at a time, and the requests that
// wait for a dial and then find its one stream taken again retry after
// 1, 2, 4, 8 s...: some 40 of 5,000 pass a 20 s deadline unsent (x/net
// v0.62).
func TestInteropStreamLimits(t *testing.T) {
	small := []byte("small file\n")
	for _, limit := range []int{1, 100} {
		t.Run(fmt.Sprintf("max-streams=%d", limit), func(t *testing.T) {
			s := startNghttpd(t, nghttpdOptions{maxStreams: limit, files: map[string][]byte{"small": small}})
			opts := clientOptions{}
			if limit == 1 {
				opts.std = func(tr *http2.Transport) { tr.StrictMaxConcurrentStreams = true }
			}
			for _, k := range clientKinds(opts) {
				t.Run(k.name, func(t *testing.T) {
					reqs := requests(k.name, fmt.Sprintf("limit%d", limit), 5000, func(i int, r *request) {
						r.path, r.want = "/small", bodyIs(small)
					})
					exercise(t, s, k, run{reqs: reqs, inFlight: 200})
				})
			}
		})
	}
}
