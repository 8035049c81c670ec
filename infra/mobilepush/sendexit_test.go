package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"mobilepush/shared/localsend"
)

// TestSendExitsOneWhenNothingDelivered: `mobilepush send` waits for the
// outcomes and exits 1, naming the reasons, when no token was delivered;
// one delivered token is success. The server is a stand-in answering as
// POST and GET /v1/messages do.
func TestSendExitsOneWhenNothingDelivered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		final  localsend.Status
		code   int
		stderr string
	}{
		{"nothing delivered", localsend.Status{State: localsend.StateDone, Counts: localsend.Counts{Rejected: 2},
			Reasons: map[string]map[string]int{"rejected": {"app_disabled": 1, "platform_unconfigured": 1}}}, 1,
			"nothing was delivered (rejected: app_disabled 1, rejected: platform_unconfigured 1)"},
		{"nothing delivered, no reasons", localsend.Status{State: localsend.StateDone, Counts: localsend.Counts{InvalidToken: 1}}, 1, "nothing was delivered; see GET /v1/messages/m1"},
		{"one delivered", localsend.Status{State: localsend.StateDone, Counts: localsend.Counts{Delivered: 1, Rejected: 1}}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.Method == "POST" && r.URL.Path == "/v1/messages":
					w.WriteHeader(http.StatusAccepted)
					_ = json.NewEncoder(w).Encode(localsend.Status{MessageID: "m1", State: localsend.StateQueued})
				case r.Method == "GET" && r.URL.Path == "/v1/messages/m1":
					st := tc.final
					st.MessageID = "m1"
					_ = json.NewEncoder(w).Encode(st)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"send", "--app", "shop", "--token", strings.Repeat("ab", 32), "--title", "Hi", "--url", srv.URL, "--bearer", "mp_test"}, nil, &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.stderr) || !strings.Contains(out.String(), "done: 1 token:") {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
		})
	}
}
