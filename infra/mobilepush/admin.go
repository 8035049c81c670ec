package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"mobilepush/shared/apitoken"
	"mobilepush/shared/push"
)

// The admin socket is how `mobilepush queue`, `token` and `check-expiry`
// work beside a running `mobilepush serve` (docs in README, "The CLI
// beside serve"). One process owns a data directory; serve, which holds
// it, listens on the unix socket admin.sock inside it. The socket is the
// credential: it has mode 0600 in a directory of mode 0700, and serve
// also refuses every connection whose peer runs as another user
// (SO_PEERCRED). It is never on the TCP listener, so nothing that
// reaches the API can reach it. When no server runs, the commands open
// the data directory themselves.
const adminSocketName = "admin.sock"

// adminBase is the base URL of admin requests (the host is ignored).
const adminBase = "http://mobilepush-admin"

// listenAdmin listens on the admin socket of dir, which this process holds.
func listenAdmin(dir *dataDir) (net.Listener, error) {
	path := dir.file(adminSocketName)
	// The data directory is locked by this process: a socket left here is
	// the stale one of a process that died.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket (a data directory path must be short enough for a unix socket): %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ownerListener{ln}, nil
}

// ownerListener accepts only connections from processes of this user.
type ownerListener struct{ *net.UnixListener }

func (l ownerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if sameUser(c) {
			return c, nil
		}
		c.Close()
	}
}

// adminServer answers the admin socket for the system serve runs.
type adminServer struct {
	sys *system
}

func (a *adminServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/queue", adminRoute(a.queue))
	mux.HandleFunc("GET /v1/tokens", a.listTokens)
	mux.HandleFunc("POST /v1/tokens", adminRoute(a.createToken))
	mux.HandleFunc("POST /v1/tokens/revoke", adminRoute(a.revokeToken))
	mux.HandleFunc("POST /v1/check-expiry", a.checkExpiry)
	return mux
}

// adminError is the body of a failed admin request.
type adminError struct {
	Error string    `json:"error"`
	Kind  push.Kind `json:"kind"`
}

func writeAdmin(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := http.StatusInternalServerError
		switch push.KindOf(err) {
		case push.Invalid:
			status = http.StatusBadRequest
		case push.NotFound:
			status = http.StatusNotFound
		case push.Conflict:
			status = http.StatusConflict
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(adminError{Error: err.Error(), Kind: push.KindOf(err)})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(v); err != nil {
		writeAdmin(w, nil, push.Errorf("admin", push.Invalid, "request body: %v", err))
		return false
	}
	return true
}

// adminRoute is the handler of an admin route that takes a JSON request:
// it decodes the request (a bad one is a 400), runs do and writes do's
// answer or error.
func adminRoute[Req any](do func(ctx context.Context, req Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if !decodeAdmin(w, r, &req) {
			return
		}
		out, err := do(r.Context(), req)
		writeAdmin(w, out, err)
	}
}

type queueRequest struct {
	Redrive bool `json:"redrive"`
}

func (a *adminServer) queue(ctx context.Context, req queueRequest) (any, error) {
	return queueReportOf(ctx, a.sys.queue, a.sys.creds, req.Redrive)
}

func (a *adminServer) listTokens(w http.ResponseWriter, _ *http.Request) {
	writeAdmin(w, a.sys.tokens.List(), nil)
}

// tokenRequest asks for a new token; TTL is a Go duration ("" never expires).
type tokenRequest struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name,omitempty"`
	TTL    string `json:"ttl,omitempty"`
}

// tokenCreated is a new token: the secret, shown once, and what it is.
type tokenCreated struct {
	Token string        `json:"token"`
	Info  apitoken.Info `json:"info"`
}

func (a *adminServer) createToken(_ context.Context, req tokenRequest) (any, error) {
	return createToken(a.sys.tokens, req)
}

type revokeRequest struct {
	Ref string `json:"ref"`
}

func (a *adminServer) revokeToken(_ context.Context, req revokeRequest) (any, error) {
	return a.sys.tokens.Revoke(req.Ref)
}

func (a *adminServer) checkExpiry(w http.ResponseWriter, r *http.Request) {
	var req expiryRequest
	if !decodeAdmin(w, r, &req) {
		return
	}
	// The run's log goes to serve's log and back to the caller, which
	// prints it on its stderr as a run of its own would.
	var buf bytes.Buffer
	log := slog.New(slog.NewMultiHandler(a.sys.log.Handler(), slog.NewJSONHandler(&buf, nil)))
	env := expiryEnv{store: a.sys.store, dir: a.sys.dir, clients: a.sys.clients, log: log}
	if req.Gateways != nil {
		pool, fk, err := gatewayPool(*req.Gateways)
		if err != nil {
			writeAdmin(w, nil, err)
			return
		}
		defer func() {
			pool.Close()
			if fk != nil {
				fk.Close()
			}
		}()
		env.clients = pool
	}
	res, err := runExpiryOnce(r.Context(), env, req)
	res.Log = buf.String()
	if err != nil {
		res.Error = err.Error()
	}
	writeAdmin(w, res, nil)
}

// adminClient calls the admin socket of the serve that holds a data directory.
type adminClient struct {
	http *http.Client
}

// dialAdmin connects to the admin socket in data; it fails when no
// server listens there.
func dialAdmin(ctx context.Context, data string) (*adminClient, error) {
	path := strings.TrimRight(data, "/") + "/" + adminSocketName
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, err
	}
	c.Close()
	return &adminClient{http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", path) },
	}}}, nil
}

// call sends in (nil: no body) and decodes the answer into out. A failed
// request becomes an error with the server's Kind.
func (c *adminClient) call(ctx context.Context, method, path string, in, out any) error {
	req, err := jsonRequest(ctx, method, adminBase+path, in)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("the running mobilepush serve did not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e adminError
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
			return fmt.Errorf("the running mobilepush serve answered %s", resp.Status)
		}
		return errors.New(e.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// onDataDir runs direct with data locked by this process, or, when a
// running serve holds it, remote through serve's admin socket. Another
// holder (a command like this one) is waited for about a second.
func onDataDir(ctx context.Context, data, command string, direct func(*dataDir) error, remote func(*adminClient) error) error {
	dir, err := openDataDir(data, command, 0)
	if errors.Is(err, errHeld) {
		if c, cerr := dialAdmin(ctx, data); cerr == nil {
			return remote(c)
		}
		dir, err = openDataDir(data, command, time.Second)
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	return direct(dir)
}
