package expiry

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mobilepush/shared/push"
)

// MaxThreshold bounds a configured threshold (ten years).
const MaxThreshold = 3650

const day = 24 * time.Hour

// levelExpired is the level of the "Expired" alert: it stands where a
// threshold of 0 days would, and is crossed when days_left < 0.
const levelExpired = -1

// ParseThresholds reads a comma-separated list of days ("60,30,14") into
// thresholds in descending order.
// Errors: Invalid (not positive integers up to MaxThreshold, duplicates,
// or none).
func ParseThresholds(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, push.E("expiry.ParseThresholds", push.Invalid, fmt.Errorf("threshold %q is not a whole number of days", f))
		}
		out = append(out, n)
	}
	return checkThresholds(out)
}

func checkThresholds(in []int) ([]int, error) {
	const op = "expiry.checkThresholds"
	if len(in) == 0 {
		return nil, push.E(op, push.Invalid, errors.New("thresholds: need at least one"))
	}
	out := slices.Clone(in)
	slices.SortFunc(out, func(a, b int) int { return b - a })
	for i, n := range out {
		if n < 1 || n > MaxThreshold {
			return nil, push.E(op, push.Invalid, fmt.Errorf("threshold %d: want 1 to %d days", n, MaxThreshold))
		}
		if i > 0 && out[i-1] == n {
			return nil, push.E(op, push.Invalid, fmt.Errorf("threshold %d is given twice", n))
		}
	}
	return out, nil
}

// lowestCrossed returns the lowest level crossed at daysLeft: levelExpired
// when daysLeft < 0, else the lowest threshold t with daysLeft <= t; ok is
// false when no threshold is crossed yet. thresholds are descending.
func lowestCrossed(thresholds []int, daysLeft int) (level int, ok bool) {
	if daysLeft < 0 {
		return levelExpired, true
	}
	for i := len(thresholds) - 1; i >= 0; i-- {
		if daysLeft <= thresholds[i] {
			return thresholds[i], true
		}
	}
	return 0, false
}

// nextLevel returns the highest level not yet crossed at daysLeft (the
// next one to cross), or ok false when the certificate has expired.
func nextLevel(thresholds []int, daysLeft int) (level int, ok bool) {
	if daysLeft < 0 {
		return 0, false
	}
	for _, t := range thresholds {
		if t < daysLeft {
			return t, true
		}
	}
	return levelExpired, true
}

// levelName names a level in alert keys, logs and metrics.
func levelName(level int) string {
	if level == levelExpired {
		return "expired"
	}
	return strconv.Itoa(level)
}
