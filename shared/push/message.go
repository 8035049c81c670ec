package push

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MessageVersion is the queue message format version this package reads
// and writes (docs/ARCHITECTURE.md, Queue message v1).
const MessageVersion = 1

// Limits of a queue message. Each is checked by Message.Validate, and the
// error names the limit.
const (
	MaxTokens        = 1000    // device tokens per message, both platforms together
	MaxTTLSeconds    = 2419200 // 28 days: FCM's longest time to live
	MaxCollapseKey   = 64      // bytes: APNs' limit on apns-collapse-id
	MaxAPNsPayload   = 4096    // bytes of the APNs JSON payload (Message.APNsPayloadSize)
	MaxFCMPayload    = 4096    // bytes of FCM data and notification (Message.FCMPayloadSize)
	MinAPNsToken     = 64      // hex characters of an APNs device token, at least
	MaxAPNsToken     = 200     // hex characters of an APNs device token, at most
	MaxFCMToken      = 4096    // bytes of an FCM registration token, at most
	MaxTenant        = 256     // bytes of a tenant name
	MaxAppID         = 64      // characters of an app id ([A-Za-z0-9_-])
	MaxMessageID     = 80      // characters of a message id ([A-Za-z0-9_-]); also an SQS batch entry id
	MaxMessageDecode = 1 << 20 // bytes DecodeMessage reads at most
)

// Priority is a message's delivery priority: high wakes the device now
// (apns-priority 10, Android high), normal lets the device save power
// (apns-priority 5, Android normal). Empty uses the platform default.
type Priority string

// The priorities.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
)

// Priorities returns every valid non-empty Priority.
func Priorities() []Priority { return []Priority{PriorityHigh, PriorityNormal} }

// APNsType is an APNs apns-push-type, as Apple defines them. Empty means
// alert, or background for a message that only sets content_available.
type APNsType string

// The APNs push types.
const (
	APNsAlert        APNsType = "alert"
	APNsBackground   APNsType = "background"
	APNsLocation     APNsType = "location"
	APNsVoIP         APNsType = "voip"
	APNsComplication APNsType = "complication"
	APNsFileProvider APNsType = "fileprovider"
	APNsMDM          APNsType = "mdm"
	APNsLiveActivity APNsType = "liveactivity"
	APNsPushToTalk   APNsType = "pushtotalk"
	APNsWidgets      APNsType = "widgets"
	APNsControls     APNsType = "controls"
)

// APNsTypes returns every valid non-empty APNsType.
func APNsTypes() []APNsType {
	return []APNsType{APNsAlert, APNsBackground, APNsLocation, APNsVoIP, APNsComplication,
		APNsFileProvider, APNsMDM, APNsLiveActivity, APNsPushToTalk, APNsWidgets, APNsControls}
}

// InterruptionLevel is an APNs interruption-level (iOS 15+).
type InterruptionLevel string

// The interruption levels.
const (
	InterruptionPassive       InterruptionLevel = "passive"
	InterruptionActive        InterruptionLevel = "active"
	InterruptionTimeSensitive InterruptionLevel = "time-sensitive"
	InterruptionCritical      InterruptionLevel = "critical"
)

// InterruptionLevels returns every valid non-empty InterruptionLevel.
func InterruptionLevels() []InterruptionLevel {
	return []InterruptionLevel{InterruptionPassive, InterruptionActive, InterruptionTimeSensitive, InterruptionCritical}
}

// Message is the queue message v1: what an application server
// asks mobilepush to send to up to MaxTokens devices of one app. Its JSON
// form is the SQS message body, the body of POST /v1/messages and the
// body kept in the dead-letter queue; shared/enqueue/message.schema.json
// describes it.
//
// Optional numbers whose zero means something (badge 0 clears the badge,
// ttl_seconds 0 means "now or never") are pointers: nil leaves them out.
type Message struct {
	Version      int               `json:"version"`
	Tenant       string            `json:"tenant"`
	AppID        string            `json:"app_id"`
	MessageID    string            `json:"message_id,omitempty"` // idempotency key; enqueue generates one when empty
	Tokens       Tokens            `json:"tokens"`
	Notification Notification      `json:"notification,omitzero"`
	Data         map[string]string `json:"data,omitempty"` // custom keys: top-level keys in APNs, FCM data
	Link         string            `json:"link,omitempty"` // deep link opened on tap
	Priority     Priority          `json:"priority,omitempty"`
	TTLSeconds   *int              `json:"ttl_seconds,omitempty"` // nil: the providers' default (28 days on FCM)
	CollapseKey  string            `json:"collapse_key,omitempty"`
	APNs         APNsOptions       `json:"apns,omitzero"`
	Android      AndroidOptions    `json:"android,omitzero"`
}

