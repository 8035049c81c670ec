// Package push is the vocabulary every other mobilepush package shares:
// platforms, APNs environments and the one error model (Op + Kind).
//
// It imports only the standard library, so domain packages, adapters and
// the app-server client can all depend on it.
package push

// Platform names a push provider a credential belongs to.
type Platform string

// The platforms mobilepush sends through.
const (
	APNs Platform = "apns" // Apple Push Notification service (iOS, iPadOS, macOS, watchOS)
	FCM  Platform = "fcm"  // Firebase Cloud Messaging (Android, and iOS/web apps that use FCM)
)

// Valid reports whether p is one of the known platforms.
func (p Platform) Valid() bool { return p == APNs || p == FCM }

// Environment selects Apple's production or sandbox gateway. FCM has no
// sandbox; the environment governs APNs only.
type Environment string

// The APNs environments.
const (
	Production Environment = "production"
	Sandbox    Environment = "sandbox"
)

// Valid reports whether e is production or sandbox.
func (e Environment) Valid() bool { return e == Production || e == Sandbox }

// ParseEnvironment returns the Environment named by s. The empty string
// is an Invalid error: callers that allow "no environment" check for it
// before calling.
func ParseEnvironment(s string) (Environment, error) {
	e := Environment(s)
	if !e.Valid() {
		return "", Errorf("push.ParseEnvironment", Invalid, "environment %q: want %q or %q", s, Production, Sandbox)
	}
	return e, nil
}

// CredentialKind is the format of a platform credential. Its strings are
// stored with every credential and shown by the API.
type CredentialKind string

// The credential kinds.
const (
	APNsP12 CredentialKind = "apns_p12" // APNs certificate with its private key (uploaded as .p12)
	APNsP8  CredentialKind = "apns_p8"  // APNs token-auth key (.p8) with key id and team id
	FCMJSON CredentialKind = "fcm_json" // Firebase service-account key (JSON)
)

// Valid reports whether k is a known kind.
func (k CredentialKind) Valid() bool { return k == APNsP12 || k == APNsP8 || k == FCMJSON }

// Platform returns the platform a credential of kind k is used for, or ""
// for an unknown kind.
func (k CredentialKind) Platform() Platform {
	switch k {
	case APNsP12, APNsP8:
		return APNs
	case FCMJSON:
		return FCM
	}
	return ""
}
