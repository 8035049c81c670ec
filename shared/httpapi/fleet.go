package httpapi

import (
	"net/http"
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
	if pl := v.Get("platform"); pl != "" {
		if q.Platform = push.Platform(pl); !q.Platform.Valid() {
			return q, badField("platform", "%q is not a platform; want apns or fcm", pl)
		}
	}
	if st := v.Get("status"); st != "" {
		for _, s := range strings.Split(st, ",") {
			state := credential.State(strings.TrimSpace(s))
			if !state.Valid() {
				return q, badField("status", "%q is not a state; want ok, expiring, expired, invalid, suspended or unconfigured (comma-separated)", s)
			}
			q.States = append(q.States, state)
		}
	}
	return q, nil
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
	if pl := v.Get("platform"); pl != "" {
		if q.Platform = push.Platform(pl); !q.Platform.Valid() {
			return q, badField("platform", "%q is not a platform; want apns or fcm", pl)
		}
	}
	if as := v.Get("action"); as != "" {
		for _, a := range strings.Split(as, ",") {
			action := credential.Action(strings.TrimSpace(a))
			if !slices.Contains(auditActions, action) {
				return q, badField("action", "%q is not an action; want some of %v (comma-separated)", a, auditActions)
			}
			q.Actions = append(q.Actions, action)
		}
	}
	return q, nil
}
