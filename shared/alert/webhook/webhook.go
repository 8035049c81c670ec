// Package webhook is an alert.Publisher for local use: it POSTs each event
// as JSON to one URL. The body is the event's detail plus its
// "detail-type" and "source", e.g.
//
//	{"detail-type":"Push Credential Expiring","source":"mobilepush","tenant":"default","app_id":"...","days_left":29,...}
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/push"
)

// Publisher posts events to URL.
type Publisher struct {
	url    string
	client *http.Client
}

var _ alert.Publisher = (*Publisher)(nil)

// New returns a Publisher posting to url through client (nil: a client
// with a 10 s timeout).
func New(url string, client *http.Client) *Publisher {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Publisher{url: url, client: client}
}

// Body is the JSON a webhook receives.
type Body struct {
	DetailType alert.Type `json:"detail-type"`
	Source     string     `json:"source"`
	Time       time.Time  `json:"time,omitzero"`
	alert.Detail
}

// Publish implements alert.Publisher: one POST per event; any answer but
// 2xx fails that event (Transient for 429, 5xx and network errors).
func (p *Publisher) Publish(ctx context.Context, events []alert.Event) []error {
	out := make([]error, len(events))
	for i, e := range events {
		out[i] = p.post(ctx, e)
	}
	return out
}

func (p *Publisher) post(ctx context.Context, e alert.Event) error {
	const op = "webhook.Publish"
	b, err := json.Marshal(Body{DetailType: e.Type, Source: alert.Source, Time: e.Time, Detail: e.Detail})
	if err != nil {
		return push.E(op, push.Internal, fmt.Errorf("encode event: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(b))
	if err != nil {
		return push.E(op, push.Invalid, fmt.Errorf("webhook request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return push.E(op, push.Transient, fmt.Errorf("post %s: %w", e.Type, err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return push.E(op, push.Transient, fmt.Errorf("post %s: webhook answered %s", e.Type, resp.Status))
	}
	return push.E(op, push.Internal, fmt.Errorf("post %s: webhook answered %s", e.Type, resp.Status))
}
