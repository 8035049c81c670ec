package dispatch

import (
	"context"
	"errors"

	"mobilepush/shared/alert"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// AlertNotifier is a Notifier that publishes "Device Tokens Invalid" and
// "Push Credential Invalid" events (docs/ARCHITECTURE.md, Events) through pub.
func AlertNotifier(pub alert.Publisher) Notifier { return alertNotifier{pub} }

type alertNotifier struct{ pub alert.Publisher }

func detail(app credential.App, p push.Platform) alert.Detail {
	d := alert.Detail{Tenant: app.Tenant, AppID: app.ID, AppName: app.Name, Platform: p}
	if m := app.Meta(p); m != nil {
		d.BundleID, d.ProjectID, d.NotAfter = m.Facts.BundleID, m.Facts.ProjectID, m.Facts.NotAfter
	}
	return d
}

// InvalidTokens implements Notifier.
func (n alertNotifier) InvalidTokens(ctx context.Context, app credential.App, p push.Platform, tokens []string) error {
	d := detail(app, p)
	d.Reason, d.Tokens, d.DeviceTokens = "invalid_token", len(tokens), tokens
	d.Message = "The provider reported these device tokens as no longer valid (the app was uninstalled or the token expired)."
	d.Action = "Delete these device tokens from the application server's records; do not send to them again."
	return errors.Join(n.pub.Publish(ctx, []alert.Event{{Type: alert.TokensInvalid, Detail: d}})...)
}

// CredentialInvalid implements Notifier.
func (n alertNotifier) CredentialInvalid(ctx context.Context, app credential.App, p push.Platform, reason string) error {
	d := detail(app, p)
	d.Reason, d.ProviderReason = ReasonCredentialFault, reason
	d.Message = "Sending stopped: the provider refused the credential (" + reason + "); the platform is suspended and its pushes wait in the dead-letter queue."
	d.Action = "Upload a working credential (or re-validate the current one) in the admin portal, then redrive the dead-letter queue."
	return errors.Join(n.pub.Publish(ctx, []alert.Event{{Type: alert.CredentialInvalid, Detail: d}})...)
}
