package fcm

import (
	"net/url"
	"strconv"
	"time"

	"firebase.google.com/go/v4/messaging"

	"mobilepush/shared/apns"
	"mobilepush/shared/push"
)

// Template is the FCM form of one queue message, built once
// per message: every part of the *messaging.Message but the token. For and
// Messages fill in the registration tokens; the messages they return
// share the template's parts (maps and pointers) read-only, which the
// firebase library only reads. A Template is safe for concurrent use.
type Template struct {
	base messaging.Message
}

// NewTemplate maps m for FCM. A zero sentAt means now; pass the time the
// message was first enqueued so that retries do not extend its life.
//
//   - notification: title, body, image.
//   - data: Data(m) (data, "link" and the message id under
//     push.MessageIDKey, by which an app drops a repeated data-only
//     message).
//   - android: priority (high|normal), ttl (what is left of ttl_seconds
//     at build time, in whole seconds rounded up, never negative),
//     collapse_key,
//     notification {channel_id, click_action, color, icon, sound, tag}
//     when the message shows a notification, tag being m.CollapseID() so
//     that a repeat replaces the first in the tray.
//   - apns (for iOS apps that use FCM): headers apns-priority,
//     apns-expiration, apns-collapse-id (m.CollapseID()), and apns-push-type for alert or
//     background pushes; payload aps {alert.subtitle, badge, sound,
//     thread-id, interruption-level, content-available, mutable-content
//     when an image is set}; fcm_options.image. FCM merges the
//     notification's title and body into aps.alert and the data into the
//     payload itself.
//   - webpush: notification {title, body, image, icon when android.icon is
//     an http(s) URL, tag: m.CollapseID()}, headers Urgency and TTL, fcm_options.link when the
//     link is an https URL (the only links web push opens; the firebase
//     library refuses others). Web push's badge is an image URL, so the
//     numeric badge is not mapped there.
//
// m should be valid (push.DecodeMessage or Message.Validate); NewTemplate
// does not check it again.
func NewTemplate(m *push.Message, sentAt time.Time) *Template {
	now := time.Now()
	if sentAt.IsZero() {
		sentAt = now
	}
	n := m.Notification
	t := &Template{}
	t.base.Data = Data(m)
	if n.Title != "" || n.Body != "" || n.Image != "" {
		t.base.Notification = &messaging.Notification{Title: n.Title, Body: n.Body, ImageURL: n.Image}
	}

	// Time to live: what is left of it now, and the absolute expiry.
	var ttl *time.Duration
	var expiry time.Time
	if m.TTLSeconds != nil {
		expiry, _ = m.Expiry(sentAt.Truncate(time.Second))
		full := time.Duration(*m.TTLSeconds) * time.Second
		left := full - max(now.Sub(sentAt), 0)
		left = min(max((left+time.Second-1).Truncate(time.Second), 0), full)
		ttl = &left
	}

	android := &messaging.AndroidConfig{
		CollapseKey: m.CollapseKey,
		Priority:    string(m.Priority),
		TTL:         ttl,
	}
	// A data-only message gets no android.notification: a tag alone
	// would make it a notification. Its repeats are the app's to drop,
	// by push.MessageIDKey.
	if a := m.Android; a != (push.AndroidOptions{}) || n.Sound != "" || t.base.Notification != nil {
		android.Notification = &messaging.AndroidNotification{
			ChannelID:   a.ChannelID,
			ClickAction: a.ClickAction,
			Color:       a.Color,
			Icon:        a.Icon,
			Sound:       n.Sound,
			Tag:         m.CollapseID(),
		}
	}
	t.base.Android = android

	t.base.APNS = apnsConfig(m, ttl != nil, expiry)
	t.base.Webpush = webpushConfig(m, ttl)
	return t
}

