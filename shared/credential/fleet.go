package credential

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"mobilepush/shared/push"
)

// Sort is an order of a fleet listing (Service.Find).
type Sort string

// The orders of a fleet listing.
const (
	// SortAttention lists the apps that need someone first: expired,
	// invalid, suspended, then expiring (fewest days left first), then
	// every other app by name. It is the default.
	SortAttention Sort = "attention"
	// SortName lists by name (case-insensitive), then id.
	SortName Sort = "name"
	// SortDaysLeft lists by the credential that expires first (of the
	// query's platform when given), soonest first; apps without an
	// expiring credential last, by name.
	SortDaysLeft Sort = "days_left"
	// SortUpdated lists the most recently changed apps first.
	SortUpdated Sort = "updated_at"
)

// Valid reports whether s is a known order ("" is not: it means the
// default, SortAttention, where a Query is read).
func (s Sort) Valid() bool {
	switch s {
	case SortAttention, SortName, SortDaysLeft, SortUpdated:
		return true
	}
	return false
}

// AttentionStates are the states that make an app need its operator:
// an app is counted in Summary.Attention when either platform is in one.
var AttentionStates = []State{Expired, Invalid, Suspended, Expiring}

// Query selects, orders and pages a tenant's apps (Service.Find).
type Query struct {
	Page
	// Text, when set, keeps the apps whose name, id, description, APNs
	// bundle id or FCM project id contain it, ignoring case.
	Text string
	// States, when set, keeps the apps with a platform in one of them
	// (Platform's only, when Platform is set).
	States []State
	// Platform, when set, narrows States and the days_left and attention
	// orders to that platform.
	Platform push.Platform
	// Sort is the order; "" means SortAttention.
	Sort Sort
}

// FleetPage is one page of a fleet listing: the apps, the cursor of the
// next page ("" after the last) and how many apps match the query in all.
type FleetPage struct {
	Apps  []App
	Next  string
	Total int
}

// Expiry is one credential that expires: the app, the platform and when.
type Expiry struct {
	AppID    string        `json:"app_id"`
	Name     string        `json:"name"`
	Platform push.Platform `json:"platform"`
	NotAfter time.Time     `json:"not_after"`
	DaysLeft int           `json:"days_left"`
	State    State         `json:"state"`
}

// Summary is a tenant's fleet at a glance: how many apps, how many need
// attention, the apps per state (an app with either platform in it), the
// credentials per state of each platform and the next expiries.
type Summary struct {
	Apps      int           `json:"apps"`
	Attention int           `json:"attention"`
	States    map[State]int `json:"states"`
	APNs      map[State]int `json:"apns"`
	FCM       map[State]int `json:"fcm"`
	Next      []Expiry      `json:"next_expiries"`
	Truncated bool          `json:"next_expiries_truncated,omitempty"`
}

// Summary limits.
const (
	// DefaultNextExpiries is how many next expiries Summary lists when
	// no horizon is asked for.
	DefaultNextExpiries = 20
	// MaxExpiries caps the expiries of a Summary with a horizon.
	MaxExpiries = 5000
)

// daysLeft is the whole days from now until t (negative once t passed).
func daysLeft(t, now time.Time) int { return int(math.Floor(t.Sub(now).Hours() / 24)) }

// fleet reads every app of tenant, in pages of MaxPageLimit. It reads only
// metadata: never a secret.
func (s *Service) fleet(ctx context.Context, op, tenant string) ([]App, error) {
	if !validTenant(tenant) {
		return nil, push.Errorf(op, push.Invalid, "tenant: must be 1-256 printable characters")
	}
	var all []App
	after := ""
	for {
		apps, err := s.meta.Apps(ctx, tenant, after, MaxPageLimit)
		if err != nil {
			return nil, wrap(op, err, "list apps")
		}
		all = append(all, apps...)
		if len(apps) < MaxPageLimit {
			return all, nil
		}
		after = apps[len(apps)-1].ID
	}
}

