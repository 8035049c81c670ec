package expiry

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Summary is what one run did.
type Summary struct {
	// Examined counts the due credentials the run looked at.
	Examined int `json:"examined"`
	// Alerts counts the alerts sent per level: a threshold in days ("30"),
	// "expired" or "invalid".
	Alerts map[string]int `json:"alerts"`
	// Expired counts the certificates found expired and alerted.
	Expired int `json:"expired"`
	// Invalid counts the keys a live re-check rejected.
	Invalid int `json:"invalid"`
	// Rechecked counts the live re-checks made.
	Rechecked int `json:"rechecked"`
	// Unreachable counts the re-checks that could not reach the provider.
	Unreachable int `json:"unreachable"`
	// Deferred counts the re-checks left for the next run (MaxRechecks).
	Deferred int `json:"deferred"`
	// Held counts the alerts another run was sending.
	Held int `json:"held"`
	// PublishFailures counts the alerts that failed to publish.
	PublishFailures int `json:"publish_failures"`
	// Errors counts every failure (publish failures included); the
	// credentials concerned stay due.
	Errors int `json:"errors"`
	// Swept counts the buried secrets scheduled for deletion.
	Swept int `json:"swept"`
}

func newSummary(thresholds []int) *Summary {
	s := &Summary{Alerts: map[string]int{"expired": 0, "invalid": 0}}
	for _, t := range thresholds {
		s.Alerts[levelName(t)] = 0
	}
	return s
}

// AlertsSent returns the total number of alerts sent.
func (s Summary) AlertsSent() int {
	n := 0
	for _, v := range s.Alerts {
		n += v
	}
	return n
}

func (s Summary) attrs(at time.Time) []slog.Attr {
	alerts := make([]any, 0, len(s.Alerts))
	for _, k := range slices.Sorted(maps.Keys(s.Alerts)) {
		alerts = append(alerts, slog.Int(k, s.Alerts[k]))
	}
	return []slog.Attr{
		slog.Time("now", at), slog.Int("examined", s.Examined), slog.Int("alerts_sent", s.AlertsSent()),
		slog.Group("alerts", alerts...), slog.Int("expired", s.Expired), slog.Int("invalid", s.Invalid),
		slog.Int("rechecked", s.Rechecked), slog.Int("unreachable", s.Unreachable), slog.Int("deferred", s.Deferred),
		slog.Int("held", s.Held), slog.Int("publish_failures", s.PublishFailures), slog.Int("errors", s.Errors),
		slog.Int("swept", s.Swept),
	}
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

// WriteMetrics writes s as CloudWatch embedded-metric-format lines in
// MetricsNamespace: one line with the run's counts (dimension Check=expiry)
// and one per alert level (dimensions Check, Level; metric Alerts).
func (s Summary) WriteMetrics(w io.Writer, at time.Time) error {
	counts := []struct {
		name  string
		value int
	}{
		{"CredentialsExamined", s.Examined}, {"AlertsSent", s.AlertsSent()}, {"CredentialsExpired", s.Expired},
		{"CredentialsInvalid", s.Invalid}, {"KeysRechecked", s.Rechecked}, {"RechecksUnreachable", s.Unreachable},
		{"RechecksDeferred", s.Deferred}, {"PublishFailures", s.PublishFailures}, {"Errors", s.Errors},
	}
	doc := map[string]any{"Check": "expiry"}
	dir := emfDirective{Namespace: MetricsNamespace, Dimensions: [][]string{{"Check"}}}
	for _, c := range counts {
		dir.Metrics = append(dir.Metrics, emfMetric{Name: c.name, Unit: "Count"})
		doc[c.name] = c.value
	}
	doc["_aws"] = emfMeta{Timestamp: at.UnixMilli(), CloudWatchMetrics: []emfDirective{dir}}
	enc := json.NewEncoder(w)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	for _, level := range slices.Sorted(maps.Keys(s.Alerts)) {
		n := s.Alerts[level]
		d := map[string]any{
			"Check": "expiry", "Level": level, "Alerts": n,
			"_aws": emfMeta{Timestamp: at.UnixMilli(), CloudWatchMetrics: []emfDirective{{
				Namespace: MetricsNamespace, Dimensions: [][]string{{"Check", "Level"}}, Metrics: []emfMetric{{Name: "Alerts", Unit: "Count"}},
			}}},
		}
		if err := enc.Encode(d); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}
