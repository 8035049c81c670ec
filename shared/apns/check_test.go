package apns_test

import (
	"context"
	"strings"
	"testing"

	"mobilepush/shared/apns"
	"mobilepush/shared/apns/apnstest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// TestPushRefusesWhatTheWireCannotCarry: a push whose device token or
// header values could not be written into a request as they are fails
// alone with Invalid (Rejected, never a retry), nothing reaches the
// gateway, and the next push uses the same connection.
func TestPushRefusesWhatTheWireCannotCarry(t *testing.T) {
	t.Parallel()
	id := apnstest.IssuePush(t, testcred.PushCert{})
	s := apnstest.Start(t, apnstest.ServerConfig{Config: apnstest.Config{ClientCAs: apnstest.TrustAppleWWDR(t)}})
	c := newClient(t, config(s), certAuth(t, id), push.Production)
	ctx := context.Background()
	if r, err := c.Push(ctx, apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload}); err != nil || r.Status != 200 {
		t.Fatalf("first push = %+v, %v", r, err)
	}
	first, _ := s.Last()
	for name, n := range map[string]apns.Notification{
		"NUL in the token":        {DeviceToken: devTok[:62] + "\x00a", Topic: bundle},
		"slash in the token":      {DeviceToken: devTok[:60] + "/../", Topic: bundle},
		"short token":             {DeviceToken: devTok[:10], Topic: bundle},
		"line break in the topic": {DeviceToken: devTok, Topic: bundle + "\r\nx-evil: 1"},
		"NUL in the collapse id":  {DeviceToken: devTok, Topic: bundle, CollapseID: "a\x00b"},
		"line break in the id":    {DeviceToken: devTok, Topic: bundle, ID: "x\ny"},
		"DEL in the push type":    {DeviceToken: devTok, Topic: bundle, PushType: "alert\x7f"},
	} {
		n.Payload = payload
		_, err := c.Push(ctx, n)
		if !push.Is(err, push.Invalid) || apns.ClassifyError(err) != push.Rejected {
			t.Errorf("%s: Push = %v (%s), want Invalid, rejected", name, err, apns.ClassifyError(err))
		}
		if err != nil && strings.Contains(err.Error(), devTok) {
			t.Errorf("%s: the error holds the whole device token: %v", name, err)
		}
	}
	if r, err := c.Push(ctx, apns.Notification{DeviceToken: devTok, Topic: bundle, Payload: payload}); err != nil || r.Status != 200 {
		t.Fatalf("push after the refused ones = %+v, %v", r, err)
	}
	last, _ := s.Last()
	if cnt := s.Counts(); cnt.Total != 2 || cnt.Aborted != 0 || last.RemoteAddr != first.RemoteAddr {
		t.Errorf("gateway saw %d requests (%d aborted) over %s then %s; want 2 over one connection", cnt.Total, cnt.Aborted, first.RemoteAddr, last.RemoteAddr)
	}
}
