package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"mobilepush/shared/adminpage"
	"mobilepush/shared/alert"
	"mobilepush/shared/alert/webhook"
	"mobilepush/shared/apitoken"
	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/boltstore"
	"mobilepush/shared/certinfo"
	"mobilepush/shared/clientpool"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/fcm"
	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/h2client"
	"mobilepush/shared/httpapi"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/localsend"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

const serveUsage = `usage: mobilepush serve [--addr 127.0.0.1:9006] [--data DIR] [--fake-gateways | provider URLs] [--http2-client lean|std]

Runs the whole system in one process on the embedded store in DIR: the
HTTP API (bearer tokens from 'mobilepush token'), the admin page at /,
POST /v1/messages and the send worker over the embedded durable queue
('mobilepush send' enqueues, 'mobilepush queue' shows it), and the
expiry check at start and then daily (alerts to the log and, with
--alert-webhook, as JSON POSTs). It talks to Apple and Google for real
unless --fake-gateways runs faithful fakes of both in-process (the
offline demo).

It binds --addr before it touches DIR (a busy port fails at once), and
listens on DIR/admin.sock (mode 0600, this user only) for 'mobilepush
queue', 'token' and 'check-expiry', which run through it while it holds
DIR.

flags:
`

type serveFlags struct {
	addr, data                                 string
	fake                                       bool
	apnsProduction, apnsSandbox, fcmURL, token string
	http2Client                                string // --http2-client: lean or std
	// command names the holder in the data directory's lock; "" means
	// "mobilepush serve".
	command string
	// The send worker: messages at once, and the queue's visibility
	// timeout (0: localsend.DefaultVisibility).
	workers    int
	visibility time.Duration
	// Hidden (for tests): latency the fake APNs adds to every answer, and
	// the pushes in flight per message.
	fakeLatency     time.Duration
	sendConcurrency int
	// alertWebhook also receives every event (expiry alerts, rotations,
	// dead tokens, credential faults) as a JSON POST.
	alertWebhook string
	// The bounds on slow and idle clients of the API listener.
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	maxHeaderBytes                                            int
	// Hidden (for make run): checkAddr only binds the address and exits;
	// makeRun keeps the demo token file and prints make run's banner.
	checkAddr, makeRun bool
}

// hiddenServeFlags are left out of the usage text: they exist for tests.
var hiddenServeFlags = map[string]bool{"fake-latency": true, "send-concurrency": true, "check-addr": true, "make-run": true}

// gatewayFlags registers the provider flags serve and check-expiry share.
func (f *serveFlags) gatewayFlags(fs *flag.FlagSet) {
	fs.BoolVar(&f.fake, "fake-gateways", false, "run fake Apple and Google servers in-process and send to them")
	fs.StringVar(&f.apnsProduction, "apns-production-url", apns.ProductionURL, "APNs production `URL`")
	fs.StringVar(&f.apnsSandbox, "apns-sandbox-url", apns.SandboxURL, "APNs sandbox `URL`")
	fs.StringVar(&f.fcmURL, "fcm-url", fcm.DefaultEndpoint, "FCM `URL`")
	fs.StringVar(&f.token, "google-token-url", fcm.DefaultTokenURL, "Google OAuth token `URL`")
	fs.StringVar(&f.http2Client, "http2-client", string(h2client.Lean), "HTTP/2 `stack` to Apple and Google: lean (the project's client) or std (golang.org/x/net/http2's Transport)")
}

// stackErr reports an --http2-client that is neither lean nor std.
func (f *serveFlags) stackErr() error {
	_, err := h2client.ParseStack(f.http2Client)
	return err
}

