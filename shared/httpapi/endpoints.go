package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"mobilepush/shared/certinfo"
	"mobilepush/shared/credential"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

func (h *Handler) createApp(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := decodeApp(r)
	if err != nil {
		return err
	}
	in := registry.CreateInput{ID: b.ID, Name: b.Name, Description: b.Description, Enabled: true}
	if b.Enabled != nil {
		in.Enabled = *b.Enabled
	}
	if in.Environment, err = environment("environment", b.Environment); err != nil {
		return err
	}
	if in.APNs, err = b.APNs.upload("apns."); err != nil {
		return err
	}
	in.FCM = b.FCM.upload()
	res, err := h.reg.Create(r.Context(), c.who, in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/apps/"+res.App.ID)
	writeApp(w, http.StatusCreated, res.App, res.Checked)
	return nil
}

// pageOf reads the cursor and limit query parameters.
func pageOf(r *http.Request) (credential.Page, error) {
	p := credential.Page{Cursor: r.URL.Query().Get("cursor")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > credential.MaxPageLimit {
			return p, badField("limit", "must be a number from 1 to %d", credential.MaxPageLimit)
		}
		p.Limit = n
	}
	return p, nil
}

func (h *Handler) listApps(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	page, err := h.reg.List(r.Context(), c.who, p)
	if err != nil {
		return err
	}
	out := struct {
		Apps []appJSON `json:"apps"`
		Next string    `json:"next_cursor,omitempty"`
	}{Apps: []appJSON{}, Next: page.Next}
	for _, a := range page.Apps {
		out.Apps = append(out.Apps, renderApp(a, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) getApp(w http.ResponseWriter, r *http.Request, c *call) error {
	app, _, err := h.loadApp(r, c)
	if err != nil {
		return err
	}
	writeApp(w, http.StatusOK, app, nil)
	return nil
}

type patchBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Enabled     *bool   `json:"enabled"`
	Environment *string `json:"environment"`
}

func (h *Handler) updateApp(w http.ResponseWriter, r *http.Request, c *call) error {
	_, want, err := h.loadApp(r, c)
	if err != nil {
		return err
	}
	var b patchBody
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	patch := credential.Patch{Name: b.Name, Description: b.Description, Enabled: b.Enabled}
	if b.Environment != nil {
		env, err := environment("environment", *b.Environment)
		if err != nil || env == "" {
			return badField("environment", "must be %q or %q", push.Production, push.Sandbox)
		}
		patch.Environment = &env
	}
	app, err := h.reg.Update(r.Context(), c.who, r.PathValue("id"), want, patch)
	if err != nil {
		return err
	}
	writeApp(w, http.StatusOK, app, nil)
	return nil
}

func (h *Handler) deleteApp(w http.ResponseWriter, r *http.Request, c *call) error {
	_, want, err := h.loadApp(r, c)
	if err != nil {
		return err
	}
	if err := h.reg.Delete(r.Context(), c.who, r.PathValue("id"), want); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// platform reads {platform}: an unknown one is no route (404).
func platform(r *http.Request) (push.Platform, error) {
	p := push.Platform(r.PathValue("platform"))
	if !p.Valid() {
		return "", push.Errorf("httpapi", push.NotFound, "no such platform %q: want apns or fcm", p)
	}
	return p, nil
}

// loadPlatform reads {platform} and loads the app as loadApp does.
func (h *Handler) loadPlatform(r *http.Request, c *call) (push.Platform, int64, error) {
	p, err := platform(r)
	if err != nil {
		return "", 0, err
	}
	_, want, err := h.loadApp(r, c)
	return p, want, err
}

func (h *Handler) rotate(w http.ResponseWriter, r *http.Request, c *call) error {
	p, want, err := h.loadPlatform(r, c)
	if err != nil {
		return err
	}
	b, err := decodeApp(r)
	if err != nil {
		return err
	}
	if b.ID != "" || b.Name != "" || b.Description != "" || b.Enabled != nil || b.Environment != "" {
		return badField("name", "a rotation takes only the %s object; change app fields with PATCH", p)
	}
	var res registry.Result
	switch p {
	case push.APNs:
		if b.FCM != nil || b.APNs == nil {
			return badField("apns", "is required (and only it) in PUT /v1/apps/{id}/apns")
		}
		up, err := b.APNs.upload("apns.")
		if err != nil {
			return err
		}
		res, err = h.reg.RotateAPNs(r.Context(), c.who, r.PathValue("id"), want, up)
		if err != nil {
			return err
		}
	case push.FCM:
		if b.APNs != nil || b.FCM == nil {
			return badField("fcm", "is required (and only it) in PUT /v1/apps/{id}/fcm")
		}
		res, err = h.reg.RotateFCM(r.Context(), c.who, r.PathValue("id"), want, b.FCM.upload())
		if err != nil {
			return err
		}
	}
	writeApp(w, http.StatusOK, res.App, res.Checked)
	return nil
}

func (h *Handler) removePlatform(w http.ResponseWriter, r *http.Request, c *call) error {
	p, want, err := h.loadPlatform(r, c)
	if err != nil {
		return err
	}
	app, err := h.reg.RemovePlatform(r.Context(), c.who, r.PathValue("id"), p, want)
	if err != nil {
		return err
	}
	writeApp(w, http.StatusOK, app, nil)
	return nil
}

func (h *Handler) rollback(w http.ResponseWriter, r *http.Request, c *call) error {
	p, want, err := h.loadPlatform(r, c)
	if err != nil {
		return err
	}
	res, err := h.reg.Rollback(r.Context(), c.who, r.PathValue("id"), p, want)
	if err != nil {
		return err
	}
	writeApp(w, http.StatusOK, res.App, nil)
	return nil
}

func (h *Handler) validateApp(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, _, err := h.loadApp(r, c); err != nil {
		return err
	}
	app, vals, err := h.reg.Validate(r.Context(), c.who, r.PathValue("id"))
	if err != nil {
		return err
	}
	out := struct {
		App         appJSON               `json:"app"`
		Validations []registry.Validation `json:"validations"`
	}{renderApp(app, nil), vals}
	if out.Validations == nil {
		out.Validations = []registry.Validation{}
	}
	w.Header().Set("ETag", etag(app.Version))
	writeJSON(w, http.StatusOK, out)
	return nil
}

type testPushBody struct {
	Platform string `json:"platform"`
	Token    string `json:"token"`
	Title    string `json:"title"`
	Body     string `json:"body"`
}

func (h *Handler) testPush(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, _, err := h.loadApp(r, c); err != nil {
		return err
	}
	var b testPushBody
	if err := decodeJSON(r, &b); err != nil {
		return err
	}
	p := push.Platform(b.Platform)
	if !p.Valid() {
		return badField("platform", "must be %q or %q", push.APNs, push.FCM)
	}
	if b.Token == "" {
		return badField("token", "is required")
	}
	if err := push.CheckToken(p, b.Token); err != nil {
		return badField("token", "%v", err)
	}
	if b.Title == "" && b.Body == "" {
		b.Title, b.Body = "mobilepush test", "This is a test notification from mobilepush."
	}
	ans, err := h.reg.TestPush(r.Context(), c.who, r.PathValue("id"), p, registry.TestMessage{Token: b.Token, Title: b.Title, Body: b.Body})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request, c *call) error {
	if _, _, err := h.loadApp(r, c); err != nil {
		return err
	}
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	page, err := h.reg.Audit(r.Context(), c.who, r.PathValue("id"), p)
	if err != nil {
		return err
	}
	out := struct {
		Events []credential.Event `json:"events"`
		Next   string             `json:"next_cursor,omitempty"`
	}{Events: page.Events, Next: page.Next}
	if out.Events == nil {
		out.Events = []credential.Event{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) inspect(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := decodeApp(r)
	if err != nil {
		return err
	}
	if b.ID != "" || b.Name != "" || b.Description != "" || b.Enabled != nil {
		return badField("name", "POST /v1/validate takes only environment, apns and fcm")
	}
	env, err := environment("environment", b.Environment)
	if err != nil {
		return err
	}
	up, err := b.APNs.upload("apns.")
	if err != nil {
		return err
	}
	checked, err := h.reg.Inspect(r.Context(), env, up, b.FCM.upload())
	if err != nil {
		return err
	}
	out := map[string]any{}
	ok := true
	for p, ch := range checked {
		out[string(p)] = checkedJSON(ch)
		ok = ok && ch.Report.OK && !ch.Live.Code.Rejected()
	}
	out["ok"] = ok
	writeJSON(w, http.StatusOK, out)
	return nil
}

// appJSON is the API form of an app. It never holds secret
// material nor where the secrets are kept.
type appJSON struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Enabled     bool          `json:"enabled"`
	Environment string        `json:"environment"`
	Version     int64         `json:"version"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	APNs        *platformJSON `json:"apns"`
	FCM         *platformJSON `json:"fcm"`
	// SigningRequest is the pending signing request, if any (csr.go).
	SigningRequest *pendingJSON `json:"apns_signing_request,omitempty"`
}

type platformJSON struct {
	Status            string             `json:"status"`
	Reason            string             `json:"reason,omitempty"`
	Message           string             `json:"message,omitempty"`
	CheckedAt         *time.Time         `json:"checked_at,omitempty"`
	Warnings          []certinfo.Warning `json:"warnings"`
	Kind              string             `json:"kind,omitempty"`
	RollbackAvailable bool               `json:"rollback_available"`
	Live              *push.LiveResult   `json:"live,omitempty"`
	DaysLeft          *int               `json:"days_left,omitempty"`
	credential.Facts
}

func renderPlatform(m *credential.Meta, ch *registry.Checked) *platformJSON {
	if m == nil {
		return &platformJSON{Status: string(credential.Unconfigured), Warnings: []certinfo.Warning{}}
	}
	p := &platformJSON{
		Status: string(m.Status.State), Reason: m.Status.Reason, Message: m.Status.Message,
		Kind: string(m.Kind), RollbackAvailable: m.Previous != nil, Facts: m.Facts, Warnings: []certinfo.Warning{},
	}
	if !m.Status.CheckedAt.IsZero() {
		t := m.Status.CheckedAt
		p.CheckedAt = &t
	}
	if !m.Facts.NotAfter.IsZero() {
		d := int(math.Floor(time.Until(m.Facts.NotAfter).Hours() / 24))
		p.DaysLeft = &d
	}
	if ch != nil {
		p.Warnings = append(p.Warnings, ch.Warnings()...)
		live := ch.Live
		p.Live = &live
	} else if m.Status.Reason == string(certinfo.ExpiringSoon) || m.Status.Reason == string(push.LiveUnreachable) {
		p.Warnings = append(p.Warnings, certinfo.Warning{Code: certinfo.Code(m.Status.Reason), Message: m.Status.Message})
	}
	return p
}

func renderApp(a credential.App, checked map[push.Platform]*registry.Checked) appJSON {
	return appJSON{
		ID: a.ID, Name: a.Name, Description: a.Description, Enabled: a.Enabled, Environment: string(a.Environment),
		Version: a.Version, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
		APNs: renderPlatform(a.APNs, checked[push.APNs]), FCM: renderPlatform(a.FCM, checked[push.FCM]),
		SigningRequest: renderPending(a.PendingAPNs),
	}
}

func writeApp(w http.ResponseWriter, status int, a credential.App, checked map[push.Platform]*registry.Checked) {
	w.Header().Set("ETag", etag(a.Version))
	writeJSON(w, status, renderApp(a, checked))
}

func checkedJSON(c *registry.Checked) any {
	out := map[string]any{"report": c.Report}
	if c.Live.Code != "" {
		out["live"] = c.Live
	}
	return out
}
