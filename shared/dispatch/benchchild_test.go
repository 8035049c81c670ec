package dispatch_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	firebase "firebase.google.com/go/v4"
	"github.com/sideshow/apns2"
	"golang.org/x/net/http2"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"

	"mobilepush/shared/apns"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/clientpool"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/fcm"
	"mobilepush/shared/h2client"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/localsend"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// TestSendBenchChild is one measurement of BenchmarkSend, run in a fresh
// process; it is skipped unless sbChildEnv is set.
func TestSendBenchChild(t *testing.T) {
	raw := os.Getenv(sbChildEnv)
	if raw == "" {
		t.Skip("run by BenchmarkSend only")
	}
	var spec sbSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	r := sbRunChild(spec)
	js, _ := json.Marshal(r)
	fmt.Println(sbResultPrefix + string(js))
}

const (
	sbBundle  = "com.acme.app"
	sbProject = "acme-push"
)

// sbBurst is a measured burst: prepare runs before the clock starts
// (set-up and one warm-up send), burst is timed.
type sbBurst func(ctx context.Context) (delivered int, err error)

func sbRunChild(spec sbSpec) sbResult {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(spec.RootPEM)) {
		return sbResult{Err: "no server certificate"}
	}
	var burst sbBurst
	var check func(ctx context.Context, delivered int) error // after the clock stops
	var err error
	switch spec.Contender {
	case "dispatch-apns", "dispatch-apns-std":
		burst, err = sbDispatch(ctx, spec, roots, push.APNs)
	case "dispatch-fcm", "dispatch-fcm-std":
		burst, err = sbDispatch(ctx, spec, roots, push.FCM)
	case "apns2-100":
		burst, err = sbAPNs2(ctx, spec, roots, 100)
	case "apns2-1000":
		burst, err = sbAPNs2(ctx, spec, roots, 1000)
	case "sendeach-loop":
		burst, err = sbSendEach(ctx, spec, roots, 1)
	case "sendeach-16":
		burst, err = sbSendEach(ctx, spec, roots, 16)
	case "local-apns":
		burst, check, err = sbLocal(ctx, spec, roots)
	case "idle":
		burst = func(context.Context) (int, error) { return spec.Tokens, nil }
	default:
		err = fmt.Errorf("unknown contender %q", spec.Contender)
	}
	if err != nil {
		return sbResult{Err: err.Error()}
	}
	if dir := os.Getenv("SENDBENCH_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, spec.Contender+"-"+spec.Latency.String()+".pprof"))
		if err == nil {
			defer f.Close()
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	if at, err := time.ParseDuration(os.Getenv("SENDBENCH_HEAPAT")); err == nil {
		// An in-use heap profile taken that long into the burst (after a
		// GC, finely sampled), to see what the peak RSS is made of.
		runtime.MemProfileRate = 4096
		defer time.AfterFunc(at, func() {
			runtime.GC()
			if f, err := os.Create(filepath.Join(os.Getenv("SENDBENCH_MEMPROFILE"), spec.Contender+"-"+spec.Latency.String()+".inuse")); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				_ = f.Close()
			}
			if f, err := os.Create(filepath.Join(os.Getenv("SENDBENCH_MEMPROFILE"), spec.Contender+"-"+spec.Latency.String()+".goroutines")); err == nil {
				_ = pprof.Lookup("goroutine").WriteTo(f, 1)
				_ = f.Close()
			}
		}).Stop()
	}
	var peaks func() string
	if os.Getenv("SENDBENCH_MEMSTATS") != "" {
		peaks = sbWatchPeaks()
	}
	cpu0, start := sbCPU(), time.Now()
	n, err := burst(ctx)
	wall, cpu := time.Since(start), sbCPU()-cpu0
	r := sbResult{Delivered: n, Wall: wall.Seconds(), CPU: cpu.Seconds(), PeakRSS: sbPeakRSS()}
	if err == nil && check != nil {
		err = check(ctx, n)
	}
	if err != nil {
		r.Err = err.Error()
	}
	if dir := os.Getenv("SENDBENCH_MEMPROFILE"); dir != "" {
		if f, err := os.Create(filepath.Join(dir, spec.Contender+"-"+spec.Latency.String()+".heap")); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	if os.Getenv("SENDBENCH_MEMSTATS") != "" {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		status, _ := os.ReadFile("/proc/self/status")
		var mem []string
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "Rss") {
				mem = append(mem, strings.Join(strings.Fields(l), " "))
			}
		}
		fmt.Fprintf(os.Stderr, "memstats %s: HeapSys=%dMiB HeapInuse=%dMiB StackSys=%dMiB Sys=%dMiB NumGC=%d %s\n", spec.Contender,
			ms.HeapSys>>20, ms.HeapInuse>>20, ms.StackSys>>20, ms.Sys>>20, ms.NumGC, strings.Join(mem, "; "))
		fmt.Fprintf(os.Stderr, "memstats %s: resident file mappings: %s\n", spec.Contender, sbFileRSS())
		fmt.Fprintf(os.Stderr, "memstats %s: peaks during the burst: %s\n", spec.Contender, peaks())
	}
	return r
}

