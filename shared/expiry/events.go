package expiry

import (
	"fmt"
	"time"

	"mobilepush/shared/alert"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// detail fills the fields every credential event has.
func detail(app credential.App, p push.Platform, m *credential.Meta) alert.Detail {
	d := alert.Detail{Tenant: app.Tenant, AppID: app.ID, AppName: app.Name, Platform: p, NotAfter: m.Facts.NotAfter}
	if p == push.APNs {
		d.BundleID = m.Facts.BundleID
	} else {
		d.ProjectID = m.Facts.ProjectID
	}
	return d
}

// certificateEvent is the Expiring (or, at levelExpired, Expired) event of
// a certificate with left days left.
func certificateEvent(app credential.App, p push.Platform, m *credential.Meta, left, level int, now time.Time) alert.Event {
	d := detail(app, p, m)
	d.DaysLeft = &left
	d.CheckedAt = now
	date := m.Facts.NotAfter.UTC().Format("2006-01-02")
	renew := "Renew without a Mac: on the admin page at /#/app/" + app.ID + "?renew=apns, or make a signing request with POST /v1/apps/" + app.ID + "/apns/csr (or mobilepush csr --app " + app.ID +
		"), upload it in the Apple Developer portal (Certificates, Identifiers & Profiles -> Certificates -> + -> " +
		"\"Apple Push Notification service SSL (Sandbox & Production)\" -> the App ID " + bundleOf(m) +
		") and upload the aps.cer Apple gives back with PUT /v1/apps/" + app.ID + "/apns (or a .p12 exported from Keychain Access)"
	if level == levelExpired {
		d.Reason = "expired"
		d.Message = fmt.Sprintf("The APNs certificate of %q (%s) expired on %s: pushes to its iOS devices fail.", app.Name, bundleOf(m), date)
		d.Action = renew + " now."
		return alert.Event{Type: alert.CredentialExpired, Detail: d, Time: now}
	}
	d.Reason = "expiring_soon"
	d.ThresholdDays = level
	d.Message = fmt.Sprintf("The APNs certificate of %q (%s) expires on %s, in %d days.", app.Name, bundleOf(m), date, left)
	d.Action = renew + " before " + date + "."
	return alert.Event{Type: alert.CredentialExpiring, Detail: d, Time: now}
}

// invalidEvent is the Invalid event of a key the provider rejected.
func invalidEvent(app credential.App, p push.Platform, m *credential.Meta, live push.LiveResult, now time.Time) alert.Event {
	d := detail(app, p, m)
	d.Reason = string(live.Code)
	d.ProviderReason = live.ProviderReason
	d.CheckedAt = now
	switch m.Kind {
	case push.APNsP8:
		d.Message = fmt.Sprintf("Apple rejected the APNs auth key %s of %q: %s", m.Facts.KeyID, app.Name, live.Message)
		d.Action = "The key was revoked or does not match the team: in the Apple Developer portal (Keys -> +) create a key " +
			"with APNs enabled, download the .p8 and upload it with its key id and team id."
	case push.FCMJSON:
		d.Message = fmt.Sprintf("Google rejected the service-account key of %q (project %s): %s", app.Name, m.Facts.ProjectID, live.Message)
		d.Action = "The key was deleted or disabled, or lacks permission: in the Firebase console (Project settings -> " +
			"Service accounts -> Generate new private key) create a new key and upload the JSON file."
	default:
		d.Message = fmt.Sprintf("The provider rejected the %s credential of %q: %s", p, app.Name, live.Message)
		d.Action = "Upload a new credential for this app."
	}
	return alert.Event{Type: alert.CredentialInvalid, Detail: d, Time: now}
}

func bundleOf(m *credential.Meta) string {
	if m.Facts.BundleID != "" {
		return m.Facts.BundleID
	}
	return "the app's bundle id"
}
