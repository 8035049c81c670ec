package push_test

import (
	"errors"
	"strings"
	"testing"

	"mobilepush/shared/push"
)

func TestCheckToken(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name    string
		p       push.Platform
		token   string
		ok      bool
		tooLong bool
	}{
		{"apns 64 hex", push.APNs, hex64, true, false},
		{"apns upper case", push.APNs, strings.ToUpper(hex64), true, false},
		{"apns 200 hex", push.APNs, strings.Repeat("a", 200), true, false},
		{"apns 202 hex", push.APNs, strings.Repeat("a", 202), false, false},
		{"apns 62 hex", push.APNs, hex64[:62], false, false},
		{"apns odd length", push.APNs, hex64 + "a", false, false},
		{"apns NUL byte", push.APNs, hex64[:62] + "\x00a", false, false},
		{"apns path steering", push.APNs, hex64[:60] + "/../", false, false},
		{"fcm registration token", push.FCM, "dK3x_Yz:APA91bH-abc123", true, false},
		{"fcm empty", push.FCM, "", false, false},
		{"fcm NUL byte", push.FCM, "abc\x00def", false, false},
		{"fcm line break", push.FCM, "abc\r\ndef", false, false},
		{"fcm slash", push.FCM, "abc/def", false, false},
		{"fcm quote", push.FCM, `abc"def`, false, false},
		{"fcm not ASCII", push.FCM, "ab\u00e9", false, false},
		{"fcm at the limit", push.FCM, strings.Repeat("a", push.MaxFCMToken), true, false},
		{"fcm too long", push.FCM, strings.Repeat("a", push.MaxFCMToken+1), false, true},
		{"unknown platform", push.Platform("webpush"), hex64, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := push.CheckToken(tc.p, tc.token)
			if got := err == nil; got != tc.ok {
				t.Fatalf("CheckToken = %v, want ok %v", err, tc.ok)
			}
			if got := errors.Is(err, push.ErrTokenTooLong); got != tc.tooLong {
				t.Errorf("errors.Is(%v, ErrTokenTooLong) = %v, want %v", err, got, tc.tooLong)
			}
			if err != nil && len(tc.token) > 8 && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}

// TestValidateUsesCheckToken: the queue refuses what CheckToken refuses.
func TestValidateUsesCheckToken(t *testing.T) {
	for _, toks := range []push.Tokens{{APNs: []string{strings.Repeat("ab", 31) + "\x00a"}}, {FCM: []string{"abc/def"}}, {FCM: []string{"abc\x00"}}} {
		m := push.Message{Version: 1, Tenant: "acme", AppID: "app1", MessageID: "m1", Tokens: toks, Notification: push.Notification{Title: "x"}}
		if err := m.Validate(); !push.Is(err, push.Invalid) {
			t.Errorf("Validate(%q) = %v, want Invalid", toks, err)
		}
	}
}
