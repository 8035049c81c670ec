package localsend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/push"
)

// IDs remembers the content each message id of a tenant was accepted
// with; *boltstore.Store implements it.
type IDs interface {
	// RememberMessage records digest for (tenant, id) until until unless
	// a live record is there, and returns the recorded digest and
	// whether this call recorded it.
	RememberMessage(ctx context.Context, tenant, id, digest string, until time.Time) (recorded string, first bool, err error)
}

// DefaultKeepIDs is how long a message id stays bound to its content
// when API.KeepIDs is 0: the embedded queue's default GroupTTL, as long
// as GET /v1/messages/{id} answers after the message is done.
const DefaultKeepIDs = 7 * 24 * time.Hour

// admit refuses a message that cannot be sent, before it is queued, for
// the reasons dispatch would record for every token: the app is
// disabled (app_disabled), or has no credential of a platform the
// message has tokens for (platform_unconfigured). The whole message is
// refused, naming the platform; nothing of it is queued.
// Errors: Unprocessable.
func admit(op string, app credential.App, m *push.Message) error {
	platforms := []struct {
		platform push.Platform
		tokens   []string
	}{{push.APNs, m.Tokens.APNs}, {push.FCM, m.Tokens.FCM}}
	if !app.Enabled {
		var named []string
		for _, p := range platforms {
			if len(p.tokens) > 0 {
				named = append(named, string(p.platform))
			}
		}
		return &push.Error{Op: op, Kind: push.Unprocessable, Code: dispatch.ReasonAppDisabled,
			Msg: fmt.Sprintf("app %q is disabled, so its %s tokens would not be sent: enable it (PATCH /v1/apps/%s {\"enabled\": true}) and send again; nothing of the message was queued", app.ID, strings.Join(named, " and "), app.ID)}
	}
	for _, p := range platforms {
		if len(p.tokens) > 0 && app.Meta(p.platform) == nil {
			return &push.Error{Op: op, Kind: push.Unprocessable, Code: dispatch.ReasonNoCredential,
				Msg: fmt.Sprintf("tokens.%s: app %q has no %s credential, so these tokens could not be sent: upload one (PUT /v1/apps/%s/%s) or leave them out; nothing of the message was queued", p.platform, app.ID, p.platform, app.ID, p.platform)}
		}
	}
	return nil
}

// claimID binds tenant's message id to m's content. It reports whether
// the message is a repeat of one already queued (same id, same content:
// nothing is queued again). Another content under a live id is Conflict.
// Without IDs every message is queued (dispatch still sends an id once).
// Errors: Conflict, Internal.
func (a *API) claimID(ctx context.Context, op, tenant string, m *push.Message) (repeat bool, err error) {
	if a.IDs == nil {
		return false, nil
	}
	canonical, err := json.Marshal(m)
	if err != nil {
		return false, push.E(op, push.Internal, err)
	}
	sum := sha256.Sum256(canonical)
	digest := hex.EncodeToString(sum[:])
	keep := a.KeepIDs
	if keep <= 0 {
		keep = DefaultKeepIDs
	}
	recorded, first, err := a.IDs.RememberMessage(ctx, tenant, m.MessageID, digest, a.now().Add(keep))
	switch {
	case err != nil:
		return false, fmt.Errorf("%s: remember message id %s: %w", op, m.MessageID, err)
	case recorded != digest:
		return false, push.Errorf(op, push.Conflict, "message_id %q was already used by this tenant for a message with other content; send this one under a new message_id (GET /v1/messages/%s shows the first)", m.MessageID, m.MessageID)
	case first:
		return false, nil
	}
	// The same message again: a repeat when the first is on the queue
	// (or done); queued again when it never got there (a failure
	// between the two writes).
	if _, err := a.Inbox.Group(ctx, Group(tenant, m.MessageID)); err == nil {
		return true, nil
	} else if !push.Is(err, push.NotFound) {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return false, nil
}
