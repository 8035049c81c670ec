package clientpool

import (
	"context"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/credential"
	"mobilepush/shared/dispatch"
	"mobilepush/shared/fcm"
	"mobilepush/shared/push"
)

var (
	_ dispatch.Clients    = (*Pool)(nil)
	_ dispatch.APNsClient = apnsSender{}
	_ dispatch.FCMClient  = fcmSender{}
)

// APNs implements dispatch.Clients: the cached client of m for env (see
// APNsClient), as the sender uses it.
func (g *Pool) APNs(m credential.Material, env push.Environment) (dispatch.APNsClient, error) {
	c, err := g.APNsClient(m, env)
	if err != nil {
		return nil, err
	}
	return apnsSender{c}, nil
}

// FCM implements dispatch.Clients: the cached client of m (see
// FCMClient), as the sender uses it.
func (g *Pool) FCM(ctx context.Context, m credential.Material) (dispatch.FCMClient, error) {
	c, err := g.FCMClient(ctx, m)
	if err != nil {
		return nil, err
	}
	return fcmSender{c}, nil
}

// apnsSender is an *apns.Client as a dispatch.APNsClient.
type apnsSender struct{ c *apns.Client }

// Prepare maps m with apns.NewTemplate.
func (a apnsSender) Prepare(m *push.Message, bundleID string, sentAt time.Time) (dispatch.APNsMessage, error) {
	t, err := apns.NewTemplate(m, bundleID, sentAt)
	if err != nil {
		return nil, err
	}
	return apnsMessage{a.c, t}, nil
}

// apnsMessage is one message's template on its client.
type apnsMessage struct {
	c *apns.Client
	t *apns.Template
}

// PushAsync pushes the template's notification for deviceToken and reads
// the answer with apns.ReadAnswer.
func (a apnsMessage) PushAsync(ctx context.Context, deviceToken string, confirmed func() bool, done func(dispatch.Answer)) {
	a.c.PushAsync(ctx, a.t.For(deviceToken), func(resp apns.Response, err error) {
		out, reason := apns.ReadAnswer(resp, err, err == nil && confirmed())
		done(dispatch.Answer{Outcome: out, Reason: reason})
	})
}

// fcmSender is an *fcm.Client as a dispatch.FCMClient.
type fcmSender struct{ c *fcm.Client }

// Prepare maps m with fcm.NewTemplate.
func (f fcmSender) Prepare(m *push.Message, sentAt time.Time) dispatch.FCMMessage {
	return fcmMessage{f.c, fcm.NewTemplate(m, sentAt)}
}

// fcmMessage is one message's template on its client.
type fcmMessage struct {
	c *fcm.Client
	t *fcm.Template
}

// SendChunk sends the template to tokens with fcm.Client.Send and
// answers each token's Verdict.
func (f fcmMessage) SendChunk(ctx context.Context, tokens []string) []dispatch.Answer {
	results := f.c.Send(ctx, f.t.Messages(tokens))
	answers := make([]dispatch.Answer, len(results))
	for i, r := range results {
		answers[i] = dispatch.Answer{Outcome: r.Verdict.Outcome, Reason: r.Verdict.Reason, RetryAfter: r.Verdict.RetryAfter}
	}
	return answers
}
