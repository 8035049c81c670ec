package apns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"

	"github.com/sideshow/apns2"

	"mobilepush/shared/push"
)

// ProbeDeviceToken is the well-formed device token no device has that the
// live check pushes to: Apple answers BadDeviceToken (or accepts it) when
// the credential is good, and refuses the credential first otherwise.
const ProbeDeviceToken = "0000000000000000000000000000000000000000000000000000000000000000"

// probePayload is a silent background push: nothing is shown even if a
// device had the probe token.
var probePayload = []byte(`{"aps":{"content-available":1}}`)

// Check proves c's credential for topic against APNs without a visible
// push: it pushes a silent notification to ProbeDeviceToken
// and maps the answer to a push.LiveResult. It never returns secret
// material; a network failure is LiveUnreachable, a warning.
func (c *Client) Check(ctx context.Context, topic string) push.LiveResult {
	resp, err := c.Push(ctx, Notification{
		DeviceToken: ProbeDeviceToken,
		Topic:       topic,
		Payload:     probePayload,
		PushType:    "background",
		Priority:    5,
	})
	if err != nil {
		return c.liveError(err)
	}
	return c.liveAnswer(resp, topic)
}

// LiveCheck builds a Client for auth and env, runs Check, and closes it.
// Material that does not load is an error (the offline checks should have
// caught it); everything the provider says is in the LiveResult.
func LiveCheck(ctx context.Context, cfg Config, auth Auth, env push.Environment, topic string) (push.LiveResult, error) {
	c, err := NewClient(cfg, auth, env)
	if err != nil {
		return push.LiveResult{}, push.E("apns.LiveCheck", push.Other, err)
	}
	defer c.Close()
	return c.Check(ctx, topic), nil
}

func (c *Client) liveAnswer(r Response, topic string) push.LiveResult {
	res := push.LiveResult{ProviderReason: r.Reason}
	env := c.env
	switch {
	case r.Status >= 200 && r.Status < 300 || r.Reason == apns2.ReasonBadDeviceToken:
		res.Code = push.LiveOK
		res.Message = fmt.Sprintf("Apple's %s gateway accepted the credential for %q.", env, topic)
	case r.Reason == apns2.ReasonBadCertificateEnvironment:
		res.Code = push.EnvironmentRejected
		res.Message = fmt.Sprintf("Apple refused the certificate on the %s gateway: it is not valid for %s. "+
			"Upload a certificate for %s (an \"Apple Push Notification service SSL (Sandbox & Production)\" certificate covers both), or switch the app's environment.", env, env, env)
	case r.Reason == apns2.ReasonBadCertificate || r.Reason == apns2.ReasonForbidden:
		res.Code = push.CertificateRejected
		res.Message = "Apple refused the certificate (" + r.Reason + "): it may be revoked, expired or not a push certificate. " +
			"Create a new Apple Push Notification service certificate in the Apple Developer account and upload it as .p12."
	case r.Reason == apns2.ReasonTopicDisallowed || r.Reason == apns2.ReasonBadTopic ||
		r.Reason == apns2.ReasonMissingTopic || r.Reason == apns2.ReasonDeviceTokenNotForTopic:
		res.Code = push.TopicNotAllowed
		res.Message = fmt.Sprintf("Apple does not allow this credential to push to %q (%s). "+
			"Check the bundle identifier, or use a certificate or key of the team that owns this app.", topic, r.Reason)
	case r.Reason == apns2.ReasonInvalidProviderToken || r.Reason == apns2.ReasonMissingProviderToken ||
		r.Reason == apns2.ReasonExpiredProviderToken || r.Reason == apns2.ReasonTooManyProviderTokenUpdates:
		res.Code = push.ProviderTokenRejected
		res.Message = "Apple refused the provider token made with this key (" + r.Reason + "). " +
			"Check the Key ID and Team ID, and that the key is not revoked and has APNs enabled (Apple Developer account -> Keys)."
	case r.Status == http.StatusTooManyRequests || r.Status >= 500:
		res.Code = push.LiveUnreachable
		res.Message = fmt.Sprintf("Apple's %s gateway is busy or failing (%d %s); the credential was not checked. Try again later.", env, r.Status, r.Reason)
	default:
		// Another answer about the probe itself still means the
		// credential was authenticated.
		res.Code = push.LiveOK
		res.Message = fmt.Sprintf("Apple's %s gateway accepted the credential for %q (it answered %d %s to the probe).", env, topic, r.Status, r.Reason)
	}
	return res
}

func (c *Client) liveError(err error) push.LiveResult {
	if alert, ok := TLSAlert(err); ok {
		return push.LiveResult{
			Code:           push.CertificateRejected,
			ProviderReason: alert,
			Message: "Apple refused the certificate during the TLS handshake (" + alert + "): it is expired, revoked or not issued by Apple. " +
				"Create a new Apple Push Notification service certificate and upload it as .p12.",
		}
	}
	var verr *tls.CertificateVerificationError
	msg := fmt.Sprintf("Apple's %s gateway could not be reached; the credential was saved unchecked and will be checked again. Try again later.", c.env)
	if errors.As(err, &verr) || isUnknownAuthority(err) {
		msg = fmt.Sprintf("Apple's %s gateway could not be verified (its server certificate is not trusted here); the credential was not checked. Check this system's trusted roots.", c.env)
	}
	return push.LiveResult{Code: push.LiveUnreachable, Message: msg}
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}
