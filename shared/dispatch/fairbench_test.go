package dispatch_test

// BenchmarkFairness measures what one tenant's flood does to another
// tenant's pushes on the local path, end to end (the embedded durable
// queue, the worker of `mobilepush serve` with its default 4 workers,
// and its quiet lane, dispatch with its default slots) against the fake APNs over TLS and
// HTTP/2 with 20 ms of latency per answer (README.md, Fair sending).
//
// Tenant B sends a one-token message every 100 ms; its latency is from
// the queue send to the Sender's return (the push answered and recorded).
// Three cases: B alone; B while tenant A enqueues 100,000 tokens in
// 1,000-token messages, with fairness (queue tenants and fair slots);
// and the same flood without it (one queue tenant for all, so arrival
// order, and slots in arrival order, as before fair sending). It prints
// B's p50, p99 and max, A's throughput, and the ratios against the
// targets; it asserts nothing about time. FAIRBENCH_TOKENS changes A's
// flood (default 100,000).

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/localsend"
	"mobilepush/shared/push"
)

// fbCase is one measured case.
type fbCase struct {
	name  string
	flood bool // A floods
	fair  bool
}

// fbResult is what one case measured.
type fbResult struct {
	c             fbCase
	b             []time.Duration // B's enqueue-to-delivered latencies
	bWait         []time.Duration // B's enqueue to its send's start
	aTokens       int
	aWall         time.Duration // A's first enqueue to its last delivery
	aDelivered    int
	bNotDelivered int
}

var fbOnce sync.Once

func BenchmarkFairness(b *testing.B) {
	if os.Getenv(sbChildEnv) != "" {
		b.Skip("measurement child")
	}
	// The cases take seconds each: run them once per process, whatever
	// b.N the framework asks for.
	fbOnce.Do(func() { fmt.Print(fbRun(b)) })
	for range b.N {
	}
}

func fbRun(b *testing.B) string {
	tokens := 100000
	if v, err := strconv.Atoi(os.Getenv("FAIRBENCH_TOKENS")); err == nil && v > 0 {
		tokens = v
	}
	const latency = 20 * time.Millisecond
	apple, err := apnstest.NewServer(apnstest.ServerConfig{Config: apnstest.Config{AcceptAnyIssuer: true, Latency: latency}})
	if err != nil {
		b.Fatal(err)
	}
	defer apple.Close()
	roots := x509.NewCertPool()
	roots.AddCert(apple.Certificate)
	var results []fbResult
	for _, c := range []fbCase{{"B alone", false, true}, {"A's flood, fair", true, true}, {"A's flood, not fair", true, false}} {
		r, err := fbMeasure(b, c, tokens, sbSpec{URL: apple.URL, Dir: b.TempDir()}, roots)
		if err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		results = append(results, r)
		apple.Reset()
	}
	return fbFormat(results, tokens, latency)
}

// fbSender records when the Sender returns for each message.
type fbSender struct {
	*dispatch.Sender
	mu      sync.Mutex
	started map[string]time.Time // message id -> when its send started
	done    map[string]time.Time // message id -> when sent
	sent    map[string]int       // message id -> tokens delivered
}

func (s *fbSender) Send(ctx context.Context, d dispatch.Delivery) (dispatch.Result, error) {
	s.mu.Lock()
	s.started[d.Message.MessageID] = time.Now()
	s.mu.Unlock()
	res, err := s.Sender.Send(ctx, d)
	s.mu.Lock()
	s.done[d.Message.MessageID] = time.Now()
	s.sent[d.Message.MessageID] += res.Counts[push.Delivered]
	s.mu.Unlock()
	return res, err
}