// sbFileRSS sums the resident kB of each file mapped into the process
// (/proc/self/smaps), for SENDBENCH_MEMSTATS: the test binary's text and
// the bbolt file's mmap count in the peak RSS too.
func sbFileRSS() string {
	raw, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return err.Error()
	}
	byFile := map[string]int64{}
	var cur string
	for _, l := range strings.Split(string(raw), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			cur = ""
			if len(f) >= 6 {
				cur = filepath.Base(f[5])
			}
		case len(f) == 3 && f[0] == "Rss:" && cur != "":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			byFile[cur] += kb
		}
	}
	var parts []string
	for name, kb := range byFile {
		if kb >= 1024 {
			parts = append(parts, fmt.Sprintf("%s=%dkB", name, kb))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// sbWatchPeaks samples runtime/metrics every millisecond until the
// returned function is called, which reports the peak of each.
func sbWatchPeaks() func() string {
	names := []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/stacks:bytes", "/gc/heap/live:bytes",
		"/memory/classes/heap/unused:bytes", "/memory/classes/heap/free:bytes", "/memory/classes/total:bytes", "/sched/goroutines:goroutines"}
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	peak := make([]uint64, len(names))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			for i, s := range samples {
				if s.Value.Kind() == metrics.KindUint64 {
					peak[i] = max(peak[i], s.Value.Uint64())
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() string {
		close(stop)
		<-done
		var parts []string
		for i, n := range names {
			v := peak[i]
			if strings.HasSuffix(n, ":bytes") {
				parts = append(parts, fmt.Sprintf("%s=%.1fMiB", n, float64(v)/(1<<20)))
			} else {
				parts = append(parts, fmt.Sprintf("%s=%d", n, v))
			}
		}
		return strings.Join(parts, " ")
	}
}

func sbCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sbPeakRSS is the process's peak resident set: VmHWM of
// /proc/self/status. (ru_maxrss is no use here: Linux keeps it across
// execve, so a re-executed child would report its parent's peak.)
func sbPeakRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

func sbToken(i int) string { return fmt.Sprintf("%064x", i+1) }

func sbFCMToken(i int) string { return fmt.Sprintf("bench-fcm-token-%08d:APA91b", i) }

func sbMessage(id string, p push.Platform, from, n int) *push.Message {
	toks := make([]string, n)
	for i := range toks {
		if p == push.APNs {
			toks[i] = sbToken(from + i)
		} else {
			toks[i] = sbFCMToken(from + i)
		}
	}
	m := &push.Message{Version: 1, Tenant: "acme", AppID: "shop", MessageID: id,
		Notification: push.Notification{Title: "Sale", Body: "50% off everything today"}}
	if p == push.APNs {
		m.Tokens.APNs = toks
	} else {
		m.Tokens.FCM = toks
	}
	return m
}

// sbDispatch wires a Sender as the local server does (bbolt store for
// app metadata, secrets and the outcome ledger, read-through cache,
// client pool) and returns a burst of 10 concurrent messages of
// 1000 tokens.
func sbDispatch(ctx context.Context, spec sbSpec, roots *x509.CertPool, p push.Platform) (sbBurst, error) {
	_, _, s, err := sbSetup(ctx, spec, roots, p)
	if err != nil {
		return nil, err
	}
	const perMessage = 1000
	return func(ctx context.Context) (int, error) {
		var delivered atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for from := 0; from < spec.Tokens; from += perMessage {
			m := sbMessage(fmt.Sprintf("bench-%d", from), p, from, min(perMessage, spec.Tokens-from))
			wg.Go(func() {
				res, err := s.Send(ctx, dispatch.Delivery{Message: m})
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
				delivered.Add(int64(res.Counts[push.Delivered]))
			})
		}
		wg.Wait()
		return int(delivered.Load()), firstErr
	}, nil
}

// sbLocal is the local server's path, end to end: the messages are put on
// the embedded durable queue (as POST /v1/messages does) and the worker
// receives, sends, settles and completes them; the burst ends when every
// message left the queue. Delivered is what the Sender reported; check,
// run after the clock stops, reads the ledger back and wants the same.
func sbLocal(ctx context.Context, spec sbSpec, roots *x509.CertPool) (sbBurst, func(context.Context, int) error, error) {
	st, store, s, err := sbSetup(ctx, spec, roots, push.APNs)
	if err != nil {
		return nil, nil, err
	}
	q, err := localqueue.Open(st.DB(), localsend.QueueName, localqueue.Config{VisibilityTimeout: time.Minute})
	if err != nil {
		return nil, nil, err
	}
	const perMessage = 1000
	var ids []string
	burst := func(ctx context.Context) (int, error) {
		for from := 0; from < spec.Tokens; from += perMessage {
			m := sbMessage(fmt.Sprintf("local-%d", from), push.APNs, from, min(perMessage, spec.Tokens-from))
			body, err := json.Marshal(m)
			if err != nil {
				return 0, err
			}
			if _, err := q.Send(ctx, localqueue.SendInput{Body: body, Group: localsend.Group(m.Tenant, m.MessageID), Tenant: m.Tenant,
				Attributes: map[string]string{dispatch.AttrAttempt: "0"}}); err != nil {
				return 0, err
			}
			ids = append(ids, m.MessageID)
		}
		wctx, stop := context.WithCancel(ctx)
		counted := &sbCountingSender{Sender: s}
		w := localsend.NewWorker(localsend.WorkerConfig{Queue: q, Sender: counted, Workers: len(ids), Visibility: time.Minute})
		done := make(chan struct{})
		go func() { w.Run(wctx); close(done) }()
		defer func() { stop(); <-done }()
		for _, id := range ids {
			for {
				g, err := q.Group(ctx, localsend.Group("acme", id))
				if err != nil {
					return 0, err
				}
				if g.Received && g.Live == 0 {
					break
				}
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				time.Sleep(time.Millisecond)
			}
		}
		return int(counted.delivered.Load()), nil
	}
	check := func(ctx context.Context, delivered int) error {
		inLedger := 0
		for _, id := range ids {
			outs, err := store.Outcomes(ctx, credential.MessageKey{Tenant: "acme", MessageID: id})
			if err != nil {
				return err
			}
			for _, o := range outs {
				if o.Result == push.Delivered {
					inLedger++
				}
			}
		}
		if inLedger != delivered {
			return fmt.Errorf("the ledger records %d delivered, the sender reported %d", inLedger, delivered)
		}
		return nil
	}
	return burst, check, nil
}

// sbCountingSender counts the deliveries the Sender reports.
type sbCountingSender struct {
	*dispatch.Sender
	delivered atomic.Int64
}

func (c *sbCountingSender) Send(ctx context.Context, d dispatch.Delivery) (dispatch.Result, error) {
	res, err := c.Sender.Send(ctx, d)
	c.delivered.Add(int64(res.Counts[push.Delivered]))
	return res, err
}

// sbSetup wires a Sender as the local server does (bbolt store for app
// metadata, secrets and the outcome ledger, read-through cache, client
// pool), registers the app and sends one warm-up token.
func sbSetup(ctx context.Context, spec sbSpec, roots *x509.CertPool, p push.Platform) (*boltstore.Store, *credential.Service, *dispatch.Sender, error) {
	st, err := boltstore.Open(filepath.Join(spec.Dir, "bench.db"), boltstore.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	store := credential.NewService(credential.Config{Meta: st, Secrets: st})
	if err := sbCreateApp(ctx, store, "acme", "shop", p); err != nil {
		return nil, nil, nil, err
	}
	pool := clientpool.New(clientpool.Config{
		APNs:        apns.Config{ProductionURL: spec.URL, SandboxURL: spec.URL, RootCAs: roots},
		FCM:         fcm.Config{Endpoint: spec.URL, TokenURL: spec.TokenURL, RootCAs: roots},
		HTTP2Client: sbStack(spec.Contender),
	})
	// SENDBENCH_CONCURRENCY and SENDBENCH_MAXINFLIGHT override
	// Config.Concurrency and Config.MaxInFlight (default: the Sender's own
	// defaults), for exploring; the table uses the defaults.
	conc, _ := strconv.Atoi(os.Getenv("SENDBENCH_CONCURRENCY"))
	inflight, _ := strconv.Atoi(os.Getenv("SENDBENCH_MAXINFLIGHT"))
	s := dispatch.New(dispatch.Config{Apps: credential.NewCache(store, credential.CacheConfig{}), Ledger: store, Suspender: store, Clients: pool, Owner: "bench", Concurrency: conc, MaxInFlight: inflight})

	// Warm-up: one token, so the client exists and its connection is open.
	res, err := s.Send(ctx, dispatch.Delivery{Message: sbMessage("warm", p, spec.Tokens, 1)})
	if err != nil {
		return nil, nil, nil, err
	}
	if res.Counts[push.Delivered] != 1 {
		return nil, nil, nil, fmt.Errorf("warm-up: %v", res.Counts)
	}
	return st, store, s, nil
}

// sbCreateApp registers app appID of tenant with a credential for p
// that the fakes accept (bundle sbBundle, project sbProject).
func sbCreateApp(ctx context.Context, store *credential.Service, tenant, appID string, p push.Platform) error {
	req := credential.CreateRequest{Tenant: tenant, ID: appID, Name: appID, Enabled: true, Environment: push.Production}
	if p == push.APNs {
		ca, err := testcred.AppleWWDR()
		if err != nil {
			return err
		}
		id, err := ca.IssuePush(testcred.PushCert{BundleID: sbBundle})
		if err != nil {
			return err
		}
		chain, key, err := id.PEM()
		if err != nil {
			return err
		}
		req.APNs = &credential.Upload{
			Material: credential.Material{Kind: push.APNsP12, CertificateChainPEM: push.NewRedacted(chain), PrivateKeyPEM: push.NewRedacted(key)},
			Facts:    credential.Facts{BundleID: sbBundle, NotAfter: id.Cert.NotAfter},
		}
	} else {
		sa, err := testcred.ServiceAccount{ProjectID: sbProject}.Bytes()
		if err != nil {
			return err
		}
		req.FCM = &credential.Upload{Material: credential.Material{Kind: push.FCMJSON, ServiceAccountJSON: push.NewRedacted(sa)}, Facts: credential.Facts{ProjectID: sbProject}}
	}
	_, err := store.Create(ctx, req)
	return err
}

// sbPayload is the fixed payload of the bare apns2 client.
var sbPayload = []byte(`{"aps":{"alert":{"title":"Sale","body":"50% off everything today"}}}`)

// sbAPNs2 is a bare sideshow/apns2 client (certificate auth) driven by
// workers goroutines.
func sbAPNs2(ctx context.Context, spec sbSpec, roots *x509.CertPool, workers int) (sbBurst, error) {
	ca, err := testcred.AppleWWDR()
	if err != nil {
		return nil, err
	}
	id, err := ca.IssuePush(testcred.PushCert{BundleID: sbBundle})
	if err != nil {
		return nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{id.Cert.Raw, id.Chain[0].Raw}, PrivateKey: id.Key, Leaf: id.Cert}
	c := apns2.NewClient(cert)
	c.Host = spec.URL
	c.HTTPClient.Transport.(*http2.Transport).TLSClientConfig.RootCAs = roots
	push1 := func(ctx context.Context, i int) (bool, error) {
		r, err := c.PushWithContext(ctx, &apns2.Notification{DeviceToken: sbToken(i), Topic: sbBundle, Payload: sbPayload})
		if err != nil {
			return false, err
		}
		return r.StatusCode == http.StatusOK, nil
	}
	if ok, err := push1(ctx, spec.Tokens); !ok || err != nil {
		return nil, fmt.Errorf("warm-up: ok=%v err=%v", ok, err)
	}
	return func(ctx context.Context) (int, error) {
		var next, delivered atomic.Int64
		var wg sync.WaitGroup
		var errs atomic.Int64
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= spec.Tokens {
						return
					}
					ok, err := push1(ctx, i)
					if err != nil {
						errs.Add(1)
					}
					if ok {
						delivered.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := errs.Load(); n > 0 {
			return int(delivered.Load()), fmt.Errorf("%d transport errors", n)
		}
		return int(delivered.Load()), nil
	}, nil
}

// sbStack is the HTTP/2 stack of a dispatch contender: Std for the keys
// ending in "-std", else Lean (the default).
func sbStack(contender string) h2client.Stack {
	if strings.HasSuffix(contender, "-std") {
		return h2client.Std
	}
	return h2client.Lean
}

// sbSendEach is a bare firebase messaging client (its own OAuth token
// source against the fake) sending chunks of 500 with SendEach, calls
// calls at a time (1: one call after another). It sends exactly the messages our sender sends for the
// same queue message: fcm.NewTemplate(sbMessage(...)).Messages of the
// tokens (notification plus the android, apns and webpush blocks), so
// the comparison with dispatch-fcm is like for like.
func sbSendEach(ctx context.Context, spec sbSpec, roots *x509.CertPool, calls int) (sbBurst, error) {
	sa, err := testcred.ServiceAccount{ProjectID: sbProject}.Bytes()
	if err != nil {
		return nil, err
	}
	jc, err := google.JWTConfigFromJSON(sa, "https://www.googleapis.com/auth/firebase.messaging")
	if err != nil {
		return nil, err
	}
	jc.TokenURL = spec.TokenURL
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 100}
	base := &http.Client{Transport: tr}
	hc := jc.Client(context.WithValue(ctx, oauth2.HTTPClient, base))
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: sbProject}, option.WithHTTPClient(hc), option.WithEndpoint(spec.URL+"/v1"))
	if err != nil {
		return nil, err
	}
	mc, err := app.Messaging(ctx)
	if err != nil {
		return nil, err
	}
	// Warm-up: one message alone (the warm-up token, as sbSetup's), so
	// the burst shares the connection.
	warm := fcm.NewTemplate(sbMessage("warm", push.FCM, spec.Tokens, 1), time.Time{})
	if _, err := mc.Send(ctx, warm.For(sbFCMToken(spec.Tokens))); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	return func(ctx context.Context) (int, error) {
		// One queue message for all the tokens, mapped as sendFCM maps it.
		m := sbMessage("bench", push.FCM, 0, spec.Tokens)
		tmpl := fcm.NewTemplate(m, time.Time{})
		var delivered atomic.Int64
		var firstErr atomic.Pointer[error]
		slots := make(chan struct{}, calls)
		var wg sync.WaitGroup
		for from := 0; from < len(m.Tokens.FCM); from += fcm.MaxBatch {
			batch := tmpl.Messages(m.Tokens.FCM[from:min(from+fcm.MaxBatch, len(m.Tokens.FCM))])
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				br, err := mc.SendEach(ctx, batch)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				delivered.Add(int64(br.SuccessCount))
			})
		}
		wg.Wait()
		if e := firstErr.Load(); e != nil {
			return int(delivered.Load()), *e
		}
		return int(delivered.Load()), nil
	}, nil
}
