package httpapi

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mobilepush/shared/credential"
	"mobilepush/shared/push"
	"mobilepush/shared/registry"
)

// pkcs10 is the media type of a signing request download. The body is
// PEM, as Keychain Access writes a .certSigningRequest and as Apple's
// portal takes it.
const pkcs10 = "application/pkcs10"

// csrBody is the optional body of POST /v1/apps/{id}/apns/csr.
type csrBody struct {
	CommonName string `json:"common_name"`
	Email      string `json:"email"`
}

// csrJSON is the API form of a pending signing request: never its key.
type csrJSON struct {
	CSRPEM               string    `json:"csr_pem"`
	KeyFingerprintSHA256 string    `json:"key_fingerprint_sha256"`
	CommonName           string    `json:"common_name,omitempty"`
	Email                string    `json:"email,omitempty"`
	CreatedAt            time.Time `json:"created_at"`
	ExpiresAt            time.Time `json:"expires_at"`
}

// pendingJSON is the short form of a pending request on an app.
type pendingJSON struct {
	KeyFingerprintSHA256 string    `json:"key_fingerprint_sha256"`
	CreatedAt            time.Time `json:"created_at"`
	ExpiresAt            time.Time `json:"expires_at"`
}

// renderPending is the app's pending request, nil when none is pending
// (or it expired).
func renderPending(p *credential.PendingKey) *pendingJSON {
	if p == nil || p.Expired(time.Now()) {
		return nil
	}
	return &pendingJSON{KeyFingerprintSHA256: p.KeyFingerprintSHA256, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt}
}

func (h *Handler) createSigningRequest(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := checkFormat(r); err != nil {
		return err
	}
	if _, _, err := h.loadApp(r, c); err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var in csrBody
	if len(bytes.TrimSpace(b)) > 0 {
		if err := decodeJSONBytes(b, &in); err != nil {
			return err
		}
	}
	p, err := h.reg.CreateSigningRequest(r.Context(), c.who, r.PathValue("id"), registry.SigningRequestInput{CommonName: in.CommonName, Email: in.Email})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/apps/"+r.PathValue("id")+"/apns/csr")
	writeSigningRequest(w, r, http.StatusCreated, p)
	return nil
}

func (h *Handler) getSigningRequest(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := checkFormat(r); err != nil {
		return err
	}
	p, err := h.reg.SigningRequest(r.Context(), c.who, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeSigningRequest(w, r, http.StatusOK, p)
	return nil
}

func (h *Handler) discardSigningRequest(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := h.reg.DiscardSigningRequest(r.Context(), c.who, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// writeSigningRequest answers with the request as JSON, or as the file
// <app>.certSigningRequest when asked (?format=file or Accept:
// application/pkcs10).
func writeSigningRequest(w http.ResponseWriter, r *http.Request, status int, p credential.PendingKey) {
	if wantsFile(r) {
		// App ids are [A-Za-z0-9_-]: safe in a file name as they are.
		w.Header().Set("Content-Type", pkcs10)
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": r.PathValue("id") + ".certSigningRequest"}))
		w.Header().Set("Content-Length", strconv.Itoa(len(p.CSRPEM)))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(p.CSRPEM))
		return
	}
	writeJSON(w, status, csrJSON{
		CSRPEM: p.CSRPEM, KeyFingerprintSHA256: p.KeyFingerprintSHA256, CommonName: p.CommonName, Email: p.Email,
		CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt,
	})
}

func wantsFile(r *http.Request) bool {
	if r.URL.Query().Get("format") == "file" {
		return true
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == pkcs10 {
			return true
		}
	}
	return false
}

// checkFormat refuses an unknown ?format.
func checkFormat(r *http.Request) error {
	if f := r.URL.Query().Get("format"); f != "" && f != "file" && f != "json" {
		return push.Errorf("httpapi", push.Invalid, "format: want file or json")
	}
	return nil
}
