package fcm_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/fcm"
	"mobilepush/shared/push"
)

func TestData(t *testing.T) {
	m := push.Message{Data: map[string]string{"a": "1"}, Link: "app://x"}
	d := fcm.Data(&m)
	if len(d) != 2 || d["a"] != "1" || d["link"] != "app://x" {
		t.Errorf("Data() = %v", d)
	}
	d["b"] = "2"
	if _, ok := m.Data["b"]; ok {
		t.Error("Data shares the message's map")
	}
	if fcm.Data(&push.Message{}) != nil {
		t.Error("empty message: Data() != nil")
	}
}

// mappedSize is what FCM counts against its payload limit in the message
// the template maps m to: the data's keys and values and the
// notification's title, body and image.
func mappedSize(m *push.Message) int {
	msg := fcm.NewTemplate(m, time.Time{}).For("tok")
	n := 0
	for k, v := range msg.Data {
		n += len(k) + len(v)
	}
	if msg.Notification != nil {
		n += len(msg.Notification.Title) + len(msg.Notification.Body) + len(msg.Notification.ImageURL)
	}
	return n
}

// TestPayloadSizeMatchesMapping: push counts the FCM payload without this
// package (so that it validates alone); its count must be what this
// package's mapping carries.
func TestPayloadSizeMatchesMapping(t *testing.T) {
	t.Parallel()
	uni := "ünïcødé 日本語 🎉 \"q\" \\ \n\x01\u2028"
	cases := map[string]push.Message{
		"empty":         {},
		"title":         {Notification: push.Notification{Title: "T"}},
		"body":          {Notification: push.Notification{Body: "B"}},
		"image":         {Notification: push.Notification{Image: "https://x.example/i.png"}},
		"not counted":   {Notification: push.Notification{Subtitle: "S", Sound: "default", Badge: new(3)}, APNs: push.APNsOptions{ThreadID: "th"}, Android: push.AndroidOptions{ChannelID: "c", Icon: "i"}},
		"link":          {Link: "app://deep/link"},
		"data":          {Data: map[string]string{"k": "v", "empty": ""}},
		"data and link": {Data: map[string]string{"a": "1"}, Link: "https://x.example/p"},
		"message id":    {MessageID: "m-1", Notification: push.Notification{Title: "T"}},
		"unicode": {Notification: push.Notification{Title: uni, Body: uni, Image: "https://x.example/" + uni},
			Data: map[string]string{uni: uni}, Link: "app://" + uni},
		"every option": {
			Notification: push.Notification{Title: "T", Subtitle: "S", Body: "B", Badge: new(0), Sound: "s", Image: "https://x.example/i.png"},
			Data:         map[string]string{"z": "26", "a": "1"}, Link: "app://l", Priority: push.PriorityNormal, TTLSeconds: new(0), CollapseKey: "c",
			APNs:    push.APNsOptions{ThreadID: "th", InterruptionLevel: push.InterruptionPassive, MutableContent: true},
			Android: push.AndroidOptions{ChannelID: "ch", ClickAction: "OPEN", Color: "#ff0000", Icon: "https://x.example/icon.png"},
		},
	}
	for name, m := range cases {
		if got, want := m.FCMPayloadSize(), mappedSize(&m); got != want {
			t.Errorf("%s: FCMPayloadSize() = %d, the mapping carries %d bytes", name, got, want)
		}
	}
}

// TestPayloadLimit: a payload of exactly push.MaxFCMPayload bytes of the
// mapping (the message id included) validates; one more byte is TooLarge.
func TestPayloadLimit(t *testing.T) {
	t.Parallel()
	m := push.Message{Version: 1, Tenant: "acme", AppID: "app", MessageID: push.NewMessageID(), Tokens: push.Tokens{FCM: []string{"tok"}},
		Notification: push.Notification{Title: "T"}, Link: "app://x", Data: map[string]string{"k": ""}}
	m.Data["k"] = strings.Repeat("é", (push.MaxFCMPayload-mappedSize(&m))/2)
	for mappedSize(&m) < push.MaxFCMPayload {
		m.Notification.Title += "T"
	}
	if err := m.Validate(); err != nil || mappedSize(&m) != push.MaxFCMPayload {
		t.Errorf("a mapping of %d bytes: %v, want valid at %d", mappedSize(&m), err, push.MaxFCMPayload)
	}
	m.Notification.Body = "B"
	if err := m.Validate(); !push.Is(err, push.TooLarge) {
		t.Errorf("a mapping of %d bytes: %v, want TooLarge", mappedSize(&m), err)
	}
}

// TestDataCarriesTheMessageID: the FCM data holds the message id under
// push.MessageIDKey beside the data and link, also when there is no
// other data.
func TestDataCarriesTheMessageID(t *testing.T) {
	tests := []struct {
		name string
		m    push.Message
		want map[string]string
	}{
		{"with data", push.Message{MessageID: "m-1", Data: map[string]string{"a": "1"}, Link: "app://x"}, map[string]string{"a": "1", "link": "app://x", push.MessageIDKey: "m-1"}},
		{"id only", push.Message{MessageID: "m-1", Notification: push.Notification{Title: "Hi"}}, map[string]string{push.MessageIDKey: "m-1"}},
		{"no id", push.Message{Notification: push.Notification{Title: "Hi"}}, nil},
	}
	for _, tt := range tests {
		if got := fcm.Data(&tt.m); !maps.Equal(got, tt.want) {
			t.Errorf("%s: Data() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
