package push

import (
	"slices"
	"time"
)

// DefaultThresholds are the days before a certificate's not_after at
// which it is warned about (docs/ARCHITECTURE.md, Credential lifecycle),
// in descending order.
var DefaultThresholds = []int{60, 30, 14, 7, 3, 1}

// DefaultRecheckEvery is how often a key, which never expires, is proven
// live again.
const DefaultRecheckEvery = 7 * 24 * time.Hour

const day = 24 * time.Hour

// DaysLeft is floor((notAfter - now) / 24h): negative once the certificate
// has expired.
func DaysLeft(notAfter, now time.Time) int {
	d := notAfter.Sub(now)
	n := d / day
	if d%day < 0 {
		n--
	}
	return int(n)
}

// Crossed returns the first whole second, in UTC, at which a certificate
// valid until notAfter has at most days days left (DaysLeft <= days),
// that is once less than days+1 days remain. Crossed(notAfter, -1) is the
// moment it expires.
func Crossed(notAfter time.Time, days int) time.Time {
	return notAfter.Add(-time.Duration(days+1) * day).UTC().Truncate(time.Second).Add(time.Second)
}

// FirstDue is when the expiry checker should first look at a certificate
// valid until notAfter and stored at now: the moment its highest threshold
// is crossed, or now when that has passed. thresholds nil means
// DefaultThresholds.
func FirstDue(thresholds []int, notAfter, now time.Time) time.Time {
	if thresholds == nil {
		thresholds = DefaultThresholds
	}
	if due := Crossed(notAfter, slices.Max(thresholds)); due.After(now) {
		return due
	}
	return now
}
