package fcm_test

import (
	"context"
	"strings"
	"testing"

	"firebase.google.com/go/v4/messaging"

	"mobilepush/shared/fcm/fcmtest"
	"mobilepush/shared/push"
	"mobilepush/shared/testcred"
)

// TestProjectIDStaysOneSegment: a key file whose project_id holds path
// syntax (stored before inspection refused it) cannot steer the send to
// another project's path: the id is escaped into one segment, the fake
// sees it as the project, and the answer names it escaped.
func TestProjectIDStaysOneSegment(t *testing.T) {
	srv := fcmtest.NewServer(t, fcmtest.Options{RecordMessages: true})
	const steer = "p/../../v1/projects/other"
	acc := newAccount(t, steer, 0, func(sa *testcred.ServiceAccount) {
		sa.ClientEmail = "firebase-adminsdk-0@steer.iam.gserviceaccount.com"
	})
	if err := srv.AddServiceAccount(acc.json); err != nil {
		t.Fatal(err)
	}
	victim := newAccount(t, "other", 1, nil)
	if err := srv.AddServiceAccount(victim.json); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv, acc, nil)
	res := c.Send(context.Background(), []*messaging.Message{{Token: "fcm-device-1", Notification: &messaging.Notification{Title: "x"}}})[0]
	if res.Verdict.Outcome != push.Delivered {
		t.Fatalf("send = %+v, want delivered to the key's own project", res)
	}
	m, ok := srv.LastMessage()
	if !ok || m.Project != steer {
		t.Fatalf("the fake saw project %q, want %q as one path segment", m.Project, steer)
	}
	if !strings.HasPrefix(res.MessageID, "projects/p%2F..%2F") {
		t.Errorf("message name %q: the project id is not escaped", res.MessageID)
	}
}
