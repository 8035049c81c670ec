package push

// LiveCode is the stable result of proving a credential against Apple or
// Google without a visible push (docs/ARCHITECTURE.md, Live check). The codes are API contract.
type LiveCode string

// The live codes.
const (
	LiveOK                LiveCode = "live_ok"                 // the provider accepted the credential
	LiveUnreachable       LiveCode = "unreachable"             // the provider could not be reached: a warning, not a verdict
	CertificateRejected   LiveCode = "certificate_rejected"    // APNs: BadCertificate, TLS alert (expired, revoked)
	EnvironmentRejected   LiveCode = "environment_rejected"    // APNs: BadCertificateEnvironment
	TopicNotAllowed       LiveCode = "topic_not_allowed"       // APNs: TopicDisallowed, BadTopic
	ProviderTokenRejected LiveCode = "provider_token_rejected" // APNs: InvalidProviderToken and other token faults
	OAuthInvalidGrant     LiveCode = "oauth_invalid_grant"     // Google: the key is deleted or disabled
	PermissionDenied      LiveCode = "permission_denied"       // FCM: PERMISSION_DENIED, 404 project
	SenderIDMismatch      LiveCode = "sender_id_mismatch"      // FCM: SENDER_ID_MISMATCH
)

// Rejected reports whether the provider refused the credential (neither
// accepted nor unreachable).
func (c LiveCode) Rejected() bool { return c != LiveOK && c != LiveUnreachable && c != "" }

// LiveResult is the outcome of a live check: the code, the provider's own
// reason text (e.g. "BadCertificate", "invalid_grant: Invalid JWT
// Signature."), and a message for the administrator. It never contains
// secret material.
type LiveResult struct {
	Code           LiveCode `json:"code"`
	ProviderReason string   `json:"provider_reason,omitempty"`
	Message        string   `json:"message"`
}
