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