// gatewayConflict reports --fake-gateways given with provider URLs (after fs.Parse).
func (f *serveFlags) gatewayConflict(fs *flag.FlagSet) bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return f.fake && (set["apns-production-url"] || set["apns-sandbox-url"] || set["fcm-url"] || set["google-token-url"])
}

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newCmdFlags("serve", serveUsage, stderr)
	fs.Usage = func() { fmt.Fprint(stderr, serveUsage); printFlags(fs.FlagSet, stderr, hiddenServeFlags) }
	var f serveFlags
	fs.StringVar(&f.addr, "addr", "127.0.0.1:9006", "listen `address`")
	fs.StringVar(&f.data, "data", defaultDataDir, "data `directory` (one process owns it)")
	f.gatewayFlags(fs.FlagSet)
	fs.IntVar(&f.workers, "workers", 4, "messages sent at once by the send worker")
	fs.StringVar(&f.alertWebhook, "alert-webhook", "", "also POST every event (expiry alerts, rotations, dead tokens) as JSON to this `URL`")
	fs.DurationVar(&f.visibility, "visibility-timeout", localsend.DefaultVisibility, "send queue visibility timeout: a message a crashed worker held is sent again after it")
	fs.DurationVar(&f.fakeLatency, "fake-latency", 0, "latency the fake APNs adds to every answer")
	fs.IntVar(&f.sendConcurrency, "send-concurrency", 0, "pushes in flight per message (0: dispatch's default)")
	fs.DurationVar(&f.readHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	fs.DurationVar(&f.readTimeout, "read-timeout", 30*time.Second, "how long a client may take to send a whole request, body included")
	fs.DurationVar(&f.writeTimeout, "write-timeout", 60*time.Second, "how long a request may take from its headers to the end of the answer")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open")
	fs.IntVar(&f.maxHeaderBytes, "max-header-bytes", 64<<10, "the largest request header block accepted (larger: 431)")
	fs.BoolVar(&f.checkAddr, "check-addr", false, "only check that --addr can be bound, then exit")
	fs.BoolVar(&f.makeRun, "make-run", false, "keep make run's token file and print its banner")
	if code, ok := fs.parseNoArgs(args); !ok {
		return code
	}
	if f.gatewayConflict(fs.FlagSet) {
		return fs.usageErr("--fake-gateways chooses the provider URLs itself; drop the URL flags")
	}
	if err := f.stackErr(); err != nil {
		fmt.Fprintf(stderr, "mobilepush serve: --http2-client: %v\n", err)
		return exitUsage
	}
	if f.fakeLatency > 0 && !f.fake {
		fmt.Fprintln(stderr, "mobilepush serve: --fake-latency needs --fake-gateways")
		return exitUsage
	}
	if u, err := url.Parse(f.alertWebhook); f.alertWebhook != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		fmt.Fprintf(stderr, "mobilepush serve: --alert-webhook %q is not an http(s) URL\n", f.alertWebhook)
		return exitUsage
	}
	if f.readHeaderTimeout <= 0 || f.readTimeout <= 0 || f.writeTimeout <= 0 || f.idleTimeout <= 0 || f.maxHeaderBytes < 4096 {
		fmt.Fprintln(stderr, "mobilepush serve: the timeouts must be positive and --max-header-bytes at least 4096")
		return exitUsage
	}
	if f.workers <= 0 || f.visibility < time.Second {
		fmt.Fprintln(stderr, "mobilepush serve: --workers must be at least 1 and --visibility-timeout at least 1s")
		return exitUsage
	}
	if err := serve(ctx, f, stdout, stderr); err != nil {
		return fs.fail(err)
	}
	return exitOK
}

// system is everything serve runs, built by openSystem.
type system struct {
	dir     *dataDir
	store   *boltstore.Store
	creds   *credential.Service
	tokens  *apitoken.Store
	queue   *localqueue.Queue
	clients *clientpool.Pool
	handler http.Handler
	fakes   *fakes
	log     *slog.Logger
	worker  *localsend.Worker
	alerts  alert.Tee // the log, and the webhook of --alert-webhook
}

func (s *system) Close() {
	s.clients.Close()
	if s.fakes != nil {
		s.fakes.Close()
	}
	s.store.Close()
	s.dir.Close()
}

