package interop

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Where Debian's packages put the servers (nghttp2-server, nginx, h2o).
const (
	nghttpdPath = "/usr/sbin/nghttpd"
	nginxPath   = "/usr/sbin/nginx"
	h2oPath     = "/usr/bin/h2o"
)

// need returns the server binary at path, or skips the test loudly (fails
// it under CI=true) when it is missing.
func need(t *testing.T, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(filepath.Base(path)); err == nil {
		return p
	}
	msg := fmt.Sprintf("!!!!! INTEROP TEST NOT RUN: %s not found (Debian package %s).\n"+
		"!!!!! Install it: apt-get update && apt-get install -y --no-install-recommends %s", path, pkg, pkg)
	fmt.Fprintln(os.Stderr, msg)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// mintCerts makes the throw-away certificate every server presents: a
// self-signed ECDSA certificate for 127.0.0.1, minted once per run.
var mintCerts = sync.OnceValues(func() (*certs, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "mobilepush interop test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &certs{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		roots:   roots,
	}, nil
})

type certs struct {
	certPEM, keyPEM []byte
	roots           *x509.CertPool
}

// server is one server process the test started.
type server struct {
	name    string
	addr    string // 127.0.0.1:port
	dir     string // its temp dir: config, certificate, logs
	cert    string // paths of the certificate and key in dir
	key     string
	roots   *x509.CertPool
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logPath string           // the log that shows what it processed
	parse   func(string) ids // reads that log
}

// newServer prepares a server's temp dir with the certificate and picks
// a free loopback port.
func newServer(t *testing.T, name string) *server {
	t.Helper()
	id, err := mintCerts()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{name: name, dir: t.TempDir(), roots: id.roots}
	s.cert, s.key = filepath.Join(s.dir, "cert.pem"), filepath.Join(s.dir, "key.pem")
	if err := os.WriteFile(s.cert, id.certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.key, id.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ln.Close()
	return s
}

func (s *server) port() string { _, p, _ := net.SplitHostPort(s.addr); return p }

// start runs argv in its own process group with its output in
// out.log, waits until it completes a TLS handshake with ALPN h2, and
// arranges for it to be stopped (by its pid) when the test ends.
func (s *server) start(t *testing.T, argv ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(s.dir, "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(t) })
	tc := &tls.Config{RootCAs: s.roots, NextProtos: []string{"h2"}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("%s exited at start (%v):\n%s", s.name, s.waitErr, s.output())
		default:
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", s.addr, tc)
		if err == nil {
			proto := c.ConnectionState().NegotiatedProtocol
			c.Close()
			if proto != "h2" {
				t.Fatalf("%s negotiated %q, not h2", s.name, proto)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready on %s: %v\n%s", s.name, s.addr, err, s.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the server: SIGTERM to its process group, SIGKILL after 5 s.
func (s *server) stop(t *testing.T) {
	select {
	case <-s.exited:
		return
	default:
	}
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		t.Errorf("%s (pid %d) still running 5 s after SIGTERM: killed", s.name, pgid)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-s.exited
	}
	// Workers of a master that exited first.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func (s *server) output() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "out.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// ids counts how many times the server processed each request id.
type ids map[string]int

// processed reads the server's log.
func (s *server) processed(t *testing.T) ids {
	t.Helper()
	b, err := os.ReadFile(s.logPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if dir := os.Getenv("INTEROP_KEEP_LOGS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, t.Name()[strings.LastIndex(t.Name(), "/")+1:]+"-"+s.name+".log"), b, 0o644)
	}
	return s.parse(string(b))
}

// requestID extracts the id query parameter of a request target.
func requestID(target string) string {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return ""
	}
	return u.Query().Get("id")
}

// nghttpdOptions are the nghttpd flags a scenario sets.
type nghttpdOptions struct {
	maxStreams int               // -m
	setWindows bool              // -w and -W windowBits: windows of 2^bits-1 bytes (0: a zero window)
	windowBits int               //
	padding    int               // --padding
	files      map[string][]byte // the document root
}

// startNghttpd starts nghttpd with --echo-upload and -v: its frame log is
// the record of what it processed (every request's :path, and the
// streams it refused).
func startNghttpd(t *testing.T, o nghttpdOptions) *server {
	t.Helper()
	bin := need(t, nghttpdPath, "nghttp2-server")
	s := newServer(t, "nghttpd")
	docs := filepath.Join(s.dir, "docs")
	if err := os.Mkdir(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range o.files {
		if err := os.WriteFile(filepath.Join(docs, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	argv := []string{bin, "-v", "--echo-upload", "-a", "127.0.0.1", "-d", docs}
	if o.maxStreams > 0 {
		argv = append(argv, "-m", fmt.Sprint(o.maxStreams))
	}
	if o.setWindows {
		argv = append(argv, "-w", fmt.Sprint(o.windowBits), "-W", fmt.Sprint(o.windowBits))
	}
	if o.padding > 0 {
		argv = append(argv, "--padding", fmt.Sprint(o.padding))
	}
	argv = append(argv, s.port(), s.key, s.cert)
	s.logPath = filepath.Join(s.dir, "out.log")
	s.parse = parseNghttpd
	s.start(t, argv...)
	return s
}

var (
	nghttpdPathLine = regexp.MustCompile(`^\[id=(\d+)\] \[[ .0-9]+\] recv \(stream_id=(\d+)(?:, sensitive)?\) :path: (\S+)`)
	nghttpdSendRST  = regexp.MustCompile(`^\[id=(\d+)\] \[[ .0-9]+\] send RST_STREAM frame <length=\d+, flags=0x00, stream_id=(\d+)>`)
)

// parseNghttpd reads nghttpd's -v log: a request is processed when its
// :path arrived and nghttpd did not answer it with RST_STREAM
// REFUSED_STREAM.
func parseNghttpd(log string) ids {
	type key struct{ conn, stream string }
	paths := map[key]string{}
	refused := map[key]bool{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var rst *key
	for sc.Scan() {
		line := sc.Text()
		if m := nghttpdPathLine.FindStringSubmatch(line); m != nil {
			paths[key{m[1], m[2]}] = m[3]
			continue
		}
		if m := nghttpdSendRST.FindStringSubmatch(line); m != nil {
			rst = &key{m[1], m[2]}
			continue
		}
		if rst != nil && strings.Contains(line, "error_code=REFUSED_STREAM") {
			refused[*rst] = true
		}
		rst = nil
	}
	out := ids{}
	for k, p := range paths {
		if !refused[k] {
			out[requestID(p)]++
		}
	}
	return out
}

// parseTargets reads an access log whose lines start with the request
// target (nginx's $request_uri, h2o's %U%q).
func parseTargets(log string) ids {
	out := ids{}
	for line := range strings.Lines(log) {
		if f := strings.Fields(line); len(f) > 0 {
			out[requestID(f[0])]++
		}
	}
	return out
}
