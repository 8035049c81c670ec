package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
)

// maxHorizonDays caps GET /v1/summary?horizon_days.
const maxHorizonDays = 3660

// fleetQuery reads the query parameters of GET /v1/apps: q, status,
// platform, sort, limit and cursor. An unknown value is a 400 naming its
// parameter.
func fleetQuery(r *http.Request) (credential.Query, error) {
	v := r.URL.Query()
	p, err := pageOf(r)
	if err != nil {
		return credential.Query{}, err
	}
	q := credential.Query{Page: p, Text: strings.TrimSpace(v.Get("q")), Sort: credential.Sort(v.Get("sort"))}
	if len(q.Text) > 200 {
		return q, badField("q", "must be at most 200 bytes")
	}
	if s := v.Get("sort"); s != "" && !q.Sort.Valid() {
		return q, badField("sort", "%q is not an order; want attention, name, days_left or updated_at", s)
	}
	if q.Platform, err = platformParam(v); err != nil {
		return q, err
	}
	if q.States, err = listParam(v, "status", "a state", "ok, expiring, expired, invalid, suspended or unconfigured", credential.State.Valid); err != nil {
		return q, err
	}
	return q, nil
}

// platformParam reads the query parameter platform: "" when it is absent.
func platformParam(v url.Values) (push.Platform, error) {
	pl := v.Get("platform")
	if p := push.Platform(pl); pl == "" || p.Valid() {
		return p, nil
	}
	return "", badField("platform", "%q is not a platform; want apns or fcm", pl)
}

// listParam reads the comma-separated values of the query parameter name
// (none when it is absent), each trimmed and checked by valid; a value
// that is not what (e.g. "a state") is a 400 saying what name takes (want).
func listParam[T ~string](v url.Values, name, what, want string, valid func(T) bool) ([]T, error) {
	raw := v.Get(name)
	if raw == "" {
		return nil, nil
	}
	var out []T
	for _, s := range strings.Split(raw, ",") {
		t := T(strings.TrimSpace(s))
		if !valid(t) {
			return nil, badField(name, "%q is not %s; want %s (comma-separated)", s, what, want)
		}
		out = append(out, t)
	}
	return out, nil
}

func (h *Handler) listApps(w http.ResponseWriter, r *http.Request, c *call) error {
	q, err := fleetQuery(r)
	if err != nil {
		return err
	}
	page, err := h.reg.List(r.Context(), c.who, q)
	if err != nil {
		return err
	}
	out := struct {
		Apps  []appJSON `json:"apps"`
		Total int       `json:"total"`
		Next  string    `json:"next_cursor,omitempty"`
	}{Apps: []appJSON{}, Total: page.Total, Next: page.Next}
	for _, a := range page.Apps {
		out.Apps = append(out.Apps, renderApp(a, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) summary(w http.ResponseWriter, r *http.Request, c *call) error {
	var within time.Duration
	if d := r.URL.Query().Get("horizon_days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > maxHorizonDays {
			return badField("horizon_days", "must be a number of days from 1 to %d", maxHorizonDays)
		}
		within = time.Duration(n) * 24 * time.Hour
	}
	sum, err := h.reg.Summary(r.Context(), c.who, within)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sum)
	return nil
}

// auditActions are the actions GET /v1/apps/{id}/audit?action= takes.
var auditActions = []credential.Action{
	credential.ActionCreate, credential.ActionUpdate, credential.ActionRotate, credential.ActionRollback,
	credential.ActionRemove, credential.ActionDelete, credential.ActionStatus, credential.ActionValidate,
	credential.ActionTestPush, credential.ActionSigningRequest, credential.ActionDiscardRequest,
}

// auditQuery reads the query parameters of GET /v1/apps/{id}/audit:
// action (comma-separated), platform, limit and cursor.
func auditQuery(r *http.Request) (credential.AuditQuery, error) {
	p, err := pageOf(r)
	if err != nil {
		return credential.AuditQuery{}, err
	}
	q := credential.AuditQuery{Page: p}
	v := r.URL.Query()
	if q.Platform, err = platformParam(v); err != nil {
		return q, err
	}
	isAction := func(a credential.Action) bool { return slices.Contains(auditActions, a) }
	if q.Actions, err = listParam(v, "action", "an action", fmt.Sprintf("some of %v", auditActions), isAction); err != nil {
		return q, err
	}
	return q, nil
}
