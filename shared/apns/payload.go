package apns

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	"mobilepush/shared/push"
)

// Template is the APNs form of one queue message for one app:
// the payload, marshaled once, and the headers every device's push
// shares. For fills in the device. A Template is immutable and safe for
// concurrent use; its payload bytes are shared read-only by every
// Notification it makes.
type Template struct {
	n         Notification // DeviceToken and ID empty
	messageID string
}

// NewTemplate maps m for the app with bundleID:
//
//   - Payload: Payload(m), marshaled here once (aps.alert {title,
//     subtitle, body}, badge, sound, thread-id, interruption-level,
//     content-available, mutable-content when an image is set; link,
//     image, the message id under push.MessageIDKey and data as custom
//     top-level keys).
//   - PushType: PushType(m); Topic: Topic(bundleID, push type).
//   - Priority: Priority(m) (10 high, 5 normal).
//   - Expiration: sentAt + ttl_seconds; ttl_seconds 0 sends
//     apns-expiration 0 (deliver now or never); no ttl_seconds omits it.
//     A zero sentAt means now. Pass the time the message was first
//     enqueued so that retries do not extend its life.
//   - CollapseID: m.CollapseID(): collapse_key, else the identity derived
//     from the tenant and message id, so a resend after a crash or retry
//     replaces its first push on the device instead of showing twice.
//
// m should be valid (push.DecodeMessage or Message.Validate); NewTemplate
// checks only what it maps: it fails with Invalid for an empty bundleID
// and TooLarge when the payload exceeds Apple's limit for the push type
// (5120 bytes for voip, 4096 otherwise).
func NewTemplate(m *push.Message, bundleID string, sentAt time.Time) (*Template, error) {
	const op = "apns.NewTemplate"
	if bundleID == "" {
		return nil, push.E(op, push.Invalid, fmt.Errorf("message %s: no bundle id", m.MessageID))
	}
	pt := PushType(m)
	payload := Payload(m)
	limit := push.MaxAPNsPayload
	if pt == push.APNsVoIP {
		limit = MaxVoIPPayload
	}
	if len(payload) > limit {
		return nil, push.E(op, push.TooLarge, fmt.Errorf("message %s: the APNs payload is %d bytes, at most %d", m.MessageID, len(payload), limit))
	}
	n := Notification{
		Topic:      Topic(bundleID, pt),
		Payload:    payload,
		PushType:   string(pt),
		Priority:   Priority(m),
		CollapseID: m.CollapseID(),
	}
	if m.TTLSeconds != nil {
		if sentAt.IsZero() {
			sentAt = time.Now()
		}
		n.Expiration = time.Unix(0, 0) // apns-expiration: 0
		if *m.TTLSeconds > 0 {
			n.Expiration, _ = m.Expiry(sentAt.Truncate(time.Second))
		}
	}
	return &Template{n: n, messageID: m.MessageID}, nil
}

// MaxVoIPPayload is Apple's payload limit for apns-push-type voip, in
// bytes; every other push type has push.MaxAPNsPayload.
const MaxVoIPPayload = 5120

// topicSuffixes are the suffixes Apple appends to the bundle id in
// apns-topic for push types that are not delivered to the app itself.
var topicSuffixes = map[push.APNsType]string{
	push.APNsVoIP:         ".voip",
	push.APNsComplication: ".complication",
	push.APNsFileProvider: ".pushkit.fileprovider",
	push.APNsLocation:     ".location-query",
	push.APNsLiveActivity: ".push-type.liveactivity",
	push.APNsPushToTalk:   ".voip-ptt",
	push.APNsWidgets:      ".push-type.widgets",
	push.APNsControls:     ".push-type.controls",
}

// Topic returns the apns-topic for a push of type pt to the app with
// bundleID: the bundle id, with Apple's suffix for voip (.voip),
// complication (.complication), fileprovider (.pushkit.fileprovider),
// location (.location-query), liveactivity (.push-type.liveactivity),
// pushtotalk (.voip-ptt), widgets and controls (.push-type.<type>). A
// bundleID that already ends in the suffix is returned as is. For mdm the
// caller passes the MDM certificate's topic as bundleID.
func Topic(bundleID string, pt push.APNsType) string {
	s := topicSuffixes[pt]
	if s == "" || strings.HasSuffix(bundleID, s) {
		return bundleID
	}
	return bundleID + s
}

// Payload returns the marshaled payload. It is shared: do not modify it.
func (t *Template) Payload() []byte { return t.n.Payload }

// For returns the Notification for one device: the template's headers
// and payload (shared, not copied) with DeviceToken set and ID set to
// NotificationID(message id, deviceToken), so every attempt for the same
// (message, device) carries the same apns-id. Without a message id, ID is
// empty and Apple chooses one.
func (t *Template) For(deviceToken string) Notification {
	n := t.n
	n.DeviceToken = deviceToken
	if t.messageID != "" {
		n.ID = NotificationID(t.messageID, deviceToken)
	}
	return n
}

// NotificationID returns the apns-id of the push of messageID to
// deviceToken: a UUID (version 8, RFC 9562) derived from a SHA-256 of
// both, so a re-send after an ambiguous failure reuses it without
// storing it. Device tokens are compared case-insensitively.
func NotificationID(messageID, deviceToken string) string {
	var buf [320]byte // message id (≤ 80) + NUL + token (≤ 200): on the stack
	in := append(buf[:0], messageID...)
	in = append(in, 0)
	for i := 0; i < len(deviceToken); i++ {
		c := deviceToken[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		in = append(in, c)
	}
	sum := sha256.Sum256(in)
	var b [16]byte
	copy(b[:], sum[:16])
	b[6] = b[6]&0x0f | 0x80 // version 8: custom
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return push.UUIDString(b)
}
