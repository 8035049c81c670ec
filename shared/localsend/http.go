package localsend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/httpapi"
	"mobilepush/shared/localqueue"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

// Inbox is the part of the embedded queue the endpoints use;
// *localqueue.Queue implements it.
type Inbox interface {
	Send(ctx context.Context, in ...localqueue.SendInput) ([]string, error)
	Group(ctx context.Context, g string) (localqueue.GroupStats, error)
}

// Ledger reads send claims and outcomes; *credential.Service implements it.
type Ledger interface {
	Claim(ctx context.Context, key credential.MessageKey) (credential.Claim, error)
	Outcomes(ctx context.Context, key credential.MessageKey) ([]credential.Outcome, error)
}

// Apps finds an app of a tenant; *credential.Cache and
// *credential.Service implement it.
type Apps interface {
	App(ctx context.Context, tenant, id string) (credential.App, error)
}

// API serves POST /v1/messages and GET /v1/messages/{id}. Inbox and
// Ledger are required; without Apps a message for an unknown app is
// accepted and its tokens end rejected (app_not_found); without IDs a
// message id is not bound to its content.
type API struct {
	Inbox  Inbox
	Ledger Ledger
	Apps   Apps
	IDs    IDs
	// KeepIDs is how long a message id stays bound to its content (0:
	// DefaultKeepIDs).
	KeepIDs time.Duration
	Now     func() time.Time
}

// Routes returns the endpoints as mux patterns for httpapi.Config's
// Extra, served by httpapi.Endpoint with api's authenticator, body cap,
// error format and access log.
func (a *API) Routes(api httpapi.Config) map[string]http.Handler {
	return map[string]http.Handler{
		"POST /v1/messages":     httpapi.Endpoint(api, "/v1/messages", a.post),
		"GET /v1/messages/{id}": httpapi.Endpoint(api, "/v1/messages/{id}", a.get),
	}
}

func (a *API) post(w http.ResponseWriter, r *http.Request, who registry.Principal) error {
	body, err := httpapi.ReadBody(r)
	if err != nil {
		return err
	}
	id, err := a.Enqueue(r.Context(), who.Tenant, body)
	if err != nil {
		return err
	}
	st, err := a.Status(r.Context(), who.Tenant, id)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/messages/"+id)
	httpapi.WriteJSON(w, http.StatusAccepted, st)
	return nil
}

func (a *API) get(w http.ResponseWriter, r *http.Request, who registry.Principal) error {
	st, err := a.Status(r.Context(), who.Tenant, r.PathValue("id"))
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, http.StatusOK, st)
	return nil
}

// Enqueue accepts a queue message v1 for tenant (the JSON body of POST
// /v1/messages): "tenant" may be left out (or empty), and must be tenant
// otherwise; a missing "message_id" is generated. It returns the message
// id once the message is on disk. A message id means one message: the
// same message again is not queued twice (its id is returned), another
// content under a used id is Conflict; a message the app cannot send
// (disabled, or no credential of a platform it has tokens for) is
// Unprocessable, naming the platform (see admit).
// Errors: Invalid and TooLarge (the message, naming the field), NotFound
// (another tenant, or no such app), Conflict, Unprocessable, Internal.
func (a *API) Enqueue(ctx context.Context, tenant string, body []byte) (string, error) {
	const op = "localsend.Enqueue"
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		_, derr := push.DecodeMessage(body) // names the problem without quoting the body
		if derr == nil {
			derr = push.Errorf(op, push.Invalid, "message: not a JSON object")
		}
		return "", derr
	}
	if raw, ok := fields["tenant"]; ok {
		var t string
		if err := json.Unmarshal(raw, &t); err != nil {
			return "", push.Errorf(op, push.Invalid, "tenant: must be a JSON string")
		}
		if t != "" && t != tenant { // "" is absent: push.Message always writes the field
			// As for another tenant's app: nothing tells whether it exists.
			return "", push.Errorf(op, push.NotFound, "tenant: %q is not the tenant of this token; leave it out or send %q", t, tenant)
		}
	}
	fields["tenant"], _ = json.Marshal(tenant)
	var id string
	if raw, ok := fields["message_id"]; ok {
		_ = json.Unmarshal(raw, &id) // a wrong type is named by DecodeMessage below
	}
	if _, ok := fields["message_id"]; !ok || id == "" {
		id = push.NewMessageID()
		fields["message_id"], _ = json.Marshal(id)
	}
	normalized, err := json.Marshal(fields)
	if err != nil {
		return "", push.E(op, push.Internal, err)
	}
	m, err := push.DecodeMessage(normalized)
	if err != nil {
		return "", err
	}
	if a.Apps != nil {
		app, err := a.Apps.App(ctx, tenant, m.AppID)
		if err != nil {
			if push.Is(err, push.NotFound) {
				return "", push.Errorf(op, push.NotFound, "app_id: no app %q", m.AppID)
			}
			return "", fmt.Errorf("%s: load app %s: %w", op, m.AppID, err)
		}
		if err := admit(op, app, m); err != nil {
			return "", err
		}
	}
	if repeat, err := a.claimID(ctx, op, tenant, m); err != nil || repeat {
		return m.MessageID, err
	}
	queued, err := Encode(m)
	if err != nil {
		return "", err
	}
	_, err = a.Inbox.Send(ctx, firstInput(m, queued, a.now()))
	if err != nil {
		return "", fmt.Errorf("%s: queue message %s: %w", op, m.MessageID, err)
	}
	return m.MessageID, nil
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// The states of a message.
const (
	StateQueued  = "queued"  // accepted, not received by a worker yet
	StateSending = "sending" // being sent, or parts wait for a retry
	StateDone    = "done"    // nothing of it is left on the queue
)

