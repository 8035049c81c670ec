package push

import (
	"strconv"
	"unicode/utf8"
)

// APNsPayloadSize returns the length in bytes of m's APNs JSON payload as
// shared/apns encodes it (apns.Payload: aps with alert, badge, sound,
// thread-id, interruption-level, content-available, mutable-content;
// link, image, the message id under MessageIDKey when m has one, and
// data as top-level keys; strings escaped as JSON
// requires, HTML characters not), counted without encoding it. Validate
// limits it to MaxAPNsPayload; shared/apns tests that it equals the
// encoding's length byte for byte.
func (m *Message) APNsPayloadSize() int {
	n, a := m.Notification, m.APNs
	size := len(`{"aps":{`)
	fields := 0
	field := func(name string, value int) {
		if fields > 0 {
			size++ // ,
		}
		fields++
		size += len(`"":`) + len(name) + value
	}
	if n.Title != "" || n.Subtitle != "" || n.Body != "" {
		alert, c := len(`{}`), 0
		for _, kv := range [...][2]string{{"title", n.Title}, {"subtitle", n.Subtitle}, {"body", n.Body}} {
			if kv[1] == "" {
				continue
			}
			if c > 0 {
				alert++ // ,
			}
			c++
			alert += jsonStringSize(kv[0]) + len(`:`) + jsonStringSize(kv[1])
		}
		field("alert", alert)
	}
	if n.Badge != nil {
		field("badge", len(strconv.Itoa(*n.Badge)))
	}
	if n.Sound != "" {
		field("sound", jsonStringSize(n.Sound))
	}
	if a.ThreadID != "" {
		field("thread-id", jsonStringSize(a.ThreadID))
	}
	if a.InterruptionLevel != "" {
		field("interruption-level", jsonStringSize(string(a.InterruptionLevel)))
	}
	if a.ContentAvailable {
		field("content-available", len(`1`))
	}
	if a.MutableContent || n.Image != "" {
		field("mutable-content", len(`1`))
	}
	size += len(`}`) // aps
	custom := func(k, v string) { size += len(`,:`) + jsonStringSize(k) + jsonStringSize(v) }
	if m.Link != "" {
		custom("link", m.Link)
	}
	if n.Image != "" {
		custom("image", n.Image)
	}
	if m.MessageID != "" {
		custom(MessageIDKey, m.MessageID)
	}
	for k, v := range m.Data {
		custom(k, v)
	}
	return size + len(`}`)
}

// jsonStringSize returns the length of s as a JSON string the way the
// APNs encoder writes it: quoted; quote, backslash, \n, \r and \t as two
// bytes; other control characters, invalid UTF-8 bytes (written as
// \ufffd) and U+2028/U+2029 as six; everything else as it is.
func jsonStringSize(s string) int {
	n := len(`""`)
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				n++
			case c == '"', c == '\\', c == '\n', c == '\r', c == '\t':
				n += 2
			default:
				n += len(`\u0000`)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			n += len(`\ufffd`)
		} else {
			n += size
		}
		i += size
	}
	return n
}

// FCMPayloadSize returns the bytes FCM counts against its 4096-byte
// payload limit for m: the keys and values of its FCM data (data plus
// "link" and the message id under MessageIDKey, as shared/fcm maps them) and the notification's title, body
// and image. Validate limits it to MaxFCMPayload; shared/fcm tests that
// it equals the size of its mapping.
func (m *Message) FCMPayloadSize() int {
	n := len(m.Notification.Title) + len(m.Notification.Body) + len(m.Notification.Image)
	for k, v := range m.Data {
		n += len(k) + len(v)
	}
	if m.Link != "" {
		n += len("link") + len(m.Link)
	}
	if m.MessageID != "" {
		n += len(MessageIDKey) + len(m.MessageID)
	}
	return n
}
