package boltstore

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// TestOutcomeEncodingIsJSON: the hand-written encoders of the ledger
// write exactly the bytes encoding/json writes (stored outcomes stay
// readable, keys stay the same), and fail where it fails.
func TestOutcomeEncodingIsJSON(t *testing.T) {
	at := time.Date(2026, 11, 26, 22, 38, 32, 123456789, time.UTC)
	tests := []struct {
		name string
		o    credential.Outcome
	}{
		{"hex token", credential.Outcome{Platform: push.APNs, Token: "00ab" + string(bytes.Repeat([]byte("f"), 60)), Result: push.Delivered, At: at, ExpiresAt: at.Add(7 * 24 * time.Hour)}},
		{"fcm token and reason", credential.Outcome{Platform: push.FCM, Token: "bench-fcm-token-00000001:APA91b_x-y", Result: push.InvalidToken, Reason: "UNREGISTERED", At: at, ExpiresAt: at}},
		{"characters json escapes", credential.Outcome{Platform: push.FCM, Token: "a\"b\\c<d>e&f\x01g\u2028h\xffi é", Result: push.Rejected, Reason: "tab\there", At: at, ExpiresAt: at}},
		{"zero times", credential.Outcome{Platform: push.APNs, Token: "t", Result: push.Retry}},
		{"whole seconds", credential.Outcome{Platform: push.APNs, Token: "t", Result: push.Retry, At: at.Truncate(time.Second), ExpiresAt: at.Truncate(time.Second)}},
		{"zone offset", credential.Outcome{Platform: push.APNs, Token: "t", Result: push.Retry, At: at.In(time.FixedZone("x", -(5*3600 + 30*60))), ExpiresAt: at.In(time.FixedZone("y", 3600+17))}},
		{"offset of 24 hours", credential.Outcome{Platform: push.APNs, Token: "t", Result: push.Retry, At: at.In(time.FixedZone("z", 24*3600)), ExpiresAt: at}},
		{"year 10000", credential.Outcome{Platform: push.APNs, Token: "t", Result: push.Retry, At: at, ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"year before 0", credential.Outcome{Platform: push.APNs, Token: "t", Result: push.Retry, At: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), ExpiresAt: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := json.Marshal(tt.o)
			got, err := appendOutcome([]byte("prefix"), tt.o)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error = %v, encoding/json: %v", err, wantErr)
			}
			if err == nil && string(got) != "prefix"+string(want) {
				t.Errorf("value\n got %s\nwant prefix%s", got, want)
			}
			if k := appendOutcomeKey([]byte("p"), tt.o.Platform, tt.o.Token); string(k) != "p"+string(key(tt.o.Platform, tt.o.Token)) {
				t.Errorf("key = %s, want p%s", k, key(tt.o.Platform, tt.o.Token))
			}
		})
	}
}
