package apnstest

import (
	"maps"
	"net/http"
	"strings"
)

// Request is what the gateway received, with the answer it gave.
type Request struct {
	Token      string      // the device token from the path
	Topic      string      // apns-topic as sent (empty if absent)
	PushType   string      // apns-push-type as sent
	Priority   string      // apns-priority as sent
	Expiration string      // apns-expiration as sent
	CollapseID string      // apns-collapse-id as sent
	ID         string      // apns-id answered (the request's or a generated one)
	Header     http.Header // all request headers
	Payload    []byte      // the body
	Credential string      // CertificateID or TokenID of the authenticated credential
	Status     int         // the status answered
	Reason     string      // the reason answered
	RemoteAddr string      // the client's connection
}

// Counts is a snapshot of what a Gateway received.
type Counts struct {
	Total        int            // requests answered (aborted ones excluded)
	Aborted      int            // requests reset by AbortBeforeRead or AbortAfterRead
	ByStatus     map[int]int    // answers per HTTP status
	ByReason     map[string]int // answers per reason (200 = "")
	ByToken      map[string]int // requests per device token (received, aborted after read included)
	ByID         map[string]int // requests per apns-id (received, aborted after read included)
	ByCredential map[string]int // requests per credential id
}

// Counts returns a snapshot of the counters.
func (g *Gateway) Counts() Counts {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.counts
	c.ByStatus = maps.Clone(c.ByStatus)
	c.ByReason = maps.Clone(c.ByReason)
	c.ByToken = maps.Clone(c.ByToken)
	c.ByID = maps.Clone(c.ByID)
	c.ByCredential = maps.Clone(c.ByCredential)
	return c
}

// Total returns how many requests the gateway answered.
func (g *Gateway) Total() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts.Total
}

// Last returns the last request received, and whether there was one.
func (g *Gateway) Last() (Request, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		return Request{}, false
	}
	return *g.last, true
}

// LastFor returns the last request received for a device token.
func (g *Gateway) LastFor(token string) (Request, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.lastBy[strings.ToLower(token)]
	if r == nil {
		return Request{}, false
	}
	return *r, true
}

// Requests returns every request received, oldest first. The gateway
// keeps them until Reset; call Reset between rounds of a long benchmark.
func (g *Gateway) Requests() []Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Request, len(g.recorded))
	for i, r := range g.recorded {
		out[i] = *r
	}
	return out
}

// Reset clears the counters and the recorded requests (not keys, topics,
// devices, revocations or scripts).
func (g *Gateway) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.resetCountsLocked()
}

func (g *Gateway) resetCountsLocked() {
	g.counts = Counts{
		ByStatus: map[int]int{}, ByReason: map[string]int{}, ByToken: map[string]int{},
		ByID: map[string]int{}, ByCredential: map[string]int{},
	}
	g.last = nil
	g.lastBy = map[string]*Request{}
	g.recorded = nil
}
