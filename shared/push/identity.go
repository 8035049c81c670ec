package push

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// MessageIDKey is the data key every push carries the message id under:
// a top-level key of the APNs payload and a key of FCM data. An app that
// handles data-only messages (which no device collapses) drops a push
// whose MessageIDKey it has seen already. Message.Validate refuses it in
// Data.
const MessageIDKey = "mobilepush_message_id"

// collapsePrefix starts every derived collapse identity; the digit is
// the derivation's version, so a later scheme cannot produce a value an
// earlier one did.
const collapsePrefix = "mp1-"

// CollapseID returns the identity a device collapses repeats of m on:
// m.CollapseKey when the sender gave one, else "mp1-" and the unpadded
// base64url SHA-256 of the tenant and message id (each length-prefixed),
// 47 bytes; "" when m has neither (the send path always has a message
// id). The result is at most MaxCollapseKey bytes (Apple's limit on
// apns-collapse-id), depends on nothing but m's fields and is the same
// in every process and version, so every resend of a message after a
// crash, a timeout or a retry carries the identity of its first push.
//
// It is APNs' apns-collapse-id, and on FCM the Android notification tag,
// the apns-collapse-id of the APNs block and the web push tag: a device
// shows a repeat in place of the first push, not beside it.
func (m *Message) CollapseID() string {
	if m.CollapseKey != "" {
		return m.CollapseKey
	}
	if m.MessageID == "" {
		return ""
	}
	return DeriveCollapseID(m.Tenant, m.MessageID)
}

// DeriveCollapseID returns the collapse identity of the message id of
// tenant when the sender gave no collapse_key (see Message.CollapseID).
func DeriveCollapseID(tenant, messageID string) string {
	h := sha256.New()
	var n [8]byte
	for _, s := range [...]string{tenant, messageID} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	b := make([]byte, len(collapsePrefix)+base64.RawURLEncoding.EncodedLen(len(sum)))
	copy(b, collapsePrefix)
	base64.RawURLEncoding.Encode(b[len(collapsePrefix):], sum[:])
	return string(b)
}
