package push

import (
	"errors"
	"fmt"
)

// ErrTokenTooLong is the error of CheckToken for an FCM token longer than
// MaxFCMToken.
var ErrTokenTooLong = errors.New("too long")

// CheckToken reports whether t is a well-formed device token of platform
// p: for APNs MinAPNsToken to MaxAPNsToken hex characters, an even
// number; for FCM 1 to MaxFCMToken bytes of the registration token
// alphabet (letters, digits, '-', '_' and ':'). It is the one check of a
// device token: the queue applies it to every token of a message, and the
// test push to its token, so nothing that could not be written into a
// request (a NUL byte, a slash, a line break) reaches a provider's
// connection. The error says what is wrong without quoting the token
// (errors.Is ErrTokenTooLong for an FCM token past its limit).
func CheckToken(p Platform, t string) error {
	switch p {
	case APNs:
		if len(t) < MinAPNsToken || len(t) > MaxAPNsToken || len(t)%2 != 0 || !isHex(t) {
			return fmt.Errorf("not an APNs device token (%d-%d hex characters)", MinAPNsToken, MaxAPNsToken)
		}
		return nil
	case FCM:
		switch {
		case t == "":
			return errors.New("empty")
		case len(t) > MaxFCMToken:
			return fmt.Errorf("%d bytes, at most %d: %w", len(t), MaxFCMToken, ErrTokenTooLong)
		}
		for i := 0; i < len(t); i++ {
			if c := t[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == ':') {
				if c == ' ' || '\t' <= c && c <= '\r' {
					return errors.New("contains white space")
				}
				return fmt.Errorf("not an FCM registration token (byte %d is not a letter, digit, '-', '_' or ':')", i)
			}
		}
		return nil
	}
	return fmt.Errorf("platform %q: want %q or %q", p, APNs, FCM)
}
