package apns

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"mobilepush/shared/push"
)

// The APNs form of a queue message: its push type, priority and JSON
// payload. push.Message.APNsPayloadSize counts the payload's bytes
// without encoding it (so that push validates without this package);
// encode_test.go checks the two agree byte for byte.

// PushType returns the apns-push-type m is sent with: apns.push_type,
// else background for a message that only sets content_available (no
// title, subtitle, body, badge or sound), else alert.
func PushType(m *push.Message) push.APNsType {
	if m.APNs.PushType != "" {
		return m.APNs.PushType
	}
	n := m.Notification
	if m.APNs.ContentAvailable && n.Title == "" && n.Subtitle == "" && n.Body == "" && n.Badge == nil && n.Sound == "" {
		return push.APNsBackground
	}
	return push.APNsAlert
}

// Priority returns the apns-priority m is sent with: 10 for high, 5
// for normal; without a priority, 5 for a background push and 10
// otherwise.
func Priority(m *push.Message) int {
	switch m.Priority {
	case push.PriorityHigh:
		return 10
	case push.PriorityNormal:
		return 5
	}
	if PushType(m) == push.APNsBackground {
		return 5
	}
	return 10
}

// Payload returns the APNs JSON payload of m, the bytes sent to every
// Apple device:
//
//	{"aps":{"alert":{"title","subtitle","body"},"badge","sound","thread-id",
//	  "interruption-level","content-available":1,"mutable-content":1},
//	 "link":"...","image":"...","mobilepush_message_id":"...", <data keys>...}
//
// mutable-content is set when notification.image is (a notification
// service extension downloads the image named by the "image" key); link,
// image, the message id (push.MessageIDKey, when m has one) and data are
// custom top-level keys, data in key order. Empty
// fields are left out; HTML characters are not escaped. The result is
// deterministic, and m.APNsPayloadSize() bytes long, which
// push.Message.Validate limits to push.MaxAPNsPayload.
func Payload(m *push.Message) []byte {
	return AppendPayload(make([]byte, 0, m.APNsPayloadSize()), m)
}

// AppendPayload appends m's APNs payload (see Payload) to b.
func AppendPayload(b []byte, m *push.Message) []byte {
	n, a := m.Notification, m.APNs
	b = append(b, `{"aps":{`...)
	comma := false
	field := func(name string) {
		if comma {
			b = append(b, ',')
		}
		comma = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	if n.Title != "" || n.Subtitle != "" || n.Body != "" {
		field("alert")
		b = append(b, '{')
		c := len(b)
		for _, kv := range [...][2]string{{"title", n.Title}, {"subtitle", n.Subtitle}, {"body", n.Body}} {
			if kv[1] == "" {
				continue
			}
			if len(b) > c {
				b = append(b, ',')
			}
			b = appendString(b, kv[0])
			b = append(b, ':')
			b = appendString(b, kv[1])
		}
		b = append(b, '}')
	}
	if n.Badge != nil {
		field("badge")
		b = strconv.AppendInt(b, int64(*n.Badge), 10)
	}
	if n.Sound != "" {
		field("sound")
		b = appendString(b, n.Sound)
	}
	if a.ThreadID != "" {
		field("thread-id")
		b = appendString(b, a.ThreadID)
	}
	if a.InterruptionLevel != "" {
		field("interruption-level")
		b = appendString(b, string(a.InterruptionLevel))
	}
	if a.ContentAvailable {
		field("content-available")
		b = append(b, '1')
	}
	if a.MutableContent || n.Image != "" {
		field("mutable-content")
		b = append(b, '1')
	}
	b = append(b, '}')
	custom := func(k, v string) {
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, v)
	}
	if m.Link != "" {
		custom("link", m.Link)
	}
	if n.Image != "" {
		custom("image", n.Image)
	}
	if m.MessageID != "" {
		custom(push.MessageIDKey, m.MessageID)
	}
	keys := make([]string, 0, len(m.Data))
	for k := range m.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		custom(k, m.Data[k])
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, escaping what JSON requires
// (quotes, backslash, control characters; invalid UTF-8 becomes U+FFFD)
// and U+2028/U+2029, but not HTML characters.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
