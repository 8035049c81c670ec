package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	apnsTok = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	fcmTok  = "fcm-token-1:APA91bExample"
)

func validMessage() *Message {
	return &Message{
		Version: 1, Tenant: "acme", AppID: "app_1",
		Tokens:       Tokens{APNs: []string{apnsTok}, FCM: []string{fcmTok}},
		Notification: Notification{Title: "Hi", Body: "there"},
	}
}

func apnsTokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%064x", i)
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		mut      func(m *Message)
		wantKind Kind   // Other = valid
		wantText string // substring of the error
	}{
		{"valid", func(*Message) {}, Other, ""},
		{"version 0", func(m *Message) { m.Version = 0 }, Invalid, "version: 0 is not supported, want 1"},
		{"version 2", func(m *Message) { m.Version = 2 }, Invalid, "version: 2"},
		{"no tenant", func(m *Message) { m.Tenant = "" }, Invalid, "tenant: required"},
		{"long tenant", func(m *Message) { m.Tenant = strings.Repeat("t", MaxTenant+1) }, Invalid, "tenant: must be 1-256 bytes"},
		{"control in tenant", func(m *Message) { m.Tenant = "a\nb" }, Invalid, "tenant: must not contain control"},
		{"no app id", func(m *Message) { m.AppID = "" }, Invalid, "app_id: required"},
		{"bad app id", func(m *Message) { m.AppID = "a/b" }, Invalid, "app_id: must be 1-64"},
		{"bad message id", func(m *Message) { m.MessageID = "has space" }, Invalid, "message_id: must be 1-80"},
		{"long message id", func(m *Message) { m.MessageID = strings.Repeat("m", MaxMessageID+1) }, Invalid, "message_id"},
		{"max message id", func(m *Message) { m.MessageID = strings.Repeat("m", MaxMessageID) }, Other, ""},
		{"no tokens", func(m *Message) { m.Tokens = Tokens{} }, Invalid, "tokens: at least one"},
		{"1000 tokens", func(m *Message) { m.Tokens = Tokens{APNs: apnsTokens(999), FCM: []string{fcmTok}} }, Other, ""},
		{"1001 tokens", func(m *Message) { m.Tokens = Tokens{APNs: apnsTokens(1000), FCM: []string{fcmTok}} }, TooLarge, "tokens: 1001 tokens, at most 1000"},
		{"short apns token", func(m *Message) { m.Tokens.APNs = []string{"abcd"} }, Invalid, "tokens.apns[0]: not an APNs device token (64-200 hex"},
		{"non-hex apns token", func(m *Message) { m.Tokens.APNs = []string{strings.Repeat("g", 64)} }, Invalid, "tokens.apns[0]"},
		{"odd apns token", func(m *Message) { m.Tokens.APNs = []string{strings.Repeat("a", 65)} }, Invalid, "tokens.apns[0]"},
		{"upper-case apns token", func(m *Message) { m.Tokens.APNs = []string{strings.ToUpper(apnsTok)} }, Other, ""},
		{"duplicate apns token", func(m *Message) { m.Tokens.APNs = []string{apnsTok, strings.ToUpper(apnsTok)} }, Invalid, "tokens.apns[1]: the same token as tokens.apns[0]"},
		{"empty fcm token", func(m *Message) { m.Tokens.FCM = []string{fcmTok, ""} }, Invalid, "tokens.fcm[1]: empty"},
		{"fcm token with space", func(m *Message) { m.Tokens.FCM = []string{"a b"} }, Invalid, "tokens.fcm[0]: contains white space"},
		{"duplicate fcm token", func(m *Message) { m.Tokens.FCM = []string{fcmTok, fcmTok} }, Invalid, "tokens.fcm[1]: the same token as tokens.fcm[0]"},
		{"negative badge", func(m *Message) { m.Notification.Badge = new(-1) }, Invalid, "notification.badge"},
		{"badge 0", func(m *Message) { m.Notification.Badge = new(0) }, Other, ""},
		{"relative image", func(m *Message) { m.Notification.Image = "/img.png" }, Invalid, "notification.image: must be an absolute http or https URL"},
		{"reserved data key", func(m *Message) { m.Data = map[string]string{"link": "x"} }, Invalid, `data: key "link" is reserved`},
		{"google data key", func(m *Message) { m.Data = map[string]string{"google.x": "x"} }, Invalid, `data: key "google.x" is reserved`},
		{"message id data key", func(m *Message) { m.Data = map[string]string{MessageIDKey: "x"} }, Invalid, `data: key "mobilepush_message_id" is reserved`},
		{"empty data key", func(m *Message) { m.Data = map[string]string{"": "x"} }, Invalid, "data: empty key"},
		{"relative link", func(m *Message) { m.Link = "orders/1" }, Invalid, "link: must be an absolute URL"},
		{"bad priority", func(m *Message) { m.Priority = "urgent" }, Invalid, `priority: "urgent", want "high" or "normal"`},
		{"ttl 0", func(m *Message) { m.TTLSeconds = new(0) }, Other, ""},
		{"ttl max", func(m *Message) { m.TTLSeconds = new(MaxTTLSeconds) }, Other, ""},
		{"ttl over", func(m *Message) { m.TTLSeconds = new(MaxTTLSeconds + 1) }, Invalid, "ttl_seconds: 2419201, want 0 to 2419200"},
		{"ttl negative", func(m *Message) { m.TTLSeconds = new(-1) }, Invalid, "ttl_seconds"},
		{"collapse key 64", func(m *Message) { m.CollapseKey = strings.Repeat("c", 64) }, Other, ""},
		{"collapse key 65", func(m *Message) { m.CollapseKey = strings.Repeat("c", 65) }, TooLarge, "collapse_key: 65 bytes, at most 64"},
		{"collapse key with a line break", func(m *Message) { m.CollapseKey = "a\r\nx-evil: 1" }, Invalid, "collapse_key: must not contain control characters"},
		{"collapse key with NUL", func(m *Message) { m.CollapseKey = "a\x00b" }, Invalid, "collapse_key: must not contain control characters"},
		{"bad push type", func(m *Message) { m.APNs.PushType = "push" }, Invalid, `apns.push_type: "push" is not an APNs push type`},
		{"bad interruption level", func(m *Message) { m.APNs.InterruptionLevel = "loud" }, Invalid, "apns.interruption_level"},
		{"background without content-available", func(m *Message) {
			m.Notification = Notification{}
			m.Data = map[string]string{"k": "v"}
			m.APNs.PushType = APNsBackground
		}, Invalid, "background needs apns.content_available"},
		{"background with alert", func(m *Message) {
			m.APNs = APNsOptions{PushType: APNsBackground, ContentAvailable: true}
		}, Invalid, "a background push carries no title"},
		{"background high", func(m *Message) {
			m.Notification = Notification{}
			m.APNs = APNsOptions{PushType: APNsBackground, ContentAvailable: true}
			m.Priority = PriorityHigh
		}, Invalid, "priority: a background push must be normal"},
		{"bad color", func(m *Message) { m.Android.Color = "red" }, Invalid, `android.color: "red", want #RRGGBB`},
		{"nothing to send", func(m *Message) { m.Notification = Notification{} }, Invalid, "nothing to send"},
		{"data only", func(m *Message) { m.Notification = Notification{}; m.Data = map[string]string{"k": "v"} }, Other, ""},
		{"apns payload over", func(m *Message) {
			m.Tokens.FCM = nil
			m.Data = map[string]string{"k": strings.Repeat("x", 4100)}
		}, TooLarge, "the APNs payload is 4217 bytes, at most 4096 (notification, data, link and mobilepush_message_id)"},
		{"fcm payload over", func(m *Message) {
			m.Tokens.APNs = nil
			m.Data = map[string]string{"k": strings.Repeat("x", 4100)}
		}, TooLarge, "the FCM payload is 41"},
		{"fcm payload counts the link", func(m *Message) {
			m.Tokens.APNs = nil
			m.Notification = Notification{Title: strings.Repeat("t", 4000)}
			m.Link = "app://" + strings.Repeat("l", 100)
		}, TooLarge, "at most 4096 (data, link and notification title, body, image)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMessage()
			tt.mut(m)
			err := m.Validate()
			if tt.wantKind == Other {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %v %q", tt.wantKind, tt.wantText)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Validate() = %T, want *push.Error", err)
			}
			if got := KindOf(err); got != tt.wantKind {
				t.Errorf("kind = %v, want %v (%v)", got, tt.wantKind, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			for _, tok := range append(m.Tokens.APNs, m.Tokens.FCM...) {
				if len(tok) > 8 && strings.Contains(err.Error(), tok) {
					t.Errorf("error quotes a device token: %v", err)
				}
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	if _, ok := (&Message{}).Expiry(at); ok {
		t.Error("no ttl: ok = true")
	}
	got, ok := (&Message{TTLSeconds: new(3600)}).Expiry(at)
	if !ok || !got.Equal(at.Add(time.Hour)) {
		t.Errorf("Expiry = %v, %v", got, ok)
	}
}

func TestFCMPayloadSize(t *testing.T) {
	m := Message{Data: map[string]string{"a": "1"}, Link: "app://x"}
	if got, want := m.FCMPayloadSize(), len("a1")+len("link")+len("app://x"); got != want {
		t.Errorf("FCMPayloadSize() = %d, want %d", got, want)
	}
}

func TestDecodeMessage(t *testing.T) {
	valid := `{"version":1,"tenant":"acme","app_id":"a1","tokens":{"fcm":["t1"]},"notification":{"title":"Hi","badge":0},"ttl_seconds":0}`
	tests := []struct {
		name     string
		body     string
		wantKind Kind
		wantText string
	}{
		{"valid", valid, Other, ""},
		{"unknown field", strings.Replace(valid, `"tenant"`, `"colour":"red","tenant"`, 1), Invalid, `unknown field "colour"`},
		{"unknown nested field", strings.Replace(valid, `"title":"Hi"`, `"title":"Hi","titel":"x"`, 1), Invalid, `unknown field "titel"`},
		{"trailing data", valid + `{}`, Invalid, "data after the JSON object"},
		{"version 2 with new fields", `{"version":2,"tenant":"acme","future":true}`, Invalid, "version: 2 is not supported"},
		{"version as a string", strings.Replace(valid, `"version":1`, `"version":"1"`, 1), Invalid, `version: "1" is not supported`},
		{"wrong type", strings.Replace(valid, `"badge":0`, `"badge":"0"`, 1), Invalid, "field notification.badge: string is not a int"},
		{"malformed", `{"version":1,`, Invalid, "truncated JSON"},
		{"not an object", `[1]`, Invalid, "message"},
		{"too large", `{"version":1,"tenant":"` + strings.Repeat("x", MaxMessageDecode) + `"}`, TooLarge, "at most 1048576"},
		{"invalid content", strings.Replace(valid, `"app_id":"a1"`, `"app_id":""`, 1), Invalid, "app_id: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMessage([]byte(tt.body))
			if tt.wantKind == Other {
				if err != nil {
					t.Fatalf("DecodeMessage: %v", err)
				}
				if m.Notification.Badge == nil || *m.Notification.Badge != 0 || m.TTLSeconds == nil || *m.TTLSeconds != 0 {
					t.Errorf("explicit zeros lost: %+v", m)
				}
				return
			}
			if err == nil {
				t.Fatal("DecodeMessage = nil error")
			}
			if got := KindOf(err); got != tt.wantKind {
				t.Errorf("kind = %v, want %v (%v)", got, tt.wantKind, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
		})
	}
}

func TestMessageJSONRoundTrip(t *testing.T) {
	m := validMessage()
	m.MessageID = "m-1"
	m.Notification.Badge = new(0)
	m.TTLSeconds = new(0)
	m.APNs.ContentAvailable = true
	m.Android.Color = "#aabbcc"
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMessage(b)
	if err != nil {
		t.Fatalf("DecodeMessage(%s): %v", b, err)
	}
	again, _ := json.Marshal(got)
	if string(again) != string(b) {
		t.Errorf("round trip:\n%s\n%s", b, again)
	}
	// Zero sections are left out of the JSON.
	b, _ = json.Marshal(&Message{Version: 1})
	if want := `{"version":1,"tenant":"","app_id":"","tokens":{}}`; string(b) != want {
		t.Errorf("zero message = %s, want %s", b, want)
	}
}

func TestNewMessageID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := NewMessageID()
		if !uuid.MatchString(id) {
			t.Fatalf("NewMessageID() = %q, not a v4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("NewMessageID() repeated %q", id)
		}
		seen[id] = true
		m := validMessage()
		m.MessageID = id
		if err := m.Validate(); err != nil {
			t.Fatalf("a generated id is refused: %v", err)
		}
	}
}
