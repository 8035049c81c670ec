// Package apitoken issues, lists, revokes and checks the bearer tokens of
// the local server (`mobilepush token`, `mobilepush serve`). A token is 256
// random bits; only its SHA-256 hash is stored, in a file of mode 0600,
// with its name (unique per file), the tenant it grants, when it was
// created and when it expires. Behind API Gateway a JWT authorizer does
// this job instead (see apigw).
package apitoken

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

// prefix marks mobilepush tokens so they are recognisable in a leak scan.
const prefix = "mpt_"

var (
	tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// idRE is the form of a token ID; a name of that form is refused so
	// that `token revoke X` never means two tokens.
	idRE = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

// idLen is how many hex digits of the hash make a token's ID.
const idLen = 12

// Store is a token file. It is safe for concurrent use within a process;
// one process owns the file at a time (the data-directory lock), and a
// running server changes it for the CLI (its admin socket), so a
// revocation takes effect at once.
type Store struct {
	path string
	now  func() time.Time
	mu   sync.RWMutex
	byID map[string]entry // by hex SHA-256 of the token
}

type entry struct {
	Hash      string    `json:"sha256"`
	Name      string    `json:"name,omitempty"`
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func (e entry) info() Info {
	return Info{ID: e.Hash[:idLen], Name: e.Name, Tenant: e.Tenant, CreatedAt: e.CreatedAt, ExpiresAt: e.ExpiresAt}
}

// Info describes a token without its secret.
type Info struct {
	// ID is the first 12 hex digits of the token's SHA-256 hash.
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that never expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Expired reports whether the token has expired at now.
func (i Info) Expired(now time.Time) bool { return !i.ExpiresAt.IsZero() && !now.Before(i.ExpiresAt) }

type file struct {
	Tokens []entry `json:"tokens"`
}

// Open reads the token file at path; a missing file is an empty store. A
// token of an older file without a name is named by its ID.
func Open(path string) (*Store, error) {
	s := &Store{path: path, now: time.Now, byID: map[string]entry{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read token file %s: %w", path, err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("token file %s is corrupt: %w", path, err)
	}
	for _, e := range f.Tokens {
		if len(e.Hash) < idLen {
			return nil, fmt.Errorf("token file %s is corrupt: a hash is too short", path)
		}
		if e.Name == "" {
			e.Name = e.Hash[:idLen]
		}
		s.byID[e.Hash] = e
	}
	return s, nil
}

// IssueRequest asks for a new token.
type IssueRequest struct {
	Tenant string
	// Name is unique in the store; "" generates one from the tenant.
	Name string
	// TTL is how long the token is valid; 0 means it never expires.
	TTL time.Duration
}

// Issue makes a new token for tenant that never expires; see Create.
func (s *Store) Issue(tenant string) (string, error) {
	tok, _, err := s.Create(IssueRequest{Tenant: tenant})
	return tok, err
}

// Create makes a new token, stores its hash and returns the token with
// its description; the token is shown once and cannot be recovered.
// Errors: Invalid (bad tenant, name or TTL), Conflict (the name is
// taken), Internal (the file cannot be written).
func (s *Store) Create(r IssueRequest) (string, Info, error) {
	const op = "apitoken.Create"
	if !tenantRE.MatchString(r.Tenant) {
		return "", Info{}, push.Errorf(op, push.Invalid, "tenant %q: use 1-64 letters, digits, '.', '_' or '-'", r.Tenant)
	}
	if r.Name != "" && (!nameRE.MatchString(r.Name) || idRE.MatchString(r.Name)) {
		return "", Info{}, push.Errorf(op, push.Invalid, "name %q: use 1-64 letters, digits, '.', '_' or '-' (not 12 hex digits, the form of an ID)", r.Name)
	}
	if r.TTL < 0 {
		return "", Info{}, push.Errorf(op, push.Invalid, "ttl %v: must be positive (or 0 for a token that never expires)", r.TTL)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Info{}, push.E(op, push.Internal, err)
	}
	tok := prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.Name
	if name == "" {
		name = s.generateName(r.Tenant)
	} else if _, taken := s.byName(name); taken {
		return "", Info{}, push.Errorf(op, push.Conflict, "a token named %q exists; choose another --name or revoke it first", name)
	}
	now := s.now().UTC().Round(0)
	e := entry{Hash: hash(tok), Name: name, Tenant: r.Tenant, CreatedAt: now}
	if r.TTL > 0 {
		e.ExpiresAt = now.Add(r.TTL)
	}
	s.byID[e.Hash] = e
	if err := s.save(); err != nil {
		delete(s.byID, e.Hash)
		return "", Info{}, push.E(op, push.Internal, err)
	}
	return tok, e.info(), nil
}

// generateName returns "<tenant>-<4 hex digits>" not taken yet. s.mu is held.
func (s *Store) generateName(tenant string) string {
	base := tenant
	if len(base) > 58 {
		base = base[:58]
	}
	for {
		var b [2]byte
		_, _ = rand.Read(b[:])
		name := base + "-" + hex.EncodeToString(b[:])
		if _, taken := s.byName(name); !taken && !idRE.MatchString(name) {
			return name
		}
	}
}

// byName finds the token named name. s.mu is held.
func (s *Store) byName(name string) (entry, bool) {
	for _, e := range s.byID {
		if e.Name == name {
			return e, true
		}
	}
	return entry{}, false
}

// List describes every token, oldest first (never a secret).
func (s *Store) List() []Info {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Info, 0, len(s.byID))
	for _, e := range s.byID {
		out = append(out, e.info())
	}
	slices.SortFunc(out, func(a, b Info) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Revoke deletes the token named ref, or else the one whose ID is ref,
// and returns what it was. Authenticate refuses it from then on.
// Errors: NotFound, Internal (the file cannot be written).
func (s *Store) Revoke(ref string) (Info, error) {
	const op = "apitoken.Revoke"
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.byName(ref)
	if !found {
		for _, c := range s.byID {
			if c.Hash[:idLen] == ref {
				e, found = c, true
				break
			}
		}
	}
	if !found {
		return Info{}, push.Errorf(op, push.NotFound, "no token is named %q or has that ID (see `mobilepush token list`)", ref)
	}
	delete(s.byID, e.Hash)
	if err := s.save(); err != nil {
		s.byID[e.Hash] = e
		return Info{}, push.E(op, push.Internal, err)
	}
	return e.info(), nil
}

func (s *Store) save() error {
	f := file{Tokens: []entry{}}
	for _, e := range s.byID {
		f.Tokens = append(f.Tokens, e)
	}
	slices.SortFunc(f.Tokens, func(a, b entry) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.Hash, b.Hash))
	})
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tokens-*")
	if err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

func hash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Authenticate implements httpapi.Authenticator: the request must carry
// "Authorization: Bearer <token>" of a token this store issued that has
// not expired nor been revoked. The principal's Subject, the actor of the
// audit trail, is "token:<name>".
// Errors: Unauthorized.
func (s *Store) Authenticate(r *http.Request) (registry.Principal, error) {
	const op = "apitoken.Authenticate"
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return registry.Principal{}, push.Errorf(op, push.Unauthorized, "send Authorization: Bearer <token> (make one with `mobilepush token --tenant T`)")
	}
	info, err := s.Check(strings.TrimSpace(tok))
	if err != nil {
		return registry.Principal{}, err
	}
	return registry.Principal{Tenant: info.Tenant, Subject: "token:" + info.Name}, nil
}

// Check describes the token tok when this store issued it and it has
// neither expired nor been revoked.
// Errors: Unauthorized.
func (s *Store) Check(tok string) (Info, error) {
	const op = "apitoken.Check"
	s.mu.RLock()
	e, found := s.byID[hash(tok)]
	s.mu.RUnlock()
	if !found {
		return Info{}, push.Errorf(op, push.Unauthorized, "the bearer token is not valid")
	}
	if e.info().Expired(s.now()) {
		return Info{}, push.Errorf(op, push.Unauthorized, "the bearer token %q expired at %s; make a new one with `mobilepush token`", e.Name, e.ExpiresAt.Format(time.RFC3339))
	}
	return e.info(), nil
}
