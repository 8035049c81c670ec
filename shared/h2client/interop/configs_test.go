package interop

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nginxOptions are the nginx settings a scenario sets.
type nginxOptions struct {
	keepaliveRequests int // GOAWAY after this many requests on a connection
	maxStreams        int // http2_max_concurrent_streams
}

// startNginx runs nginx in the foreground as root (daemon off, its pid
// file, logs and temp paths in the temp dir). Every location answers 200
// with the request target as the body; the access log has the target of
// every request nginx processed.
func startNginx(t *testing.T, o nginxOptions) *server {
	t.Helper()
	bin := need(t, nginxPath, "nginx")
	s := newServer(t, "nginx")
	d := s.dir
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 4096; }
http {
  log_format targets '$request_uri $status $connection';
  access_log %[1]s/access.log targets;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s ssl http2;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    keepalive_requests %[5]d;
    http2_max_concurrent_streams %[6]d;
    location / { return 200 "$request_uri"; }
  }
}
`, d, s.addr, s.cert, s.key, cmp.Or(o.keepaliveRequests, 1000), cmp.Or(o.maxStreams, 128))
	if err := os.WriteFile(filepath.Join(d, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.logPath, s.parse = filepath.Join(d, "access.log"), parseTargets
	s.start(t, bin, "-c", filepath.Join(d, "nginx.conf"), "-e", filepath.Join(d, "error.log"))
	return s
}

// nginxSignal runs nginx -s sig (reload, quit) against s.
func nginxSignal(t *testing.T, s *server, sig string) {
	t.Helper()
	out, err := exec.Command(nginxPath, "-c", filepath.Join(s.dir, "nginx.conf"), "-e", filepath.Join(s.dir, "error.log"), "-s", sig).CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -s %s: %v\n%s", sig, err, out)
	}
}

// connections counts the connections (nginx's $connection) that carried
// the requests whose ids start with prefix.
func (s *server) connections(t *testing.T, prefix string) int {
	t.Helper()
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	conns := map[string]bool{}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(requestID(f[0]), prefix) {
			conns[f[2]] = true
		}
	}
	return len(conns)
}

// waitLog waits until nginx's error log has msg.
func (s *server) waitLog(t *testing.T, msg string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(s.dir, "error.log")); strings.Contains(string(b), msg) {
			return
		}
	}
	t.Fatalf("%s: no %q in its error log after 10 s", s.name, msg)
}

// startH2O runs h2o with an mruby handler: /big answers with a 70,000-
// byte header field, /many with 200 fields (x-f0 … x-f199), any other path
// with none; every answer's body is the request target. The access log
// has the target of every request h2o processed.
func startH2O(t *testing.T) *server {
	t.Helper()
	bin := need(t, h2oPath, "h2o")
	s := newServer(t, "h2o")
	d := s.dir
	conf := fmt.Sprintf(`listen:
  host: 127.0.0.1
  port: %[2]s
  ssl:
    certificate-file: %[3]s
    key-file: %[4]s
    ocsp-update-interval: 0
user: root
pid-file: %[1]s/h2o.pid
error-log: %[1]s/error.log
num-threads: 1
http2-max-concurrent-requests-per-connection: 100
hosts:
  default:
    access-log:
      path: %[1]s/access.log
      format: "%%U%%q %%s"
    paths:
      /:
        mruby.handler: |
          BIG = "b" * 70000
          Proc.new do |env|
            h = {"content-type" => "text/plain"}
            case env["PATH_INFO"]
            when "/big"
              h["x-big"] = BIG
            when "/many"
              200.times { |i| h["x-f#{i}"] = i.to_s }
            end
            q = env["QUERY_STRING"].to_s
            [200, h, [env["PATH_INFO"] + (q.empty? ? "" : "?" + q)]]
          end
`, d, s.port(), s.cert, s.key)
	if err := os.WriteFile(filepath.Join(d, "h2o.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-t", "-c", filepath.Join(d, "h2o.conf")).CombinedOutput(); err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "mruby") {
			msg = "h2o without mruby: " + msg
		}
		t.Fatalf("h2o -t: %v\n%s", err, msg)
	}
	s.logPath, s.parse = filepath.Join(d, "access.log"), parseTargets
	s.start(t, bin, "-c", filepath.Join(d, "h2o.conf"))
	return s
}
