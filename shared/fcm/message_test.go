package fcm_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"mobilepush/shared/fcm"
	"mobilepush/shared/push"
)

func fcmMessage(tokens ...string) *push.Message {
	return &push.Message{Version: 1, Tenant: "acme", AppID: "app1", MessageID: "msg-1", Tokens: push.Tokens{FCM: tokens}}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

// TestTemplateOnTheWire sends mapped messages through Client.Send to
// fcmtest and compares what the fake received, field by field.
func TestTemplateOnTheWire(t *testing.T) {
	t.Parallel()
	srv, _, c := setup(t)
	sentAt := time.Now().Add(-100 * time.Second)
	exp := strconv.FormatInt(sentAt.Unix()+3600, 10)
	// The collapse identity of acme's msg-1 without a collapse_key
	// (push.DeriveCollapseID, pinned by push's tests).
	const derived = "mp1-2-gilhTzfgny8BggUSaKqLKKucg52Y0NXgvUxkeovTs"

	tests := []struct {
		name string
		mut  func(m *push.Message)
		want string // the message as FCM receives it, without "token"
	}{
		{
			name: "every field",
			mut: func(m *push.Message) {
				m.Notification = push.Notification{Title: "Title", Subtitle: "Sub", Body: "Body", Badge: new(7), Sound: "chime", Image: "https://cdn.example.com/i.png"}
				m.Data = map[string]string{"order": "4711"}
				m.Link = "https://shop.example.com/orders/4711"
				m.Priority = push.PriorityHigh
				m.TTLSeconds = new(3600)
				m.CollapseKey = "order-4711"
				m.APNs = push.APNsOptions{ThreadID: "orders", InterruptionLevel: push.InterruptionTimeSensitive}
				m.Android = push.AndroidOptions{ChannelID: "orders", ClickAction: "OPEN_ORDER", Color: "#336699", Icon: "ic_parcel"}
			},
			want: `{
			  "notification": {"title": "Title", "body": "Body", "image": "https://cdn.example.com/i.png"},
			  "data": {"order": "4711", "link": "https://shop.example.com/orders/4711", "mobilepush_message_id": "msg-1"},
			  "android": {"collapse_key": "order-4711", "priority": "high", "ttl": "3500s",
			    "notification": {"channel_id": "orders", "click_action": "OPEN_ORDER", "color": "#336699", "icon": "ic_parcel", "sound": "chime", "tag": "order-4711"}},
			  "apns": {
			    "headers": {"apns-priority": "10", "apns-expiration": "` + exp + `", "apns-collapse-id": "order-4711", "apns-push-type": "alert"},
			    "payload": {"aps": {"alert": {"subtitle": "Sub"}, "badge": 7, "sound": "chime", "thread-id": "orders",
			      "interruption-level": "time-sensitive", "mutable-content": 1}},
			    "fcm_options": {"image": "https://cdn.example.com/i.png"}},
			  "webpush": {"headers": {"Urgency": "high", "TTL": "3500"},
			    "notification": {"title": "Title", "body": "Body", "image": "https://cdn.example.com/i.png", "tag": "order-4711"},
			    "fcm_options": {"link": "https://shop.example.com/orders/4711"}}
			}`,
		},
		{
			name: "app link, normal priority, ttl 0, web icon",
			mut: func(m *push.Message) {
				m.Notification = push.Notification{Body: "b"}
				m.Link = "app://orders/1"
				m.Priority = push.PriorityNormal
				m.TTLSeconds = new(0)
				m.Android.Icon = "https://cdn.example.com/icon.png"
			},
			want: `{
			  "notification": {"body": "b"},
			  "data": {"link": "app://orders/1", "mobilepush_message_id": "msg-1"},
			  "android": {"priority": "normal", "ttl": "0s", "notification": {"icon": "https://cdn.example.com/icon.png", "tag": "` + derived + `"}},
			  "apns": {"headers": {"apns-priority": "5", "apns-expiration": "0", "apns-collapse-id": "` + derived + `", "apns-push-type": "alert"}, "payload": {"aps": {}}},
			  "webpush": {"headers": {"Urgency": "normal", "TTL": "0"},
			    "notification": {"body": "b", "icon": "https://cdn.example.com/icon.png", "tag": "` + derived + `"}}
			}`,
		},
		{
			name: "data-only background message",
			mut: func(m *push.Message) {
				m.Data = map[string]string{"sync": "inbox"}
				m.APNs.ContentAvailable = true
			},
			want: `{
			  "data": {"sync": "inbox", "mobilepush_message_id": "msg-1"},
			  "android": {},
			  "apns": {"headers": {"apns-priority": "5", "apns-collapse-id": "` + derived + `", "apns-push-type": "background"}, "payload": {"aps": {"content-available": 1}}}
			}`,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens := []string{"device-" + strconv.Itoa(i) + "-a", "device-" + strconv.Itoa(i) + "-b"}
			m := fcmMessage(tokens...)
			tt.mut(m)
			if err := m.Validate(); err != nil {
				t.Fatalf("the test message is invalid: %v", err)
			}
			tpl := fcm.NewTemplate(m, sentAt)
			for j, r := range c.Send(context.Background(), tpl.Messages(tokens)) {
				if r.Verdict.Outcome != push.Delivered {
					t.Fatalf("message %d: %+v", j, r.Verdict)
				}
			}
			want := decodeJSON(t, tt.want)
			for _, tok := range tokens {
				got, ok := srv.MessageFor(tok)
				if !ok {
					t.Fatalf("the fake received nothing for %s", tok)
				}
				var raw map[string]any
				if err := got.Decode(&raw); err != nil {
					t.Fatal(err)
				}
				if raw["token"] != tok {
					t.Errorf("token = %v, want %s", raw["token"], tok)
				}
				delete(raw, "token")
				if !reflect.DeepEqual(any(raw), want) {
					b, _ := json.MarshalIndent(raw, "", "  ")
					t.Errorf("received\n%s\nwant\n%s", b, tt.want)
				}
			}
		})
	}
}

