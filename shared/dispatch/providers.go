package dispatch

import (
	"context"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// Clients gives the provider clients of stored material, kept per
// credential; *clientpool.Pool implements it over shared/apns and
// shared/fcm, so dispatch imports neither provider package nor their
// SDKs.
type Clients interface {
	APNs(m credential.Material, env push.Environment) (APNsClient, error)
	FCM(ctx context.Context, m credential.Material) (FCMClient, error)
}

// APNsClient pushes to APNs with one credential in one environment.
type APNsClient interface {
	// Prepare maps m, once, for the app with bundleID; sentAt is when m
	// was first enqueued (its time to live counts from there; zero means
	// now). Errors: Invalid (no bundle id), TooLarge (the payload is over
	// Apple's limit for its push type).
	Prepare(m *push.Message, bundleID string, sentAt time.Time) (APNsMessage, error)
}

// APNsMessage is one queue message mapped for APNs.
type APNsMessage interface {
	// PushAsync pushes the message to one device and calls done once
	// with the answer read as an outcome and its reason (Apple's reason,
	// the TLS alert the gateway sent, "network_error", or
	// "token_environment_unconfirmed" for BadDeviceToken and
	// DeviceTokenNotForTopic before the environment is confirmed).
	// confirmed is called when the answer arrives: it reports whether
	// the credential has delivered in this environment, the only case in
	// which a BadDeviceToken means a dead token. done runs on the
	// client's goroutine (or the caller's, for a push refused before it
	// was sent) and must not block.
	PushAsync(ctx context.Context, deviceToken string, confirmed func() bool, done func(Answer))
}

// FCMClient sends to FCM with one service account.
type FCMClient interface {
	// Prepare maps m, once; sentAt is when m was first enqueued (zero
	// means now).
	Prepare(m *push.Message, sentAt time.Time) FCMMessage
}

// FCMMessage is one queue message mapped for FCM.
type FCMMessage interface {
	// SendChunk sends the message to at most FCMChunk registration
	// tokens and returns one Answer per token, in order. It never fails
	// as a whole: every problem is a token's Answer.
	SendChunk(ctx context.Context, tokens []string) []Answer
}

// FCMChunk is how many FCM tokens one SendChunk call carries: the most
// one firebase SendEach call takes (fcm.MaxBatch).
const FCMChunk = 500

// Answer is a provider's answer to the push to one token, as the ledger
// records it: the outcome, its reason (the provider's code, such as
// "Unregistered" or "UNAVAILABLE", or the client's, such as
// "network_error"; empty when delivered) and the Retry-After delay the
// provider asked for (0 if none). It never holds a device token or
// secret material.
type Answer struct {
	Outcome    push.Outcome
	Reason     string
	RetryAfter time.Duration
}