// openSystem locks the data directory and assembles the local system.
func openSystem(f serveFlags, stderr io.Writer) (*system, error) {
	command := f.command
	if command == "" {
		command = "mobilepush serve"
	}
	dir, err := openDataDir(f.data, command, time.Second)
	if err != nil {
		return nil, err
	}
	sys := &system{dir: dir, log: slog.New(slog.NewJSONHandler(stderr, nil))}
	fail := func(err error) (*system, error) {
		if sys.fakes != nil {
			sys.fakes.Close()
		}
		if sys.store != nil {
			sys.store.Close()
		}
		dir.Close()
		return nil, err
	}
	if sys.store, err = boltstore.Open(dir.file("data.db"), boltstore.Options{}); err != nil {
		return fail(err)
	}
	tokens, err := apitoken.Open(dir.file("tokens.json"))
	if err != nil {
		return fail(err)
	}
	if sys.clients, sys.fakes, err = gatewayPool(f.gateways()); err != nil {
		return fail(err)
	}
	sys.tokens = tokens
	creds := credential.NewService(credential.Config{Meta: sys.store, Secrets: sys.store, Logger: sys.log})
	sys.creds = creds
	inspector := &certinfo.Inspector{}
	sys.alerts = alert.Tee{alert.Log{Logger: sys.log}}
	if f.alertWebhook != "" {
		sys.alerts = append(sys.alerts, webhook.New(f.alertWebhook, nil))
	}
	reg := &registry.Service{Store: creds, Inspector: inspector, Prover: sys.clients, Pusher: sys.clients, Events: sys.alerts}

	// The send path: the embedded queue, the dispatch use case and its worker.
	if f.visibility <= 0 {
		f.visibility = localsend.DefaultVisibility
	}
	queue, err := localqueue.Open(sys.store.DB(), localsend.QueueName, localqueue.Config{VisibilityTimeout: f.visibility})
	if err != nil {
		sys.clients.Close()
		return fail(err)
	}
	sys.queue = queue
	cache := credential.NewCache(creds, credential.CacheConfig{})
	sender := dispatch.New(dispatch.Config{
		Apps: cache, Ledger: creds, Suspender: creds, Clients: sys.clients,
		Notifier: dispatch.AlertNotifier(sys.alerts), Owner: workerOwner(),
		LeaseFor: f.visibility, Concurrency: f.sendConcurrency,
		Reserve: min(max(f.visibility/10, 100*time.Millisecond), 2*time.Second), Logger: sys.log,
	})
	sys.worker = localsend.NewWorker(localsend.WorkerConfig{Queue: queue, Sender: sender, Workers: f.workers, Visibility: f.visibility, Logger: sys.log})

	api := httpapi.Config{Registry: reg, Auth: tokens, Logger: sys.log}
	api.Extra = adminpage.Routes()
	msgs := &localsend.API{Inbox: queue, Ledger: creds, Apps: cache, IDs: sys.store, KeepIDs: queue.Config().GroupTTL}
	maps.Copy(api.Extra, msgs.Routes(api))
	sys.handler = httpapi.New(api)
	return sys, nil
}