// Status is the answer of GET /v1/messages/{id} (and of POST
// /v1/messages). Reasons counts the final outcomes by result and reason,
// e.g. {"rejected": {"platform_unconfigured": 1}}; outcomes without a
// reason are only in Counts.
type Status struct {
	MessageID string                    `json:"message_id"`
	State     string                    `json:"state"`
	Counts    Counts                    `json:"counts"`
	Reasons   map[string]map[string]int `json:"reasons,omitempty"`
}

// Counts are the final outcomes of a message's tokens over all its
// attempts: a token retried and then delivered counts as delivered.
type Counts struct {
	Delivered       int `json:"delivered"`
	InvalidToken    int `json:"invalid_token"`
	Retry           int `json:"retry"`
	CredentialFault int `json:"credential_fault"`
	Rejected        int `json:"rejected"`
}

// Total is the number of tokens with an outcome.
func (c Counts) Total() int {
	return c.Delivered + c.InvalidToken + c.Retry + c.CredentialFault + c.Rejected
}

// maxAttemptProbe bounds the attempts Status reads.
const maxAttemptProbe = 100

// Status returns the state and outcome counts of tenant's message id.
// It is kept while the message has parts on the queue and for the
// queue's GroupTTL (and the ledger's TTL) after.
// Errors: NotFound (no such message of this tenant, or expired),
// Internal.
func (a *API) Status(ctx context.Context, tenant, id string) (Status, error) {
	const op = "localsend.Status"
	g, err := a.Inbox.Group(ctx, Group(tenant, id))
	if push.Is(err, push.NotFound) {
		return Status{}, push.Errorf(op, push.NotFound, "message %s: not found (unknown, another tenant's, or expired)", id)
	}
	if err != nil {
		return Status{}, fmt.Errorf("%s: %w", op, err)
	}
	st := Status{MessageID: id, State: StateQueued}
	switch {
	case g.Live == 0:
		st.State = StateDone
	case g.Received:
		st.State = StateSending
	}
	// The final outcome of a token is the one of the latest attempt
	// that recorded it. Attempts without a claim yet (a delayed retry)
	// may leave a gap; two missing in a row end the scan.
	final := map[string]credential.Outcome{}
	for attempt, misses := 0, 0; misses < 2 && attempt < maxAttemptProbe; attempt++ {
		key := credential.MessageKey{Tenant: tenant, MessageID: id, Attempt: attempt}
		outs, err := a.Ledger.Outcomes(ctx, key)
		if err != nil {
			return Status{}, fmt.Errorf("%s: %w", op, err)
		}
		if len(outs) == 0 {
			if _, err := a.Ledger.Claim(ctx, key); push.Is(err, push.NotFound) {
				misses++
				continue
			} else if err != nil {
				return Status{}, fmt.Errorf("%s: %w", op, err)
			}
		}
		misses = 0
		for _, o := range outs {
			final[tokenKey(o.Platform, o.Token)] = o
		}
	}
	for _, o := range final {
		if o.Reason != "" {
			if st.Reasons == nil {
				st.Reasons = map[string]map[string]int{}
			}
			if st.Reasons[string(o.Result)] == nil {
				st.Reasons[string(o.Result)] = map[string]int{}
			}
			st.Reasons[string(o.Result)][o.Reason]++
		}
		switch o.Result {
		case push.Delivered:
			st.Counts.Delivered++
		case push.InvalidToken:
			st.Counts.InvalidToken++
		case push.Retry:
			st.Counts.Retry++
		case push.CredentialFault:
			st.Counts.CredentialFault++
		case push.Rejected:
			st.Counts.Rejected++
		}
	}
	return st, nil
}

// tokenKey identifies a token across attempts; APNs tokens are hex and
// compared case-insensitively, as dispatch does.
func tokenKey(p push.Platform, token string) string {
	if p == push.APNs {
		token = strings.ToLower(token)
	}
	return string(p) + ":" + token
}
