package push

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCollapseID pins the identity: a change to the derivation would
// make a resend after an upgrade show beside its first push. The golden
// value was computed outside Go (SHA-256 of the length-prefixed tenant
// and message id, base64url without padding).
func TestCollapseID(t *testing.T) {
	long := strings.Repeat("k", MaxCollapseKey)
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"collapse_key wins", Message{Tenant: "acme", MessageID: "m-1", CollapseKey: "order-4711"}, "order-4711"},
		{"collapse_key of the full length", Message{Tenant: "acme", MessageID: "m-1", CollapseKey: long}, long},
		{"derived", Message{Tenant: "acme", MessageID: "m-1"}, "mp1-uu8LR1jhijyXoVGnKf1a__cg_MHKi4lIcUjSjyf9KT4"},
		{"tenant and id are not run together", Message{Tenant: "acm", MessageID: "em-1"}, "mp1-3diamOS9i_KwDFbx9KsT7QdZo-Hc4pvGy6Yjj0FjH18"},
		{"no message id", Message{Tenant: "acme"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.CollapseID(); got != tt.want {
				t.Errorf("CollapseID() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCollapseIDFits: the longest tenant and message id still give an
// identity within Apple's limit, and distinct messages distinct ones.
func TestCollapseIDFits(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range []Message{
		{Tenant: strings.Repeat("\u00e9", MaxTenant/2), MessageID: strings.Repeat("z", MaxMessageID)},
		{Tenant: "t", MessageID: "a"}, {Tenant: "t", MessageID: "b"}, {Tenant: "u", MessageID: "a"},
	} {
		id := m.CollapseID()
		if len(id) > MaxCollapseKey || len(id) == 0 {
			t.Errorf("CollapseID() = %q: %d bytes, want 1 to %d", id, len(id), MaxCollapseKey)
		}
		if seen[id] {
			t.Errorf("CollapseID() = %q for two messages", id)
		}
		seen[id] = true
	}
}

// TestCollapseIDAcrossProcesses derives the identity in a fresh process
// (this test binary re-executed) and wants the same value: nothing of a
// process (a random seed, a map order) goes into it.
func TestCollapseIDAcrossProcesses(t *testing.T) {
	const env = "PUSH_COLLAPSE_CHILD"
	m := Message{Tenant: "acme", MessageID: NewMessageID()}
	if os.Getenv(env) != "" {
		m.MessageID = os.Getenv(env)
		os.Stdout.WriteString("collapse=" + m.CollapseID() + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestCollapseIDAcrossProcesses$")
	cmd.Env = append(os.Environ(), env+"="+m.MessageID)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "collapse=" + m.CollapseID() + "\n"; !strings.Contains(string(out), want) {
		t.Errorf("child printed %q, want a line %q", out, want)
	}
}

// TestPayloadSizesCountTheMessageID: the message id is sent in the APNs
// payload and the FCM data under MessageIDKey (shared/apns and shared/fcm
// test their encodings against these counts byte for byte), so the sizes
// count it.
func TestPayloadSizesCountTheMessageID(t *testing.T) {
	m := Message{MessageID: "m-1", Notification: Notification{Title: "Hi"}, Data: map[string]string{"a": "1"}, Link: "app://x"}
	if got, want := m.APNsPayloadSize(), len(`{"aps":{"alert":{"title":"Hi"}},"link":"app://x","mobilepush_message_id":"m-1","a":"1"}`); got != want {
		t.Errorf("APNsPayloadSize() = %d, want %d", got, want)
	}
	if got, want := m.FCMPayloadSize(), len("Hi")+len("a1")+len("linkapp://x")+len(MessageIDKey+"m-1"); got != want {
		t.Errorf("FCMPayloadSize() = %d, want %d (data, link, the message id and the title)", got, want)
	}
}

// TestValidateSizesCountTheMessageIDToCome: a message accepted without
// an id gets one of NewMessageID's length before it is sent, so Validate
// measures it with one: a payload that fits only without the id is
// refused, and one Validate accepts still fits once the id is set.
func TestValidateSizesCountTheMessageIDToCome(t *testing.T) {
	for _, p := range []Platform{APNs, FCM} {
		t.Run(string(p), func(t *testing.T) {
			m := validMessage()
			size := (*Message).APNsPayloadSize
			limit := MaxAPNsPayload
			if p == FCM {
				m.Tokens.APNs = nil
				size, limit = (*Message).FCMPayloadSize, MaxFCMPayload
			} else {
				m.Tokens.FCM = nil
			}
			// Fill the payload to exactly the limit with a generated id.
			withID := *m
			withID.MessageID = NewMessageID()
			m.Data = map[string]string{"k": strings.Repeat("x", limit-size(&withID)-len(`,"k":""`)*btoi(p == APNs)-len("k")*btoi(p == FCM))}
			withID.Data = m.Data
			if got := size(&withID); got != limit {
				t.Fatalf("set-up: payload with an id is %d bytes, want %d", got, limit)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("at the limit once the id is set: %v", err)
			}
			m.Data["k"] += "x"
			if err := m.Validate(); KindOf(err) != TooLarge {
				t.Errorf("one byte over once the id is set: %v, want TooLarge", err)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
