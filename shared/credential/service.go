package credential

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"
	"unicode"

	"mobilepush/shared/push"
)

// Config configures a Service. Meta and Secrets are required.
type Config struct {
	Meta    MetadataStore
	Secrets SecretStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LedgerTTL is how long claims and outcome ledgers are kept; 0 means
	// DefaultLedgerTTL.
	LedgerTTL time.Duration
	// Logger receives failures of best-effort steps (e.g. promoting a
	// version after the metadata commit); nil discards them.
	Logger *slog.Logger
}

// DefaultLedgerTTL is how long send claims and outcomes are kept by default.
const DefaultLedgerTTL = 7 * 24 * time.Hour

// casRetries bounds how often an update without an expected version is
// retried when another writer wins the race.
const casRetries = 64

// Service implements the credential operations over a MetadataStore and a
// SecretStore. It is safe for concurrent use.
type Service struct {
	meta      MetadataStore
	secrets   SecretStore
	clock     func() time.Time
	ledgerTTL time.Duration
	log       *slog.Logger

	mu   sync.Mutex
	last time.Time // last stamp handed out, for strictly increasing event times
}

// NewService returns a Service over the stores of c.
func NewService(c Config) *Service {
	s := &Service{meta: c.Meta, secrets: c.Secrets, clock: c.Now, ledgerTTL: c.LedgerTTL, log: c.Logger}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.ledgerTTL <= 0 {
		s.ledgerTTL = DefaultLedgerTTL
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *Service) now() time.Time { return s.clock().UTC().Round(0) }

// stamp returns the current time, strictly after every stamp this Service
// returned before, so events of one process sort in the order they happened.
func (s *Service) stamp() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	if !t.After(s.last) {
		t = s.last.Add(time.Nanosecond)
	}
	s.last = t
	return t
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

const (
	maxTenant      = 256
	maxName        = 200
	maxDescription = 2000
)

func validTenant(t string) bool {
	if t == "" || len(t) > maxTenant {
		return false
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func checkRef(op, tenant, id string) error {
	if !validTenant(tenant) {
		return push.Errorf(op, push.Invalid, "tenant: must be 1-256 printable characters")
	}
	if !idPattern.MatchString(id) {
		return push.Errorf(op, push.Invalid, "app id: must match [A-Za-z0-9_-]{1,64}")
	}
	return nil
}

// checkPlatformRef is checkRef for the credential of platform p of an app.
func checkPlatformRef(op, tenant, id string, p push.Platform) error {
	if err := checkRef(op, tenant, id); err != nil {
		return err
	}
	if !p.Valid() {
		return push.Errorf(op, push.Invalid, "platform %q: want apns or fcm", p)
	}
	return nil
}

// stored is the credential of platform p of a; NotFound when a has none.
func (a *App) stored(op string, p push.Platform) (*Meta, error) {
	if m := a.Meta(p); m != nil {
		return m, nil
	}
	return nil, push.Errorf(op, push.NotFound, "app %s has no %s credential", a.ID, p)
}

// edit is what a change commits besides the new state of the app: the
// audit events describing it, the secrets it buries, and whether it
// deletes the app (then the new state is not written).
type edit struct {
	events []Event
	bury   []Grave
	remove bool
}

// mutateStored is mutate for a change of the stored credential of
// platform p: it checks the reference and hands change the app and that
// credential (NotFound when the app has none).
func (s *Service) mutateStored(ctx context.Context, op, tenant, id string, p push.Platform, expect int64, change func(a *App, cur *Meta) (edit, error)) (App, error) {
	if err := checkPlatformRef(op, tenant, id, p); err != nil {
		return App{}, err
	}
	return s.mutate(ctx, op, tenant, id, expect, func(a *App) (edit, error) {
		cur, err := a.stored(op, p)
		if err != nil {
			return edit{}, err
		}
		return change(a, cur)
	})
}

// mutate is the one optimistic-locking loop of every change to a stored
// app: it loads the app, lets change edit a copy with the next version
// and UpdatedAt, and commits that copy (or the deletion) under the
// condition that the stored version is still the one loaded. With expect
// != 0 a different stored version fails at once; with expect == 0 a lost
// race is re-read and retried, calling change again on the new state, so
// an update is never lost. An error of change ends the loop as it is.
// It returns the committed app (the zero App after a deletion).
func (s *Service) mutate(ctx context.Context, op, tenant, id string, expect int64, change func(a *App) (edit, error)) (App, error) {
	for attempt := 0; ; attempt++ {
		cur, err := s.meta.App(ctx, tenant, id)
		if err != nil {
			return App{}, wrap(op, err, "load app %s", id)
		}
		if expect != 0 && cur.Version != expect {
			return App{}, staleVersion(op, id, cur.Version, expect)
		}
		next := cur.Clone()
		next.Version = cur.Version + 1
		next.UpdatedAt = s.stamp()
		e, err := change(&next)
		if err != nil {
			return App{}, err
		}
		c := Change{Tenant: tenant, AppID: id, App: &next, Expect: cur.Version, Events: e.events, Bury: e.bury}
		if e.remove {
			c.App = nil
		}
		err = s.meta.Apply(ctx, c)
		switch {
		case err == nil && e.remove:
			return App{}, nil
		case err == nil:
			return next.Clone(), nil
		case expect == 0 && retryable(err) && attempt < casRetries:
			if err := backoff(ctx, attempt); err != nil {
				return App{}, push.E(op, push.Transient, err)
			}
			continue
		case e.remove:
			return App{}, wrap(op, err, "delete app %s", id)
		}
		return App{}, wrap(op, err, "save app %s", id)
	}
}

// staleVersion is the error of an app read at version expect that is now
// at version cur.
func staleVersion(op, id string, cur, expect int64) error {
	return push.E(op, push.PreconditionFailed, ErrVersionMismatch).WithMsg("app %s is at version %d, not %d; read it again", id, cur, expect)
}

// retryable reports whether a failed conditional write lost a race that a
// re-read and retry can win.
func retryable(err error) bool {
	return push.Is(err, push.PreconditionFailed) || errors.Is(err, ErrContention)
}

// backoff sleeps a short, jittered, growing time before a retry.
func backoff(ctx context.Context, attempt int) error {
	var b [1]byte
	_, _ = rand.Read(b[:])
	d := time.Duration(1+min(attempt, 6)) * time.Millisecond * time.Duration(1+int(b[0])%4) / 2
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// wrap adds context to a store error, keeping its Kind.
func wrap(op string, err error, format string, args ...any) error {
	return push.E(op, push.Other, fmt.Errorf(format+": %w", append(args, err)...))
}
