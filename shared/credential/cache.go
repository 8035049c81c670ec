package credential

import (
	"context"
	"sync"
	"time"

	"mobilepush/shared/push"
)

// CacheSource is what a Cache reads through to; *Service implements it.
type CacheSource interface {
	// Get returns the app (tenant, id).
	// Errors: as Service.Get.
	Get(ctx context.Context, tenant, id string) (App, error)
	// MaterialVersion returns the material of one secret version.
	// Errors: as Service.MaterialVersion.
	MaterialVersion(ctx context.Context, secretID, versionID string) (Material, error)
}

// MaxCacheTTL is the longest a Cache keeps app metadata: a rotation is
// picked up within it without a restart.
const MaxCacheTTL = 60 * time.Second

// CacheConfig configures a Cache.
type CacheConfig struct {
	// TTL of app metadata; 0 or more than MaxCacheTTL means MaxCacheTTL.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSecrets bounds the number of cached secret versions; 0 means 1024.
	MaxSecrets int
}

// Cache is the read-through cache of the send path. App metadata is kept
// for at most the TTL; secret material is keyed by (secret id, VersionID),
// which never changes content, so it never goes stale: a rotation changes
// the VersionID in the metadata and the next read after the TTL fetches
// the new version. Errors are never cached. Safe for concurrent use.
type Cache struct {
	src        CacheSource
	ttl        time.Duration
	now        func() time.Time
	maxSecrets int

	mu      sync.RWMutex
	apps    map[appKey]appEntry
	secrets map[SecretRef]Material // keyed with PreviousVersionID empty
}

type appKey struct{ tenant, id string }

type appEntry struct {
	app     App
	expires time.Time
}

// NewCache returns a Cache reading through to src.
func NewCache(src CacheSource, c CacheConfig) *Cache {
	if c.TTL <= 0 || c.TTL > MaxCacheTTL {
		c.TTL = MaxCacheTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxSecrets <= 0 {
		c.MaxSecrets = 1024
	}
	return &Cache{
		src: src, ttl: c.TTL, now: c.Now, maxSecrets: c.MaxSecrets,
		apps: map[appKey]appEntry{}, secrets: map[SecretRef]Material{},
	}
}

// App returns the app (tenant, id), from the cache when read less than
// the TTL ago. The result is the caller's own copy.
// Errors: as CacheSource.Get.
func (c *Cache) App(ctx context.Context, tenant, id string) (App, error) {
	a, err := c.app(ctx, tenant, id)
	if err != nil {
		return App{}, err
	}
	return a.Clone(), nil
}

func (c *Cache) app(ctx context.Context, tenant, id string) (App, error) {
	k := appKey{tenant, id}
	now := c.now()
	c.mu.RLock()
	e, ok := c.apps[k]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.app, nil
	}
	a, err := c.src.Get(ctx, tenant, id)
	if err != nil {
		return App{}, err
	}
	c.mu.Lock()
	c.apps[k] = appEntry{app: a, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return a, nil
}

// Credential returns the app (tenant, id) with the material of its
// platform p credential in use. Both come from the cache when possible.
// Errors: NotFound (no app or no credential), and those of the source.
func (c *Cache) Credential(ctx context.Context, tenant, id string, p push.Platform) (App, Material, error) {
	const op = "credential.Cache.Credential"
	a, err := c.app(ctx, tenant, id)
	if err != nil {
		return App{}, Material{}, err
	}
	m, err := a.stored(op, p)
	if err != nil {
		return App{}, Material{}, err
	}
	mat, err := c.Version(ctx, m.Secret.ID, m.Secret.VersionID)
	if err != nil {
		return App{}, Material{}, err
	}
	return a.Clone(), mat, nil
}

// Version returns the material of version versionID of secret secretID,
// cached forever (up to the size bound).
// Errors: as CacheSource.MaterialVersion.
func (c *Cache) Version(ctx context.Context, secretID, versionID string) (Material, error) {
	k := SecretRef{ID: secretID, VersionID: versionID}
	c.mu.RLock()
	m, ok := c.secrets[k]
	c.mu.RUnlock()
	if ok {
		return m, nil
	}
	m, err := c.src.MaterialVersion(ctx, secretID, versionID)
	if err != nil {
		return Material{}, err
	}
	c.mu.Lock()
	if len(c.secrets) >= c.maxSecrets {
		for old := range c.secrets { // drop an arbitrary entry
			delete(c.secrets, old)
			break
		}
	}
	c.secrets[k] = m
	c.mu.Unlock()
	return m, nil
}

// Forget drops the cached metadata of app (tenant, id), e.g. after a
// credential fault, so the next read fetches it.
func (c *Cache) Forget(tenant, id string) {
	c.mu.Lock()
	delete(c.apps, appKey{tenant, id})
	c.mu.Unlock()
}