func fbMeasure(b *testing.B, c fbCase, tokens int, spec sbSpec, roots *x509.CertPool) (fbResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	st, store, s, err := sbSetup(ctx, spec, roots, push.APNs)
	if err != nil {
		return fbResult{}, err
	}
	defer st.Close()
	if err := sbCreateApp(ctx, store, "beta", "news", push.APNs); err != nil {
		return fbResult{}, err
	}
	if !c.fair {
		dispatch.WithoutFairness(s)
	}
	q, err := localqueue.Open(st.DB(), localsend.QueueName, localqueue.Config{VisibilityTimeout: time.Minute})
	if err != nil {
		return fbResult{}, err
	}
	send := func(m *push.Message) error {
		body, err := json.Marshal(m)
		if err != nil {
			return err
		}
		in := localqueue.SendInput{Body: body, Group: localsend.Group(m.Tenant, m.MessageID), Attributes: map[string]string{dispatch.AttrAttempt: "0"}}
		if c.fair {
			in.Tenant = m.Tenant
		}
		_, err = q.Send(ctx, in)
		return err
	}
	fs := &fbSender{Sender: s, started: map[string]time.Time{}, done: map[string]time.Time{}, sent: map[string]int{}}
	wctx, stop := context.WithCancel(ctx)
	w := localsend.NewWorker(localsend.WorkerConfig{Queue: q, Sender: fs, Visibility: time.Minute}) // serve's 4 workers
	worked := make(chan struct{})
	go func() { w.Run(wctx); close(worked) }()
	defer func() { stop(); <-worked }()

	r := fbResult{c: c}
	var aIDs []string
	start := time.Now()
	if c.flood {
		const perMessage = 1000
		for from := 0; from < tokens; from += perMessage {
			m := sbMessage(fmt.Sprintf("a-%d", from), push.APNs, from, min(perMessage, tokens-from))
			if err := send(m); err != nil {
				return r, err
			}
			aIDs = append(aIDs, m.MessageID)
		}
		r.aTokens = tokens
	}
	// B sends every 100 ms: for 3 s alone, else until A's flood is sent.
	enqueued := map[string]time.Time{}
	aDone := func() bool {
		fs.mu.Lock()
		defer fs.mu.Unlock()
		for _, id := range aIDs {
			if _, ok := fs.done[id]; !ok {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		if (!c.flood && i == 30) || (c.flood && aDone()) {
			break
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		m := sbMessage(fmt.Sprintf("b-%d", i), push.APNs, tokens+i, 1)
		m.Tenant, m.AppID = "beta", "news"
		enqueued[m.MessageID] = time.Now()
		if err := send(m); err != nil {
			return r, err
		}
		<-tick.C
	}
	// Wait for B's last messages.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		fs.mu.Lock()
		n := 0
		for id := range enqueued {
			if _, ok := fs.done[id]; ok {
				n++
			}
		}
		fs.mu.Unlock()
		if n == len(enqueued) {
			break
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for id, at := range enqueued {
		done, ok := fs.done[id]
		if !ok || fs.sent[id] != 1 {
			r.bNotDelivered++
			continue
		}
		r.b = append(r.b, done.Sub(at))
		r.bWait = append(r.bWait, fs.started[id].Sub(at))
	}
	var last time.Time
	for _, id := range aIDs {
		r.aDelivered += fs.sent[id]
		if fs.done[id].After(last) {
			last = fs.done[id]
		}
	}
	if c.flood {
		r.aWall = last.Sub(start)
	}
	return r, nil
}

func fbPercentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func fbFormat(rs []fbResult, tokens int, latency time.Duration) string {
	var out []byte
	buf := func(format string, a ...any) { out = fmt.Appendf(out, format, a...) }
	buf("\nFairness, local path end to end (embedded queue, 4 workers and the quiet lane, dispatch defaults), fake APNs at %s over TLS + HTTP/2; B: one 1-token message every 100 ms; A: %d tokens in 1,000-token messages\n", latency, tokens)
	var tw bytes.Buffer
	w := tabwriter.NewWriter(&tw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "case\tB messages\tB p50 ms\tB p99 ms\tB max ms\tB queued p50/p99 ms\tA tokens/s\tA delivered\tB not delivered")
	for _, r := range rs {
		rate := "-"
		if r.aWall > 0 {
			rate = fmt.Sprintf("%.0f", float64(r.aDelivered)/r.aWall.Seconds())
		}
		fmt.Fprintf(w, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.0f/%.0f\t%s\t%d\t%d\n", r.c.name, len(r.b),
			ms(fbPercentile(r.b, 0.5)), ms(fbPercentile(r.b, 0.99)), ms(fbPercentile(r.b, 1)),
			ms(fbPercentile(r.bWait, 0.5)), ms(fbPercentile(r.bWait, 0.99)), rate, r.aDelivered, r.bNotDelivered)
	}
	_ = w.Flush()
	out = append(out, tw.Bytes()...)
	alone, fair, unfair := rs[0], rs[1], rs[2]
	p99 := func(r fbResult) float64 { return ms(fbPercentile(r.b, 0.99)) }
	verdict := func(ok bool) string {
		if ok {
			return "MET"
		}
		return "MISSED"
	}
	r1 := p99(fair) / p99(alone)
	r2 := p99(unfair) / p99(alone)
	r3 := (float64(fair.aDelivered) / fair.aWall.Seconds()) / (float64(unfair.aDelivered) / unfair.aWall.Seconds())
	buf("\nRatios (same run) and targets:\n")
	buf("B p99 under the flood with fairness / B p99 alone     %6.2f  target <= 3.0x  %s\n", r1, verdict(r1 <= 3))
	buf("B p99 under the flood without fairness / B p99 alone  %6.2f  (for comparison)\n", r2)
	buf("A throughput with fairness / without                  %6.2f  target >= 0.9x  %s\n", r3, verdict(r3 >= 0.9))
	if fair.aDelivered != tokens || unfair.aDelivered != tokens || alone.bNotDelivered+fair.bNotDelivered+unfair.bNotDelivered > 0 {
		buf("NOT ALL DELIVERED: A %d and %d of %d; B missing %d, %d, %d\n", fair.aDelivered, unfair.aDelivered, tokens, alone.bNotDelivered, fair.bNotDelivered, unfair.bNotDelivered)
	}
	return string(out)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
