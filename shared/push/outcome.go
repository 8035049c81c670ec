package push

// Outcome is what sending to one device token came to, and what the
// sender does about it (docs/ARCHITECTURE.md, Outcomes). The APNs and
// FCM clients classify their answers into it, the sender acts on it and
// the outcome ledger stores its string. The set is closed: a provider's
// intermediate steps (refresh the token once, then decide) are resolved
// inside its client and never reach an Outcome.
type Outcome string

// The outcomes. Their strings are the outcome ledger's stored form.
const (
	Delivered       Outcome = "delivered"        // accepted by the provider; confirms the APNs environment
	InvalidToken    Outcome = "invalid_token"    // the device token is dead: report it
	Retry           Outcome = "retry"            // transient: re-enqueue with back-off
	CredentialFault Outcome = "credential_fault" // the credential is refused: suspend the platform
	Rejected        Outcome = "rejected"         // this notification is wrong: dead-letter it with the reason
)
