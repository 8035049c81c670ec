package apns_test

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// sentAt is a fixed enqueue time, so apns-expiration is exact.
var sentAt = time.Unix(1_800_000_000, 0)

func baseMessage() *push.Message {
	return &push.Message{
		Version: 1, Tenant: "acme", AppID: "app1", MessageID: "msg-1",
		Tokens: push.Tokens{APNs: []string{devTok}},
	}
}

// received is what the fake saw, reduced to what the mapping decides.
type received struct {
	Topic, PushType, Priority, Expiration, CollapseID, ID string
	Payload                                               any
}

func receivedOf(t *testing.T, r apnstest.Request) received {
	t.Helper()
	var p any
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		t.Fatalf("payload %s: %v", r.Payload, err)
	}
	return received{Topic: r.Topic, PushType: r.PushType, Priority: r.Priority, Expiration: r.Expiration, CollapseID: r.CollapseID, ID: r.ID, Payload: p}
}

func jsonValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("want %s: %v", s, err)
	}
	return v
}

func TestTemplateOnTheWire(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{BundleID: bundle}) // topics: bundle, .voip, .complication
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	c := newClient(t, config(s), certAuth(t, id), push.Production)
	wantID := apns.NotificationID("msg-1", devTok)
	// The collapse identity of acme's msg-1 without a collapse_key
	// (push.DeriveCollapseID, pinned by push's tests).
	const derived = "mp1-2-gilhTzfgny8BggUSaKqLKKucg52Y0NXgvUxkeovTs"

	tests := []struct {
		name    string
		mut     func(m *push.Message)
		want    received
		payload string
	}{
		{
			name: "alert with every field",
			mut: func(m *push.Message) {
				m.Notification = push.Notification{Title: "Title", Subtitle: "Sub", Body: "Body", Badge: new(7), Sound: "chime.caf", Image: "https://cdn.example.com/i.png"}
				m.Data = map[string]string{"order": "4711", "kind": "shipping"}
				m.Link = "app://orders/4711"
				m.Priority = push.PriorityHigh
				m.TTLSeconds = new(3600)
				m.CollapseKey = "order-4711"
				m.APNs = push.APNsOptions{ThreadID: "orders", InterruptionLevel: push.InterruptionTimeSensitive}
			},
			want: received{Topic: bundle, PushType: "alert", Priority: "10", Expiration: "1800003600", CollapseID: "order-4711", ID: wantID},
			payload: `{"aps":{"alert":{"title":"Title","subtitle":"Sub","body":"Body"},"badge":7,"sound":"chime.caf",
				"thread-id":"orders","interruption-level":"time-sensitive","mutable-content":1},
				"link":"app://orders/4711","image":"https://cdn.example.com/i.png","mobilepush_message_id":"msg-1","order":"4711","kind":"shipping"}`,
		},
		{
			name: "normal priority, ttl 0 is now or never",
			mut: func(m *push.Message) {
				m.Notification = push.Notification{Body: "b"}
				m.Priority = push.PriorityNormal
				m.TTLSeconds = new(0)
			},
			want:    received{Topic: bundle, PushType: "alert", Priority: "5", Expiration: "0", CollapseID: derived, ID: wantID},
			payload: `{"aps":{"alert":{"body":"b"}},"mobilepush_message_id":"msg-1"}`,
		},
		{
			name: "background push",
			mut: func(m *push.Message) {
				m.APNs.ContentAvailable = true
				m.Data = map[string]string{"sync": "inbox"}
			},
			want:    received{Topic: bundle, PushType: "background", Priority: "5", CollapseID: derived, ID: wantID},
			payload: `{"aps":{"content-available":1},"mobilepush_message_id":"msg-1","sync":"inbox"}`,
		},
		{
			name: "voip topic",
			mut: func(m *push.Message) {
				m.APNs.PushType = push.APNsVoIP
				m.Data = map[string]string{"call": "c1"}
			},
			want:    received{Topic: bundle + ".voip", PushType: "voip", Priority: "10", CollapseID: derived, ID: wantID},
			payload: `{"aps":{},"mobilepush_message_id":"msg-1","call":"c1"}`,
		},
		{
			name: "complication topic, mutable content, badge 0",
			mut: func(m *push.Message) {
				m.APNs = push.APNsOptions{PushType: push.APNsComplication, MutableContent: true}
				m.Notification.Badge = new(0)
			},
			want:    received{Topic: bundle + ".complication", PushType: "complication", Priority: "10", CollapseID: derived, ID: wantID},
			payload: `{"aps":{"badge":0,"mutable-content":1},"mobilepush_message_id":"msg-1"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := baseMessage()
			tt.mut(m)
			if err := m.Validate(); err != nil {
				t.Fatalf("the test message is invalid: %v", err)
			}
			tpl, err := apns.NewTemplate(m, bundle, sentAt)
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Push(context.Background(), tpl.For(devTok))
			if err != nil || r.Status != 200 {
				t.Fatalf("Push = %+v, %v", r, err)
			}
			last, ok := s.LastFor(devTok)
			if !ok {
				t.Fatal("the fake received nothing")
			}
			got := receivedOf(t, last)
			tt.want.Payload = jsonValue(t, tt.payload)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("received\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestTemplateSharesThePayload(t *testing.T) {
	m := baseMessage()
	m.Notification.Title = "t"
	tpl, err := apns.NewTemplate(m, bundle, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("b", 64)
	a, b := tpl.For(devTok), tpl.For(other)
	if &a.Payload[0] != &b.Payload[0] || &a.Payload[0] != &tpl.Payload()[0] {
		t.Error("For copies the payload; it must share the one marshaled by NewTemplate")
	}
	if a.DeviceToken != devTok || b.DeviceToken != other || a.ID == b.ID {
		t.Errorf("per-device fields: %+v / %+v", a, b)
	}
	// Without a message id Apple chooses the apns-id.
	m.MessageID = ""
	tpl, _ = apns.NewTemplate(m, bundle, time.Time{})
	if n := tpl.For(devTok); n.ID != "" {
		t.Errorf("ID = %q without a message id", n.ID)
	}
	// A zero sentAt means now.
	m.TTLSeconds = new(60)
	tpl, _ = apns.NewTemplate(m, bundle, time.Time{})
	if exp := tpl.For(devTok).Expiration; exp.Before(time.Now().Add(58*time.Second)) || exp.After(time.Now().Add(61*time.Second)) {
		t.Errorf("Expiration = %v, want about a minute from now", exp)
	}
}

func TestNewTemplateRefuses(t *testing.T) {
	big := baseMessage()
	big.Data = map[string]string{"k": strings.Repeat("x", 4100)}
	voip := baseMessage()
	voip.APNs.PushType = push.APNsVoIP
	voip.Data = map[string]string{"k": strings.Repeat("x", 5000)}
	voipBig := baseMessage()
	voipBig.APNs.PushType = push.APNsVoIP
	voipBig.Data = map[string]string{"k": strings.Repeat("x", 5200)}
	tests := []struct {
		name   string
		m      *push.Message
		bundle string
		want   push.Kind // Other = accepted
	}{
		{"no bundle id", baseMessage(), "", push.Invalid},
		{"payload over 4096", big, bundle, push.TooLarge},
		{"voip allows 5120", voip, bundle, push.Other},
		{"voip over 5120", voipBig, bundle, push.TooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := apns.NewTemplate(tt.m, tt.bundle, sentAt)
			if got := push.KindOf(err); got != tt.want {
				t.Errorf("NewTemplate error %v, kind %v; want %v", err, got, tt.want)
			}
		})
	}
}

func TestTopic(t *testing.T) {
	tests := []struct {
		pt   push.APNsType
		want string
	}{
		{"", bundle},
		{push.APNsAlert, bundle},
		{push.APNsBackground, bundle},
		{push.APNsMDM, bundle},
		{push.APNsVoIP, bundle + ".voip"},
		{push.APNsComplication, bundle + ".complication"},
		{push.APNsFileProvider, bundle + ".pushkit.fileprovider"},
		{push.APNsLocation, bundle + ".location-query"},
		{push.APNsLiveActivity, bundle + ".push-type.liveactivity"},
		{push.APNsPushToTalk, bundle + ".voip-ptt"},
		{push.APNsWidgets, bundle + ".push-type.widgets"},
		{push.APNsControls, bundle + ".push-type.controls"},
	}
	for _, tt := range tests {
		if got := apns.Topic(bundle, tt.pt); got != tt.want {
			t.Errorf("Topic(%q) = %q, want %q", tt.pt, got, tt.want)
		}
	}
	if got := apns.Topic(bundle+".voip", push.APNsVoIP); got != bundle+".voip" {
		t.Errorf("a suffixed bundle id is suffixed again: %q", got)
	}
}

func TestNotificationID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a := apns.NotificationID("m1", devTok)
	if !uuid.MatchString(a) {
		t.Errorf("NotificationID = %q, not a version 8 UUID", a)
	}
	if b := apns.NotificationID("m1", strings.ToUpper(devTok)); b != a {
		t.Error("the id depends on the token's case")
	}
	if b := apns.NotificationID("m2", devTok); b == a {
		t.Error("two messages share an id")
	}
	if b := apns.NotificationID("m1", strings.Repeat("c", 64)); b == a {
		t.Error("two devices share an id")
	}
}

// BenchmarkPayload compares marshaling the payload once per message (a
// Template, as the sender does) with marshaling it for every token, for a
// message to 1000 devices.
func BenchmarkPayload(b *testing.B) {
	m := baseMessage()
	m.Notification = push.Notification{Title: "Your order shipped", Subtitle: "Order 4711", Body: "It arrives on Tuesday.", Badge: new(1), Sound: "default", Image: "https://cdn.example.com/parcel.png"}
	m.Data = map[string]string{"order": "4711", "carrier": "ups", "eta": "2026-12-01"}
	m.Link = "app://orders/4711"
	m.TTLSeconds = new(3600)
	tokens := make([]string, 1000)
	for i := range tokens {
		tokens[i] = strings.Repeat("0", 60) + string(rune('a'+i%26)) + "bcd"
	}
	var sink apns.Notification
	b.Run("once-per-message", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tpl, err := apns.NewTemplate(m, bundle, sentAt)
			if err != nil {
				b.Fatal(err)
			}
			for _, tok := range tokens {
				sink = tpl.For(tok)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tokens)), "ns/token")
	})
	b.Run("per-token", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, tok := range tokens {
				tpl, err := apns.NewTemplate(m, bundle, sentAt)
				if err != nil {
					b.Fatal(err)
				}
				sink = tpl.For(tok)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tokens)), "ns/token")
	})
	b.Run("per-token-encoding-json", func(b *testing.B) {
		// What a straightforward sender does: json.Marshal of a map per device.
		b.ReportAllocs()
		for b.Loop() {
			for _, tok := range tokens {
				p := map[string]any{
					"aps": map[string]any{
						"alert": map[string]string{"title": m.Notification.Title, "subtitle": m.Notification.Subtitle, "body": m.Notification.Body},
						"badge": *m.Notification.Badge, "sound": m.Notification.Sound, "mutable-content": 1,
					},
					"link": m.Link, "image": m.Notification.Image,
				}
				for k, v := range m.Data {
					p[k] = v
				}
				payload, err := json.Marshal(p)
				if err != nil {
					b.Fatal(err)
				}
				sink = apns.Notification{DeviceToken: tok, Payload: payload}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tokens)), "ns/token")
	})
	_ = sink
}