func TestTemplateSharesParts(t *testing.T) {
	m := fcmMessage("a", "b")
	m.Notification.Title = "t"
	m.Data = map[string]string{"k": "v"}
	tpl := fcm.NewTemplate(m, time.Time{})
	msgs := tpl.Messages([]string{"a", "b"})
	one := tpl.For("c")
	if msgs[0].Token != "a" || msgs[1].Token != "b" || one.Token != "c" {
		t.Fatalf("tokens %q %q %q", msgs[0].Token, msgs[1].Token, one.Token)
	}
	if msgs[0].Notification != msgs[1].Notification || msgs[0].APNS != one.APNS || msgs[0].Android != one.Android {
		t.Error("the messages do not share the template's parts")
	}
	if reflect.ValueOf(msgs[0].Data).Pointer() != reflect.ValueOf(one.Data).Pointer() {
		t.Error("the messages do not share the data map")
	}
	// A zero sentAt means now: the whole ttl is left.
	m.TTLSeconds = new(600)
	if ttl := fcm.NewTemplate(m, time.Time{}).For("x").Android.TTL; ttl == nil || *ttl != 600*time.Second {
		t.Errorf("ttl = %v, want 10m", ttl)
	}
	// An expired message has no time left, never a negative ttl.
	if ttl := fcm.NewTemplate(m, time.Now().Add(-time.Hour)).For("x").Android.TTL; ttl == nil || *ttl != 0 {
		t.Errorf("ttl = %v, want 0", ttl)
	}
}

// BenchmarkTemplate shows the cost of building the messages of a 1000-token
// message once per message versus per token.
func BenchmarkTemplate(b *testing.B) {
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = "registration-token-" + strconv.Itoa(i)
	}
	m := fcmMessage(tokens...)
	m.Notification = push.Notification{Title: "Your order shipped", Subtitle: "Order 4711", Body: "It arrives on Tuesday.", Badge: new(1), Sound: "default"}
	m.Data = map[string]string{"order": "4711", "carrier": "ups"}
	m.Link = "app://orders/4711"
	m.TTLSeconds = new(3600)
	b.Run("once-per-message", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = fcm.NewTemplate(m, time.Time{}).Messages(tokens)
		}
	})
	b.Run("per-token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, tok := range tokens {
				_ = fcm.NewTemplate(m, time.Time{}).For(tok)
			}
		}
	})
}