// Tokens are the device tokens of a message, per platform.
type Tokens struct {
	APNs []string `json:"apns,omitempty"` // hex APNs device tokens
	FCM  []string `json:"fcm,omitempty"`  // FCM registration tokens
}

// Len returns the number of tokens of both platforms.
func (t Tokens) Len() int { return len(t.APNs) + len(t.FCM) }

// Notification is what the user sees. iOS shows title, subtitle and body
// (and the image through a notification service extension); Android shows
// title, body and image.
type Notification struct {
	Title    string `json:"title,omitempty"`
	Subtitle string `json:"subtitle,omitempty"` // iOS only
	Body     string `json:"body,omitempty"`
	Badge    *int   `json:"badge,omitempty"` // iOS app icon badge; 0 clears it
	Sound    string `json:"sound,omitempty"` // "default" or a sound file bundled with the app
	Image    string `json:"image,omitempty"` // absolute http(s) URL
}

// APNsOptions are options only Apple devices use.
type APNsOptions struct {
	PushType          APNsType          `json:"push_type,omitempty"`
	ThreadID          string            `json:"thread_id,omitempty"`
	InterruptionLevel InterruptionLevel `json:"interruption_level,omitempty"`
	ContentAvailable  bool              `json:"content_available,omitempty"`
	MutableContent    bool              `json:"mutable_content,omitempty"` // also set when notification.image is
}

// AndroidOptions are options only Android devices use.
type AndroidOptions struct {
	ChannelID   string `json:"channel_id,omitempty"`
	ClickAction string `json:"click_action,omitempty"`
	Color       string `json:"color,omitempty"` // #RRGGBB
	Icon        string `json:"icon,omitempty"`  // drawable resource name
}

// Keys the payloads use themselves, refused in Data.
var (
	reservedKeys     = []string{"aps", "link", "image", "from", "message_type", "notification", "collapse_key", MessageIDKey}
	reservedPrefixes = []string{"google", "gcm"}
)

