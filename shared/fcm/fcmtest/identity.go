package fcmtest

import (
	"encoding/json"

	"mobilepush/shared/push"
)

// Sent is what a device would collapse one send on: the identities of a
// valid message the Fake received for delivery to a registration token,
// whatever it answered (validate_only sends are not kept). A repeat of a push must carry the
// same identities as its first send, or the device shows it twice.
type Sent struct {
	Token          string // the registration token
	AndroidTag     string // android.notification.tag: Android replaces a notification of the same tag
	CollapseKey    string // android.collapse_key
	APNsCollapseID string // apns.headers["apns-collapse-id"] of the APNs block
	WebpushTag     string // webpush.notification.tag
	MessageID      string // data[push.MessageIDKey]: what a data-only app drops repeats by
}

// identityWire is the part of a message Sent reads.
type identityWire struct {
	Data    map[string]string `json:"data"`
	Android *struct {
		CollapseKey  string `json:"collapse_key"`
		Notification *struct {
			Tag string `json:"tag"`
		} `json:"notification"`
	} `json:"android"`
	APNS *struct {
		Headers map[string]string `json:"headers"`
	} `json:"apns"`
	Webpush *struct {
		Notification *struct {
			Tag string `json:"tag"`
		} `json:"notification"`
	} `json:"webpush"`
}

// sentOf reads the identities of a raw message.
func sentOf(token string, raw json.RawMessage) Sent {
	var w identityWire
	_ = json.Unmarshal(raw, &w) // the message was decoded before: it is an object
	s := Sent{Token: token, MessageID: w.Data[push.MessageIDKey]}
	if a := w.Android; a != nil {
		s.CollapseKey = a.CollapseKey
		if a.Notification != nil {
			s.AndroidTag = a.Notification.Tag
		}
	}
	if w.APNS != nil {
		s.APNsCollapseID = w.APNS.Headers["apns-collapse-id"]
	}
	if w.Webpush != nil && w.Webpush.Notification != nil {
		s.WebpushTag = w.Webpush.Notification.Tag
	}
	return s
}

// recordSent keeps what was accepted for a token (Options.RecordSent).
func (f *Fake) recordSent(token string, raw json.RawMessage) {
	if !f.opts.RecordSent || token == "" {
		return
	}
	s := sentOf(token, raw)
	f.mu.Lock()
	f.sent = append(f.sent, s)
	f.mu.Unlock()
}

// Sent returns every valid send received for delivery, oldest first,
// repeats included (Options.RecordSent must be set).
func (f *Fake) Sent() []Sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Sent(nil), f.sent...)
}
