package dispatch_test

import (
	"context"
	"sync"
	"testing"

	"mobilepush/shared/alert"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/push"
)

// published is a fake alert.Publisher that keeps what it was given.
type published struct {
	mu     sync.Mutex
	events []alert.Event
}

func (p *published) Publish(_ context.Context, evs []alert.Event) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, evs...)
	return make([]error, len(evs))
}

func TestAlertNotifier(t *testing.T) {
	pub := &published{}
	n := dispatch.AlertNotifier(pub)
	app := credential.App{Tenant: "acme", ID: "shop", Name: "Shop", APNs: &credential.Meta{Facts: credential.Facts{BundleID: "com.acme.app"}}}
	ctx := context.Background()
	if err := n.InvalidTokens(ctx, app, push.APNs, []string{"aa", "bb"}); err != nil {
		t.Fatal(err)
	}
	if err := n.CredentialInvalid(ctx, app, push.APNs, "BadCertificate"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"first type", pub.events[0].Type, alert.TokensInvalid},
		{"token count", pub.events[0].Detail.Tokens, 2},
		{"tokens", len(pub.events[0].Detail.DeviceTokens), 2},
		{"bundle", pub.events[0].Detail.BundleID, "com.acme.app"},
		{"second type", pub.events[1].Type, alert.CredentialInvalid},
		{"provider reason", pub.events[1].Detail.ProviderReason, "BadCertificate"},
		{"action", pub.events[1].Detail.Action != "", true},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
