package apns_test

import (
	"encoding/json"
	"strings"
	"testing"

	"mobilepush/shared/apns"
	"mobilepush/shared/push"
)

func TestPayload(t *testing.T) {
	tests := []struct {
		name string
		m    push.Message
		want string
	}{
		{"alert", push.Message{Notification: push.Notification{Title: "Hi", Body: "there"}},
			`{"aps":{"alert":{"title":"Hi","body":"there"}}}`},
		{"every field", push.Message{
			Notification: push.Notification{Title: "T", Subtitle: "S", Body: "B", Badge: new(3), Sound: "default", Image: "https://x.example/i.png"},
			Data:         map[string]string{"z": "26", "a": "1"},
			Link:         "app://deep/link",
			APNs:         push.APNsOptions{ThreadID: "th", InterruptionLevel: push.InterruptionTimeSensitive, ContentAvailable: true},
		}, `{"aps":{"alert":{"title":"T","subtitle":"S","body":"B"},"badge":3,"sound":"default","thread-id":"th",` +
			`"interruption-level":"time-sensitive","content-available":1,"mutable-content":1},` +
			`"link":"app://deep/link","image":"https://x.example/i.png","a":"1","z":"26"}`},
		{"badge 0 clears", push.Message{Notification: push.Notification{Badge: new(0)}}, `{"aps":{"badge":0}}`},
		{"mutable-content alone", push.Message{APNs: push.APNsOptions{MutableContent: true}, Notification: push.Notification{Body: "b"}},
			`{"aps":{"alert":{"body":"b"},"mutable-content":1}}`},
		{"background", push.Message{APNs: push.APNsOptions{ContentAvailable: true}, Data: map[string]string{"k": "v"}},
			`{"aps":{"content-available":1},"k":"v"}`},
		{"escaping", push.Message{Notification: push.Notification{Title: "a\"b\\c\n<&>\u2028\x01", Body: "\xff"}},
			`{"aps":{"alert":{"title":"a\"b\\c\n<&>\u2028\u0001","body":"\ufffd"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apns.Payload(&tt.m)
			if string(got) != tt.want {
				t.Errorf("Payload() =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

// The hand-written encoder must agree with encoding/json on every string.
func TestPayloadStringsRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "ünïcødé 🎉", "\x00\x1f\x7f", "\"\\/", "\u2028\u2029", "bad \xc3\x28 utf8", "<script>&amp;"} {
		m := push.Message{Notification: push.Notification{Title: s + "x"}, Data: map[string]string{"k": s}}
		var got struct {
			APS struct {
				Alert struct{ Title string } `json:"alert"`
			} `json:"aps"`
			K string `json:"k"`
		}
		if err := json.Unmarshal(apns.Payload(&m), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if got.K != want || got.APS.Alert.Title != want+"x" {
			t.Errorf("%q round-trips as %q / %q", s, got.K, got.APS.Alert.Title)
		}
	}
}

func TestPushTypeAndPriority(t *testing.T) {
	tests := []struct {
		name         string
		m            push.Message
		wantType     push.APNsType
		wantPriority int
	}{
		{"alert default", push.Message{Notification: push.Notification{Title: "t"}}, push.APNsAlert, 10},
		{"normal", push.Message{Notification: push.Notification{Title: "t"}, Priority: push.PriorityNormal}, push.APNsAlert, 5},
		{"content-available only", push.Message{APNs: push.APNsOptions{ContentAvailable: true}}, push.APNsBackground, 5},
		{"content-available with badge", push.Message{APNs: push.APNsOptions{ContentAvailable: true}, Notification: push.Notification{Badge: new(1)}}, push.APNsAlert, 10},
		{"explicit voip high", push.Message{APNs: push.APNsOptions{PushType: push.APNsVoIP}, Priority: push.PriorityHigh}, push.APNsVoIP, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apns.PushType(&tt.m); got != tt.wantType {
				t.Errorf("PushType() = %q, want %q", got, tt.wantType)
			}
			if got := apns.Priority(&tt.m); got != tt.wantPriority {
				t.Errorf("Priority() = %d, want %d", got, tt.wantPriority)
			}
		})
	}
}

// sizeCases are messages over every part of the payload: each option
// alone and all together, unicode, every escape and invalid UTF-8.
func sizeCases() map[string]push.Message {
	var controls strings.Builder
	for c := range 0x20 {
		controls.WriteByte(byte(c))
	}
	controls.WriteByte(0x7f)
	tricky := map[string]string{
		"controls":         controls.String(),
		"quotes":           `"quoted" \back\slash\ /slash/`,
		"html":             "<script>&amp;</script>",
		"separators":       "line\u2028paragraph\u2029",
		"unicode":          "ünïcødé 日本語 🎉👩‍👩‍👧",
		"replacement":      "\ufffd literal",
		"invalid":          "\xff bad \xc3\x28 utf8 \xe2\x82",
		"truncated at end": "end\xf0\x9f\x8e",
	}
	cases := map[string]push.Message{
		"empty":             {},
		"title":             {Notification: push.Notification{Title: "T"}},
		"subtitle":          {Notification: push.Notification{Subtitle: "S"}},
		"body":              {Notification: push.Notification{Body: "B"}},
		"title and body":    {Notification: push.Notification{Title: "T", Body: "B"}},
		"subtitle and body": {Notification: push.Notification{Subtitle: "S", Body: "B"}},
		"badge 0":           {Notification: push.Notification{Badge: new(0)}},
		"badge 7":           {Notification: push.Notification{Badge: new(7)}},
		"badge 1234567":     {Notification: push.Notification{Badge: new(1234567)}},
		"badge -1":          {Notification: push.Notification{Badge: new(-1)}},
		"sound":             {Notification: push.Notification{Sound: "default"}},
		"image":             {Notification: push.Notification{Image: "https://x.example/i.png"}},
		"thread":            {APNs: push.APNsOptions{ThreadID: "th"}},
		"interruption":      {APNs: push.APNsOptions{InterruptionLevel: push.InterruptionCritical}},
		"content-available": {APNs: push.APNsOptions{ContentAvailable: true}},
		"mutable-content":   {APNs: push.APNsOptions{MutableContent: true}},
		"mutable and image": {APNs: push.APNsOptions{MutableContent: true}, Notification: push.Notification{Image: "https://x.example/i.png"}},
		"link":              {Link: "app://deep/link"},
		"message id":        {MessageID: "m-1", Data: map[string]string{"a": "1"}},
		"data":              {Data: map[string]string{"k": "v"}},
		"data, many keys":   {Data: map[string]string{"z": "26", "a": "1", "m": "", "long key name": strings.Repeat("v", 300)}},
		"every option": {
			Notification: push.Notification{Title: "T", Subtitle: "S", Body: "B", Badge: new(3), Sound: "default", Image: "https://x.example/i.png"},
			Data:         map[string]string{"z": "26", "a": "1"},
			Link:         "app://deep/link",
			APNs:         push.APNsOptions{PushType: push.APNsAlert, ThreadID: "th", InterruptionLevel: push.InterruptionTimeSensitive, ContentAvailable: true, MutableContent: true},
			Priority:     push.PriorityHigh, CollapseKey: "c", TTLSeconds: new(60), MessageID: "m-1",
		},
	}
	for name, s := range tricky {
		cases["every string: "+name] = push.Message{
			Notification: push.Notification{Title: s, Subtitle: s, Body: s, Sound: s, Image: s},
			Data:         map[string]string{s: s, "k" + s: s},
			Link:         s,
			APNs:         push.APNsOptions{ThreadID: s, InterruptionLevel: push.InterruptionLevel(s)},
		}
	}
	return cases
}

// TestPayloadSizeMatchesEncoding: push counts the APNs payload without
// this package (so that it validates alone); its count must be the
// encoding's length, byte for byte.
func TestPayloadSizeMatchesEncoding(t *testing.T) {
	t.Parallel()
	for name, m := range sizeCases() {
		b := apns.Payload(&m)
		if got := m.APNsPayloadSize(); got != len(b) {
			t.Errorf("%s: APNsPayloadSize() = %d, the encoding is %d bytes: %s", name, got, len(b), b)
		}
		if !json.Valid(b) {
			t.Errorf("%s: not valid JSON: %s", name, b)
		}
		if got := apns.AppendPayload([]byte("prefix"), &m); string(got) != "prefix"+string(b) {
			t.Errorf("%s: AppendPayload does not append: %s", name, got)
		}
	}
	// Generated strings: every byte class, in many combinations.
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "<", "&",
		"é", "日", "🎉", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x8e"}
	for i := range 2000 {
		var s strings.Builder
		for j := 0; j < i%17; j++ {
			s.WriteString(pieces[(i*31+j*7)%len(pieces)])
		}
		m := push.Message{Notification: push.Notification{Title: s.String(), Body: "b" + s.String()}, Data: map[string]string{"k" + s.String(): s.String()}}
		if got, want := m.APNsPayloadSize(), len(apns.Payload(&m)); got != want {
			t.Fatalf("%q: APNsPayloadSize() = %d, the encoding is %d bytes", s.String(), got, want)
		}
	}
}

// TestPayloadLimit: Validate's limit is on the encoding's length: a
// payload of exactly push.MaxAPNsPayload bytes (the message id included)
// validates, one more byte is TooLarge.
func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	for _, filler := range []string{"a", "é", "\n", "\x01", "\u2028"} {
		m := push.Message{Version: 1, Tenant: "acme", AppID: "app", MessageID: push.NewMessageID(), Tokens: push.Tokens{APNs: []string{strings.Repeat("ab", 32)}},
			Notification: push.Notification{Title: "T"}, Data: map[string]string{"k": ""}}
		for len(apns.Payload(&m))+len(`\u0000`) < push.MaxAPNsPayload { // a filler is at most 6 bytes encoded
			m.Data["k"] += filler
		}
		for len(apns.Payload(&m)) < push.MaxAPNsPayload { // then a byte at a time
			m.Notification.Title += "T"
		}
		if n := len(apns.Payload(&m)); n != push.MaxAPNsPayload {
			t.Fatalf("filler %q: could not build a payload of %d bytes (got %d)", filler, push.MaxAPNsPayload, n)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("filler %q: a payload of exactly %d bytes: %v", filler, push.MaxAPNsPayload, err)
		}
		m.Notification.Title += "T"
		if err := m.Validate(); !push.Is(err, push.TooLarge) {
			t.Errorf("filler %q: a payload of %d bytes: %v, want TooLarge", filler, len(apns.Payload(&m)), err)
		}
	}
}

// TestPayloadCarriesTheMessageID: the message id is a custom top-level
// key (push.MessageIDKey) after link and image and before the data, so an
// app that handles the push itself can drop a repeat.
func TestPayloadCarriesTheMessageID(t *testing.T) {
	m := push.Message{MessageID: "m-1", Notification: push.Notification{Title: "Hi"}, Data: map[string]string{"a": "1"}, Link: "app://x"}
	if got, want := string(apns.Payload(&m)), `{"aps":{"alert":{"title":"Hi"}},"link":"app://x","mobilepush_message_id":"m-1","a":"1"}`; got != want {
		t.Errorf("Payload() =\n%s\nwant\n%s", got, want)
	}
}
