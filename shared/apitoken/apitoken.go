// Package apitoken issues and checks the bearer tokens of the local
// server (`mobilepush token`, `mobilepush serve`). A token is 256 random
// bits; only its SHA-256 hash is stored, in a file of mode 0600, with the
// tenant it grants. Behind API Gateway a JWT authorizer does this job
// instead (see apigw).
package apitoken

import (
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
	"strings"
	"sync"
	"time"

	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

// prefix marks mobilepush tokens so they are recognisable in a leak scan.
const prefix = "mpt_"

var tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Store is a token file. It is safe for concurrent use within a process;
// one process owns the file at a time (the data-directory lock).
type Store struct {
	path string
	mu   sync.RWMutex
	byID map[string]entry // by hex SHA-256 of the token
}

type entry struct {
	Hash      string    `json:"sha256"`
	Tenant    string    `json:"tenant"`
	CreatedAt time.Time `json:"created_at"`
}

type file struct {
	Tokens []entry `json:"tokens"`
}

// Open reads the token file at path; a missing file is an empty store.
func Open(path string) (*Store, error) {
	s := &Store{path: path, byID: map[string]entry{}}
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
		s.byID[e.Hash] = e
	}
	return s, nil
}

// Issue makes a new token for tenant, stores its hash and returns the
// token; it is shown once and cannot be recovered.
// Errors: Invalid (bad tenant), Internal (the file cannot be written).
func (s *Store) Issue(tenant string) (string, error) {
	const op = "apitoken.Issue"
	if !tenantRE.MatchString(tenant) {
		return "", push.Errorf(op, push.Invalid, "tenant %q: use 1-64 letters, digits, '.', '_' or '-'", tenant)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", push.E(op, push.Internal, err)
	}
	tok := prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	e := entry{Hash: hash(tok), Tenant: tenant, CreatedAt: time.Now().UTC()}
	s.byID[e.Hash] = e
	if err := s.save(); err != nil {
		delete(s.byID, e.Hash)
		return "", push.E(op, push.Internal, err)
	}
	return tok, nil
}

func (s *Store) save() error {
	var f file
	for _, e := range s.byID {
		f.Tokens = append(f.Tokens, e)
	}
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
// "Authorization: Bearer <token>" of a token this store issued.
// Errors: Unauthorized.
func (s *Store) Authenticate(r *http.Request) (registry.Principal, error) {
	const op = "apitoken.Authenticate"
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return registry.Principal{}, push.Errorf(op, push.Unauthorized, "send Authorization: Bearer <token> (make one with `mobilepush token --tenant T`)")
	}
	s.mu.RLock()
	e, found := s.byID[hash(strings.TrimSpace(tok))]
	s.mu.RUnlock()
	if !found {
		return registry.Principal{}, push.Errorf(op, push.Unauthorized, "the bearer token is not valid")
	}
	return registry.Principal{Tenant: e.Tenant, Subject: "token:" + e.Hash[:12]}, nil
}
