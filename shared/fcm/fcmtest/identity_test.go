package fcmtest

import (
	"encoding/json"
	"testing"
)

func TestSentOf(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Sent
	}{
		{"every identity", `{"token":"t1","data":{"mobilepush_message_id":"m-1","k":"v"},
			"android":{"collapse_key":"ck","notification":{"tag":"mp1-x"}},
			"apns":{"headers":{"apns-collapse-id":"mp1-x","apns-priority":"10"}},
			"webpush":{"notification":{"tag":"mp1-x","title":"Hi"}}}`,
			Sent{Token: "t1", AndroidTag: "mp1-x", CollapseKey: "ck", APNsCollapseID: "mp1-x", WebpushTag: "mp1-x", MessageID: "m-1"}},
		{"data only", `{"token":"t1","data":{"mobilepush_message_id":"m-1"},"android":{"priority":"high"}}`,
			Sent{Token: "t1", MessageID: "m-1"}},
		{"none", `{"token":"t1"}`, Sent{Token: "t1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sentOf("t1", json.RawMessage(tt.raw)); got != tt.want {
				t.Errorf("sentOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRecordSentOnlyWhenAsked(t *testing.T) {
	raw := json.RawMessage(`{"token":"t1","android":{"notification":{"tag":"a"}}}`)
	off, on := New(Options{}), New(Options{RecordSent: true})
	off.recordSent("t1", raw)
	on.recordSent("t1", raw)
	on.recordSent("t1", raw)
	if got := off.Sent(); len(got) != 0 {
		t.Errorf("without RecordSent: %v", got)
	}
	if got := on.Sent(); len(got) != 2 || got[1].AndroidTag != "a" {
		t.Errorf("with RecordSent: %+v, want the send and its repeat", got)
	}
}
