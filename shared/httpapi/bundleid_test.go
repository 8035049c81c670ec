package httpapi_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// TestBundleIDCheckedBeforeTheLiveCheck: a bundle id that could not be an
// apns-topic header value is a 400 naming it, and no live check runs
// (before, a .p8's live check sent it raw and reported the gateway
// unreachable, saving the credential unchecked).
func TestBundleIDCheckedBeforeTheLiveCheck(t *testing.T) {
	var proved atomic.Int32
	a := newAPI(t, proverFunc(func(credential.Material, push.Environment, string) push.LiveResult {
		proved.Add(1)
		return push.LiveResult{Code: push.LiveOK}
	}))
	c := mint(t)
	for _, bundle := range []string{"com.acme.app\r\nx-evil: 1", "com.acme\x00app", "com/acme/app", "com.acme app", strings.Repeat("a", 200)} {
		status, _, body := a.do(t, "acme", "POST", "/v1/validate", map[string]any{"apns": map[string]any{"bundle_id": bundle, "p8": c.p8, "key_id": "ABC123DEFG", "team_id": "ABCDE12345"}})
		if status != 400 || !strings.Contains(str(body, "error", "message"), "apns.bundle_id") {
			t.Errorf("bundle id %q = %d %v, want 400 naming apns.bundle_id", bundle, status, body)
		}
	}
	if n := proved.Load(); n != 0 {
		t.Errorf("%d live checks ran for refused bundle ids", n)
	}
	status, _, body := a.do(t, "acme", "POST", "/v1/validate", map[string]any{"apns": map[string]any{"bundle_id": "com.acme-corp.App2.voip", "p8": c.p8, "key_id": "ABC123DEFG", "team_id": "ABCDE12345"}})
	if status != 200 || proved.Load() != 1 {
		t.Errorf("a well-formed bundle id = %d %v (%d live checks), want 200 and one", status, body, proved.Load())
	}
}