func serve(ctx context.Context, f serveFlags, stdout, stderr io.Writer) error {
	// Bind first: a busy port fails at once, before anything is created.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (another server may run there: stop it or choose another --addr)", f.addr, err)
	}
	if f.checkAddr {
		return ln.Close()
	}
	sys, err := openSystem(f, stderr)
	if err != nil {
		ln.Close()
		return err
	}
	defer sys.Close()
	// This process owns the data directory, so whatever the one before
	// it had in flight is dead: send it now, not after the visibility
	// timeout.
	if n, err := localsend.Reclaim(ctx, sys.queue, sys.store); err != nil {
		ln.Close()
		return err
	} else if n > 0 {
		sys.log.Info("leases_reclaimed", "messages", n)
	}
	// The admin socket is the CLI's (queue, token, check-expiry beside
	// serve); a check-expiry run may take long, so no write timeout.
	// Without it (a path too long for a unix socket) serve still runs and
	// those commands say the directory is held.
	if adminLn, err := listenAdmin(sys.dir); err != nil {
		sys.log.Warn("admin_socket_unavailable", "err", err)
	} else {
		admin := &http.Server{Handler: (&adminServer{sys: sys}).handler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: time.Minute, IdleTimeout: time.Minute}
		go func() { _ = admin.Serve(adminLn) }()
		defer admin.Close()
	}
	if err := writeServeState(sys.dir, serveState{FakeGateways: sys.fakes != nil, Addr: ln.Addr().String(), Since: time.Now().UTC().Truncate(time.Second)}); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: sys.handler, ReadHeaderTimeout: f.readHeaderTimeout, ReadTimeout: f.readTimeout,
		WriteTimeout: f.writeTimeout, IdleTimeout: f.idleTimeout, MaxHeaderBytes: f.maxHeaderBytes}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	worked := make(chan struct{})
	go func() { sys.worker.Run(workCtx); close(worked) }()
	// Stop taking requests first, then let the worker finish what it
	// sends (what it cannot finish is resumed after a restart).
	defer func() { stopWork(); <-worked }()
	// The expiry check runs at start and then daily.
	chk, err := newExpiryChecker(sys, time.Now)
	if err != nil {
		return err
	}
	checked := make(chan struct{})
	go func() { runExpiryDaily(workCtx, chk, 24*time.Hour, sys.log); close(checked) }()
	defer func() { stopWork(); <-checked }()
	mode := "talking to Apple and Google"
	if sys.fakes != nil {
		mode = "with fake Apple and Google servers (offline demo)"
	}
	fmt.Fprintf(stdout, "mobilepush serving on http://%s %s; data in %s\n", ln.Addr(), mode, f.data)
	if f.makeRun {
		if err := printRunBanner(sys, ln.Addr().String(), f.data, stdout); err != nil {
			return err
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// workerOwner names this process in send leases.
func workerOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("serve:%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// printFlags prints the defaults of fs without the hidden flags.
func printFlags(fs *flag.FlagSet, w io.Writer, hidden map[string]bool) {
	all := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	all.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if !hidden[f.Name] {
			all.Var(f.Value, f.Name, f.Usage)
		}
	})
	all.PrintDefaults()
}

// fakes are the in-process Apple and Google of --fake-gateways: they
// accept any issuer and any well-formed key (they cannot know uploaded
// ones) and still check topics, environments, dates and token claims.
type fakes struct {
	production, sandbox *apnstest.Server
	google              *http.Server
	googleURL           string
	roots               *x509.CertPool
}

// gateways is what the provider flags of f choose.
func (f *serveFlags) gateways() gatewayChoice {
	stack, _ := h2client.ParseStack(f.http2Client) // checked after parsing
	return gatewayChoice{Fake: f.fake, FakeLatency: f.fakeLatency, APNsProduction: f.apnsProduction,
		APNsSandbox: f.apnsSandbox, FCM: f.fcmURL, GoogleToken: f.token, HTTP2Client: stack}
}

// gatewayChoice is where a client pool sends: the in-process fakes, or
// the provider URLs.
type gatewayChoice struct {
	Fake           bool           `json:"fake"`
	FakeLatency    time.Duration  `json:"fake_latency,omitempty"`
	APNsProduction string         `json:"apns_production_url,omitempty"`
	APNsSandbox    string         `json:"apns_sandbox_url,omitempty"`
	FCM            string         `json:"fcm_url,omitempty"`
	GoogleToken    string         `json:"google_token_url,omitempty"`
	HTTP2Client    h2client.Stack `json:"http2_client,omitempty"`
}

// gatewayPool makes the client pool of g, starting the fakes it chooses
// (nil otherwise); the caller closes both.
func gatewayPool(g gatewayChoice) (*clientpool.Pool, *fakes, error) {
	if g.Fake {
		fk, err := startFakes(g.FakeLatency)
		if err != nil {
			return nil, nil, err
		}
		cfg := fk.config()
		cfg.HTTP2Client = g.HTTP2Client
		return clientpool.New(cfg), fk, nil
	}
	return clientpool.New(clientpool.Config{
		APNs:        apns.Config{ProductionURL: g.APNsProduction, SandboxURL: g.APNsSandbox},
		FCM:         fcm.Config{Endpoint: g.FCM, TokenURL: g.GoogleToken},
		HTTP2Client: g.HTTP2Client,
	}), nil, nil
}

func startFakes(latency time.Duration) (*fakes, error) {
	f := &fakes{roots: x509.NewCertPool()}
	var err error
	if f.production, err = apnstest.NewServer(apnstest.ServerConfig{Config: apnstest.Config{Environment: push.Production, AcceptAnyIssuer: true, Latency: latency}}); err != nil {
		return nil, err
	}
	if f.sandbox, err = apnstest.NewServer(apnstest.ServerConfig{Config: apnstest.Config{Environment: push.Sandbox, AcceptAnyIssuer: true, Latency: latency}}); err != nil {
		f.Close()
		return nil, err
	}
	f.roots.AddCert(f.production.Certificate)
	f.roots.AddCert(f.sandbox.Certificate)

	cert, leaf, err := apnstest.ServerCertificate()
	if err != nil {
		f.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Close()
		return nil, err
	}
	f.googleURL = "https://" + ln.Addr().String()
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	f.google = &http.Server{
		Handler:           fcmtest.New(fcmtest.Options{AcceptAnyKey: true, TokenURL: f.googleURL + "/token"}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	f.roots.AddCert(leaf)
	go func() { _ = f.google.ServeTLS(ln, "", "") }()
	return f, nil
}

func (f *fakes) config() clientpool.Config {
	return clientpool.Config{
		APNs: apns.Config{ProductionURL: f.production.URL, SandboxURL: f.sandbox.URL, RootCAs: f.roots},
		FCM:  fcm.Config{Endpoint: f.googleURL, TokenURL: f.googleURL + "/token", RootCAs: f.roots},
	}
}

func (f *fakes) Close() {
	if f.production != nil {
		f.production.Close()
	}
	if f.sandbox != nil {
		f.sandbox.Close()
	}
	if f.google != nil {
		f.google.Close()
	}
}
