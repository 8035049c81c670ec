package push_test

import (
	"testing"
	"time"

	"mobilepush/shared/push"
)

const day = 24 * time.Hour

func TestFirstDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		thresholds []int
		notAfter   time.Time
		want       time.Time
	}{
		{"default: when 60 days are left", nil, now.Add(200 * day), now.Add(139*day + time.Second)},
		{"configured 90", []int{90, 7}, now.Add(200 * day), now.Add(109*day + time.Second)},
		{"already inside the highest threshold", nil, now.Add(10 * day), now},
	}
	for _, tt := range tests {
		got := push.FirstDue(tt.thresholds, tt.notAfter, now)
		if !got.Equal(tt.want) {
			t.Errorf("%s: FirstDue = %v, want %v", tt.name, got, tt.want)
		}
		if got.After(now) && push.DaysLeft(tt.notAfter, got.Add(-time.Second)) == push.DaysLeft(tt.notAfter, got) {
			t.Errorf("%s: days left do not change at %v", tt.name, got)
		}
	}
}