// ReservedDataKey reports whether k cannot be a Data key: a key the APNs
// payload or FCM data already use (aps, link, image, from, message_type,
// notification, collapse_key, mobilepush_message_id: MessageIDKey) or one
// starting with a prefix FCM reserves
// (google, gcm). Keys are compared as they are (case-sensitively).
func ReservedDataKey(k string) bool {
	if slices.Contains(reservedKeys, k) {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// Validate checks m against the queue message contract. It returns nil or
// a *Error of Kind Invalid (TooLarge for a size limit) whose client
// message (Msg) names the field and the limit, e.g. "tokens: 1001 tokens, at most 1000
// per message". Device tokens are named by index, never quoted.
func (m *Message) Validate() error {
	const op = "push.Message.Validate"
	invalid := func(format string, a ...any) error { return Errorf(op, Invalid, format, a...) }
	tooLarge := func(format string, a ...any) error { return Errorf(op, TooLarge, format, a...) }

	if m.Version != MessageVersion {
		return invalid("version: %d is not supported, want %d", m.Version, MessageVersion)
	}
	if err := checkTenant(m.Tenant); err != nil {
		return invalid("tenant: %v", err)
	}
	switch {
	case m.AppID == "":
		return invalid("app_id: required")
	case len(m.AppID) > MaxAppID || !idPattern.MatchString(m.AppID):
		return invalid("app_id: must be 1-%d characters of A-Z, a-z, 0-9, _ and -", MaxAppID)
	}
	if m.MessageID != "" && (len(m.MessageID) > MaxMessageID || !idPattern.MatchString(m.MessageID)) {
		return invalid("message_id: must be 1-%d characters of A-Z, a-z, 0-9, _ and -", MaxMessageID)
	}
	if err := m.validateTokens(invalid, tooLarge); err != nil {
		return err
	}
	n := m.Notification
	if n.Badge != nil && *n.Badge < 0 {
		return invalid("notification.badge: %d is negative", *n.Badge)
	}
	if n.Image != "" && !httpURL(n.Image) {
		return invalid("notification.image: must be an absolute http or https URL")
	}
	for k := range m.Data {
		switch {
		case k == "":
			return invalid("data: empty key")
		case ReservedDataKey(k):
			return invalid("data: key %q is reserved (aps, link, image, from, message_type, notification, collapse_key, %s, google*, gcm*)", k, MessageIDKey)
		}
	}
	if m.Link != "" {
		if u, err := url.Parse(m.Link); err != nil || u.Scheme == "" {
			return invalid("link: must be an absolute URL such as app://path or https://host/path")
		}
	}
	if m.Priority != "" && !slices.Contains(Priorities(), m.Priority) {
		return invalid("priority: %q, want %q or %q", m.Priority, PriorityHigh, PriorityNormal)
	}
	if t := m.TTLSeconds; t != nil && (*t < 0 || *t > MaxTTLSeconds) {
		return invalid("ttl_seconds: %d, want 0 to %d (28 days)", *t, MaxTTLSeconds)
	}
	if len(m.CollapseKey) > MaxCollapseKey {
		return tooLarge("collapse_key: %d bytes, at most %d (APNs apns-collapse-id)", len(m.CollapseKey), MaxCollapseKey)
	}
	if strings.IndexFunc(m.CollapseKey, unicode.IsControl) >= 0 {
		return invalid("collapse_key: must not contain control characters (it is sent as the apns-collapse-id header)")
	}
	a := m.APNs
	if a.PushType != "" && !slices.Contains(APNsTypes(), a.PushType) {
		return invalid("apns.push_type: %q is not an APNs push type (%s)", a.PushType, joinEnum(APNsTypes()))
	}
	if a.InterruptionLevel != "" && !slices.Contains(InterruptionLevels(), a.InterruptionLevel) {
		return invalid("apns.interruption_level: %q, want one of %s", a.InterruptionLevel, joinEnum(InterruptionLevels()))
	}
	if a.PushType == APNsBackground {
		switch {
		case !a.ContentAvailable:
			return invalid("apns.push_type: background needs apns.content_available")
		case n.Title != "" || n.Subtitle != "" || n.Body != "" || n.Badge != nil || n.Sound != "":
			return invalid("apns.push_type: a background push carries no title, subtitle, body, badge or sound (Apple's rule)")
		case m.Priority == PriorityHigh:
			return invalid("priority: a background push must be normal (Apple requires apns-priority 5)")
		}
	}
	if m.Android.Color != "" && !colorPattern.MatchString(m.Android.Color) {
		return invalid("android.color: %q, want #RRGGBB", m.Android.Color)
	}
	if n == (Notification{}) && len(m.Data) == 0 && m.Link == "" && !a.ContentAvailable {
		return invalid("message: nothing to send: set a notification, data, link or apns.content_available")
	}
	// The sizes are those of what is sent, which carries the message id
	// (MessageIDKey): a message without one is measured with an id of
	// the length NewMessageID gives it when it is accepted.
	sized := m
	if m.MessageID == "" {
		c := *m
		c.MessageID = idPlaceholder
		sized = &c
	}
	if len(m.Tokens.APNs) > 0 {
		if size := sized.APNsPayloadSize(); size > MaxAPNsPayload {
			return tooLarge("message: the APNs payload is %d bytes, at most %d (notification, data, link and %s)", size, MaxAPNsPayload, MessageIDKey)
		}
	}
	if len(m.Tokens.FCM) > 0 {
		if size := sized.FCMPayloadSize(); size > MaxFCMPayload {
			return tooLarge("message: the FCM payload is %d bytes, at most %d (data, link and notification title, body, image)", size, MaxFCMPayload)
		}
	}
	return nil
}

func (m *Message) validateTokens(invalid, tooLarge func(string, ...any) error) error {
	total := m.Tokens.Len()
	switch {
	case total == 0:
		return invalid("tokens: at least one APNs or FCM token is required")
	case total > MaxTokens:
		return tooLarge("tokens: %d tokens, at most %d per message (apns and fcm together)", total, MaxTokens)
	}
	seen := make(map[string]int, total)
	for i, t := range m.Tokens.APNs {
		if err := CheckToken(APNs, t); err != nil {
			return invalid("tokens.apns[%d]: %v", i, err)
		}
		k := "a" + strings.ToLower(t)
		if j, dup := seen[k]; dup {
			return invalid("tokens.apns[%d]: the same token as tokens.apns[%d]", i, j)
		}
		seen[k] = i
	}
	for i, t := range m.Tokens.FCM {
		if err := CheckToken(FCM, t); errors.Is(err, ErrTokenTooLong) {
			return tooLarge("tokens.fcm[%d]: %v", i, err)
		} else if err != nil {
			return invalid("tokens.fcm[%d]: %v", i, err)
		}
		k := "f" + t
		if j, dup := seen[k]; dup {
			return invalid("tokens.fcm[%d]: the same token as tokens.fcm[%d]", i, j)
		}
		seen[k] = i
	}
	return nil
}

func checkTenant(t string) error {
	switch {
	case t == "":
		return errors.New("required")
	case len(t) > MaxTenant || !utf8.ValidString(t):
		return fmt.Errorf("must be 1-%d bytes of UTF-8", MaxTenant)
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		return errors.New("must not contain control characters")
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func httpURL(s string) bool {
	u, err := url.ParseRequestURI(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func joinEnum[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// Expiry returns when m stops being worth delivering if it was accepted
// at sentAt (sentAt + ttl_seconds), and false when m has no ttl_seconds.
// Senders pass the time the message was first enqueued, so retries do
// not extend its life.
func (m *Message) Expiry(sentAt time.Time) (time.Time, bool) {
	if m.TTLSeconds == nil {
		return time.Time{}, false
	}
	return sentAt.Add(time.Duration(*m.TTLSeconds) * time.Second), true
}

// DecodeMessage decodes a queue message body and validates it. Unknown
// fields, trailing data and bodies over MaxMessageDecode bytes are
// refused. A body of another version is refused by its version alone, so
// a v2 message is reported as such rather than by its new fields. Errors
// are *Error of Kind Invalid or TooLarge.
func DecodeMessage(body []byte) (*Message, error) {
	const op = "push.DecodeMessage"
	if len(body) > MaxMessageDecode {
		return nil, Errorf(op, TooLarge, "message: %d bytes, at most %d", len(body), MaxMessageDecode)
	}
	var probe struct {
		Version json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(body, &probe); err == nil {
		if v := string(probe.Version); v != "" && v != "1" {
			return nil, Errorf(op, Invalid, "version: %s is not supported, want %d", v, MessageVersion)
		}
	}
	var m Message
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, Errorf(op, Invalid, "message: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(op, Invalid, "message: data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &m, nil
}

// jsonProblem describes a decoding error without quoting the body (which
// holds device tokens).
func jsonProblem(err error) string {
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ute):
		return fmt.Sprintf("field %s: %s is not a %s", ute.Field, ute.Value, ute.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + name
	}
	return "not a JSON object of the v1 message form"
}

// idPlaceholder stands for the id NewMessageID gives a message accepted
// without one, when Validate measures its payloads.
const idPlaceholder = "00000000-0000-4000-8000-000000000000"

// NewMessageID returns a fresh random message id: a version 4 UUID made
// from crypto/rand, e.g. "3b241101-e2bb-4255-8caf-4136c566a962".
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return UUIDString(b)
}

// UUIDString formats b in the canonical 8-4-4-4-12 hex form of a UUID;
// b's version and variant bits are the caller's.
func UUIDString(b [16]byte) string {
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