// sortKey places an app in an order: rank, then at, then name (folded),
// then id. A cursor is the key of the last app of a page.
type sortKey struct {
	Sort Sort   `json:"s"`
	Rank int    `json:"r"`
	At   int64  `json:"t"`
	Name string `json:"n"`
	ID   string `json:"i"`
}

func (a sortKey) compare(b sortKey) int {
	switch {
	case a.Rank != b.Rank:
		return a.Rank - b.Rank
	case a.At != b.At:
		if a.At < b.At {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

var attentionRank = map[State]int{Expired: 0, Invalid: 1, Suspended: 2, Expiring: 3}

// platformsOf are the platforms a query looks at.
func platformsOf(p push.Platform) []push.Platform {
	if p != "" {
		return []push.Platform{p}
	}
	return []push.Platform{push.APNs, push.FCM}
}

func keyOf(a *App, q *Query) sortKey {
	k := sortKey{Sort: q.Sort, Name: strings.ToLower(a.Name), ID: a.ID}
	switch q.Sort {
	case SortAttention:
		k.Rank = len(attentionRank) // every other app, by name
		for _, p := range platformsOf(q.Platform) {
			st := a.Status(p).State
			r, ok := attentionRank[st]
			if !ok || r > k.Rank {
				continue
			}
			var at int64
			if m := a.Meta(p); st == Expiring && m != nil {
				at = m.Facts.NotAfter.Unix()
			}
			if r < k.Rank || at < k.At {
				k.Rank, k.At = r, at
			}
		}
	case SortDaysLeft:
		k.Rank = 1
		for _, p := range platformsOf(q.Platform) {
			if m := a.Meta(p); m != nil && !m.Facts.NotAfter.IsZero() {
				if t := m.Facts.NotAfter.Unix(); k.Rank == 1 || t < k.At {
					k.Rank, k.At = 0, t
				}
			}
		}
	case SortUpdated:
		k.At = -a.UpdatedAt.UnixNano()
	}
	return k
}

func (q *Query) matches(a *App, text string) bool {
	if text != "" {
		hay := []string{a.Name, a.ID, a.Description}
		if a.APNs != nil {
			hay = append(hay, a.APNs.Facts.BundleID)
		}
		if a.FCM != nil {
			hay = append(hay, a.FCM.Facts.ProjectID)
		}
		if !slices.ContainsFunc(hay, func(s string) bool { return strings.Contains(strings.ToLower(s), text) }) {
			return false
		}
	}
	if len(q.States) == 0 {
		return true
	}
	for _, p := range platformsOf(q.Platform) {
		if slices.Contains(q.States, a.Status(p).State) {
			return true
		}
	}
	return false
}

func (q *Query) check(op string) error {
	if q.Sort == "" {
		q.Sort = SortAttention
	}
	switch {
	case !q.Sort.Valid():
		return push.Errorf(op, push.Invalid, "sort: want attention, name, days_left or updated_at")
	case q.Platform != "" && !q.Platform.Valid():
		return push.Errorf(op, push.Invalid, "platform: want apns or fcm")
	case len(q.Text) > maxName:
		return push.Errorf(op, push.Invalid, "q: must be at most %d bytes", maxName)
	}
	for _, st := range q.States {
		if !st.Valid() {
			return push.Errorf(op, push.Invalid, "status: %q is not a state (want ok, expiring, expired, invalid, suspended or unconfigured)", st)
		}
	}
	return nil
}

func decodeKey(op, c string, sort Sort) (*sortKey, error) {
	if c == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	var k sortKey
	if err != nil || json.Unmarshal(b, &k) != nil || k.Sort != sort {
		return nil, push.Errorf(op, push.Invalid, "cursor: not a cursor this service returned for sort=%s", sort)
	}
	return &k, nil
}

func encodeKey(k sortKey) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Find returns one page of the tenant's apps that match q, in q's order.
// The cursor holds the position of the last app returned, so paging
// stays exact under every filter and order: an app is never listed
// twice or skipped unless it changed between the pages. It reads the
// tenant's app metadata only (on DynamoDB: Query on the tenant's
// partition), never a secret.
// Errors: Invalid (a bad parameter or cursor, named), Transient, Internal.
func (s *Service) Find(ctx context.Context, tenant string, q Query) (FleetPage, error) {
	const op = "credential.Find"
	if err := q.check(op); err != nil {
		return FleetPage{}, err
	}
	after, err := decodeKey(op, q.Cursor, q.Sort)
	if err != nil {
		return FleetPage{}, err
	}
	apps, err := s.fleet(ctx, op, tenant)
	if err != nil {
		return FleetPage{}, err
	}
	text := strings.ToLower(q.Text)
	type row struct {
		key sortKey
		app *App
	}
	rows := make([]row, 0, len(apps))
	for i := range apps {
		if q.matches(&apps[i], text) {
			rows = append(rows, row{keyOf(&apps[i], &q), &apps[i]})
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return a.key.compare(b.key) })
	page := FleetPage{Apps: []App{}, Total: len(rows)}
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(rows, *after, func(r row, k sortKey) int { return r.key.compare(k) })
		if start < len(rows) && rows[start].key.compare(*after) == 0 {
			start++
		}
	}
	limit := pageLimit(q.Limit)
	end := min(start+limit, len(rows))
	for _, r := range rows[start:end] {
		page.Apps = append(page.Apps, *r.app)
	}
	if end < len(rows) {
		page.Next = encodeKey(rows[end-1].key)
	}
	return page, nil
}

// Summarize returns the tenant's fleet at a glance. Next lists the
// credentials that have not expired yet, soonest first: the first
// DefaultNextExpiries when within is 0, else every one that expires
// within that long (at most MaxExpiries; Truncated says when more do).
// It reads what Find reads.
// Errors: Invalid, Transient, Internal.
func (s *Service) Summarize(ctx context.Context, tenant string, within time.Duration) (Summary, error) {
	const op = "credential.Summarize"
	apps, err := s.fleet(ctx, op, tenant)
	if err != nil {
		return Summary{}, err
	}
	now := s.now()
	sum := Summary{Apps: len(apps), States: counts(), APNs: counts(), FCM: counts(), Next: []Expiry{}}
	for i := range apps {
		a := &apps[i]
		seen := map[State]bool{}
		for _, p := range []push.Platform{push.APNs, push.FCM} {
			st := a.Status(p).State
			if p == push.APNs {
				sum.APNs[st]++
			} else {
				sum.FCM[st]++
			}
			seen[st] = true
			if m := a.Meta(p); m != nil && m.Facts.NotAfter.After(now) {
				sum.Next = append(sum.Next, Expiry{AppID: a.ID, Name: a.Name, Platform: p, NotAfter: m.Facts.NotAfter,
					DaysLeft: daysLeft(m.Facts.NotAfter, now), State: st})
			}
		}
		for st := range seen {
			sum.States[st]++
		}
		if slices.ContainsFunc(AttentionStates, func(st State) bool { return seen[st] }) {
			sum.Attention++
		}
	}
	slices.SortFunc(sum.Next, func(a, b Expiry) int {
		if c := a.NotAfter.Compare(b.NotAfter); c != 0 {
			return c
		}
		return strings.Compare(a.AppID+string(a.Platform), b.AppID+string(b.Platform))
	})
	limit := DefaultNextExpiries
	if within > 0 {
		limit = MaxExpiries
		end := now.Add(within)
		n, _ := slices.BinarySearchFunc(sum.Next, end, func(e Expiry, t time.Time) int {
			if e.NotAfter.After(t) {
				return 1
			}
			return -1
		})
		sum.Next = sum.Next[:n]
	}
	if len(sum.Next) > limit {
		sum.Next, sum.Truncated = sum.Next[:limit], within > 0
	}
	return sum, nil
}

func counts() map[State]int {
	return map[State]int{OK: 0, Expiring: 0, Expired: 0, Invalid: 0, Suspended: 0, Unconfigured: 0}
}