// Data returns the FCM data of m: its data plus "link" when set and the
// message id under push.MessageIDKey when m has one. The result is a new
// map, or nil when there is nothing.
func Data(m *push.Message) map[string]string {
	if len(m.Data) == 0 && m.Link == "" && m.MessageID == "" {
		return nil
	}
	d := make(map[string]string, len(m.Data)+2)
	for k, v := range m.Data {
		d[k] = v
	}
	if m.Link != "" {
		d["link"] = m.Link
	}
	if m.MessageID != "" {
		d[push.MessageIDKey] = m.MessageID
	}
	return d
}

func apnsConfig(m *push.Message, hasTTL bool, expiry time.Time) *messaging.APNSConfig {
	n, a := m.Notification, m.APNs
	h := map[string]string{"apns-priority": strconv.Itoa(apns.Priority(m))}
	if hasTTL {
		exp := int64(0) // ttl_seconds 0: now or never
		if *m.TTLSeconds > 0 {
			exp = expiry.Unix()
		}
		h["apns-expiration"] = strconv.FormatInt(exp, 10)
	}
	if id := m.CollapseID(); id != "" {
		h["apns-collapse-id"] = id
	}
	if pt := apns.PushType(m); pt == push.APNsAlert || pt == push.APNsBackground {
		h["apns-push-type"] = string(pt)
	}
	aps := &messaging.Aps{
		Badge:            n.Badge,
		Sound:            n.Sound,
		ThreadID:         a.ThreadID,
		ContentAvailable: a.ContentAvailable,
		MutableContent:   a.MutableContent || n.Image != "",
	}
	if n.Subtitle != "" {
		aps.Alert = &messaging.ApsAlert{SubTitle: n.Subtitle}
	}
	if a.InterruptionLevel != "" {
		aps.CustomData = map[string]any{"interruption-level": string(a.InterruptionLevel)}
	}
	cfg := &messaging.APNSConfig{Headers: h, Payload: &messaging.APNSPayload{Aps: aps}}
	if n.Image != "" {
		cfg.FCMOptions = &messaging.APNSFCMOptions{ImageURL: n.Image}
	}
	return cfg
}

func webpushConfig(m *push.Message, ttl *time.Duration) *messaging.WebpushConfig {
	n := m.Notification
	w := &messaging.WebpushConfig{}
	h := map[string]string{}
	switch m.Priority {
	case push.PriorityHigh:
		h["Urgency"] = "high"
	case push.PriorityNormal:
		h["Urgency"] = "normal"
	}
	if ttl != nil {
		h["TTL"] = strconv.FormatInt(int64(*ttl/time.Second), 10)
	}
	if len(h) > 0 {
		w.Headers = h
	}
	icon := ""
	if isURL(m.Android.Icon, "http", "https") {
		icon = m.Android.Icon
	}
	if n.Title != "" || n.Body != "" || n.Image != "" || icon != "" {
		w.Notification = &messaging.WebpushNotification{Title: n.Title, Body: n.Body, Image: n.Image, Icon: icon, Tag: m.CollapseID()}
	}
	if isURL(m.Link, "https") {
		w.FCMOptions = &messaging.WebpushFCMOptions{Link: m.Link}
	}
	if w.Headers == nil && w.Notification == nil && w.FCMOptions == nil {
		return nil
	}
	return w
}

func isURL(s string, schemes ...string) bool {
	if s == "" {
		return false
	}
	u, err := url.ParseRequestURI(s)
	if err != nil || u.Host == "" {
		return false
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return true
		}
	}
	return false
}

// For returns the message for one registration token. Only the token is
// new; every other part is the template's, shared.
func (t *Template) For(token string) *messaging.Message {
	msg := t.base
	msg.Token = token
	return &msg
}

// Messages returns one message per token, in order, for Client.Send:
// two allocations for all of them, every part but the token shared.
func (t *Template) Messages(tokens []string) []*messaging.Message {
	all := make([]messaging.Message, len(tokens))
	out := make([]*messaging.Message, len(tokens))
	for i, tok := range tokens {
		all[i] = t.base
		all[i].Token = tok
		out[i] = &all[i]
	}
	return out
}
