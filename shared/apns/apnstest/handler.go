package apnstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mobilepush/shared/push"
)

// ServeHTTP answers one APNs request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := g.cfg.Now()
	id := r.Header.Get("apns-id")
	if r.Method != http.MethodPost {
		g.answer(w, r, nil, Response{Status: http.StatusMethodNotAllowed, Reason: "MethodNotAllowed"}, id)
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok {
		g.answer(w, r, nil, Response{Status: http.StatusNotFound, Reason: "BadPath"}, id)
		return
	}
	if token == "" {
		g.answer(w, r, nil, Response{Status: http.StatusBadRequest, Reason: "MissingDeviceToken"}, id)
		return
	}
	rec := &Request{
		Token:      token,
		Topic:      r.Header.Get("apns-topic"),
		PushType:   r.Header.Get("apns-push-type"),
		Priority:   r.Header.Get("apns-priority"),
		Expiration: r.Header.Get("apns-expiration"),
		CollapseID: r.Header.Get("apns-collapse-id"),
		Header:     r.Header.Clone(),
		RemoteAddr: r.RemoteAddr,
	}
	a, fail := g.authenticate(r, now)
	if a != nil {
		rec.Credential = a.id
	}
	if fail != nil {
		g.answer(w, r, rec, *fail, id)
		return
	}
	if fail := g.checkHeaders(r, rec, a); fail != nil {
		g.answer(w, r, rec, *fail, id)
		return
	}
	scripted, has := g.next(*rec, a.id, token)
	if has && scripted.Abort == AbortBeforeRead {
		g.abort(rec, false)
	}
	limit := MaxPayload
	if rec.PushType == "voip" {
		limit = MaxVoIPPayload
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	rec.Payload = body
	switch {
	case len(body) > limit:
		g.answer(w, r, rec, Response{Status: http.StatusRequestEntityTooLarge, Reason: "PayloadTooLarge"}, id)
		return
	case len(bytes.TrimSpace(body)) == 0:
		g.answer(w, r, rec, Response{Status: http.StatusBadRequest, Reason: "PayloadEmpty"}, id)
		return
	}
	if !validToken(token) {
		g.answer(w, r, rec, Response{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}, id)
		return
	}
	if has {
		if scripted.Abort == AbortAfterRead {
			g.abort(rec, true)
		}
		g.answer(w, r, rec, scripted, id)
		return
	}
	if g.cfg.RejectUnknownDevices {
		g.mu.Lock()
		known := g.devices[strings.ToLower(token)]
		g.mu.Unlock()
		if !known {
			g.answer(w, r, rec, Response{Status: http.StatusBadRequest, Reason: "BadDeviceToken"}, id)
			return
		}
	}
	g.answer(w, r, rec, Response{Status: http.StatusOK}, id)
}

// next returns the injected or scripted answer for a valid request.
func (g *Gateway) next(rec Request, cred, token string) (Response, bool) {
	if g.cfg.Inject != nil {
		if resp, ok := g.cfg.Inject(rec); ok {
			return resp, true
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if q := g.credScr[cred]; len(q) > 0 {
		g.credScr[cred] = q[1:]
		return q[0], true
	}
	token = strings.ToLower(token)
	if q := g.scripts[token]; len(q) > 0 {
		g.scripts[token] = q[1:]
		return q[0], true
	}
	return Response{}, false
}

// abort resets the stream; received says whether the request counts as read.
func (g *Gateway) abort(rec *Request, received bool) {
	g.mu.Lock()
	g.counts.Aborted++
	if received {
		g.counts.ByToken[strings.ToLower(rec.Token)]++
		if id := rec.Header.Get("apns-id"); id != "" {
			g.counts.ByID[strings.ToLower(id)]++
		}
	}
	g.mu.Unlock()
	panic(http.ErrAbortHandler)
}

var pushTypes = []string{"alert", "background", "location", "voip", "complication",
	"fileprovider", "mdm", "liveactivity", "pushtotalk", "widgets", "controls"}

func (g *Gateway) checkHeaders(r *http.Request, rec *Request, a *auth) *Response {
	bad := func(reason string) *Response { return &Response{Status: http.StatusBadRequest, Reason: reason} }
	for _, k := range []string{"Apns-Topic", "Apns-Id", "Apns-Push-Type", "Apns-Priority", "Apns-Expiration", "Apns-Collapse-Id", "Authorization"} {
		if len(r.Header[k]) > 1 {
			return bad("DuplicateHeaders")
		}
	}
	switch {
	case rec.Topic == "" && a.uid != "" && len(a.topics) <= 1:
		rec.Topic = a.uid // a single-topic certificate's default topic
	case rec.Topic == "":
		return bad("MissingTopic")
	case strings.ContainsAny(rec.Topic, " /\t"):
		return bad("BadTopic")
	case !a.any && !slices.Contains(a.topics, rec.Topic):
		return bad("TopicDisallowed")
	}
	if rec.PushType != "" && !slices.Contains(pushTypes, rec.PushType) {
		return bad("InvalidPushType")
	}
	switch rec.Priority {
	case "", "1", "5", "10":
	default:
		return bad("BadPriority")
	}
	if rec.Expiration != "" {
		if n, err := strconv.ParseInt(rec.Expiration, 10, 64); err != nil || n < 0 {
			return bad("BadExpirationDate")
		}
	}
	if len(rec.CollapseID) > MaxCollapseID {
		return bad("BadCollapseId")
	}
	if id := r.Header.Get("apns-id"); id != "" && !validUUID(id) {
		return bad("BadMessageId")
	}
	return nil
}

func validToken(t string) bool {
	if len(t) < 64 || len(t) > 200 || len(t)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// answer records rec (nil before a device token is known) and writes resp.
func (g *Gateway) answer(w http.ResponseWriter, r *http.Request, rec *Request, resp Response, id string) {
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	if id == "" || !validUUID(id) {
		id = newUUID()
	}
	if rec != nil {
		rec.ID = id
		rec.Status = resp.Status
		rec.Reason = resp.Reason
	}
	g.mu.Lock()
	g.counts.Total++
	g.counts.ByStatus[resp.Status]++
	g.counts.ByReason[resp.Reason]++
	if rec != nil {
		tok := strings.ToLower(rec.Token)
		g.counts.ByToken[tok]++
		if h := r.Header.Get("apns-id"); h != "" {
			g.counts.ByID[strings.ToLower(h)]++
		}
		if rec.Credential != "" {
			g.counts.ByCredential[rec.Credential]++
		}
		g.last = rec
		g.lastBy[tok] = rec
		g.recorded = append(g.recorded, rec)
	}
	g.mu.Unlock()

	if d := g.cfg.Latency + resp.Delay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h := w.Header()
	h["apns-id"] = []string{id}
	if g.cfg.Environment == push.Sandbox {
		h["apns-unique-id"] = []string{newUUID()}
	}
	if resp.Status == http.StatusOK {
		w.WriteHeader(http.StatusOK)
		return
	}
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(resp.Status)
	if resp.Status == http.StatusGone {
		ts := resp.Timestamp
		if ts.IsZero() {
			ts = g.cfg.Now()
		}
		fmt.Fprintf(w, `{"reason":%q,"timestamp":%d}`, resp.Reason, ts.UnixMilli())
		return
	}
	fmt.Fprintf(w, `{"reason":%q}`, resp.Reason)
}
