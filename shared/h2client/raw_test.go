package h2client_test

import (
	"bytes"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawConn is the server's side of a scripted connection (newScripted)
// that decodes the client's header blocks and answers requests.
type rawConn struct {
	fr    *http2.Framer
	flush func()
	enc   *hpack.Encoder
	ebuf  bytes.Buffer
	// pingAcks and settingsAcks count the client's acknowledgements.
	pingAcks, settingsAcks int
}

func newRawConn(fr *http2.Framer, flush func()) *rawConn {
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	rc := &rawConn{fr: fr, flush: flush}
	rc.enc = hpack.NewEncoder(&rc.ebuf)
	return rc
}

// next reads the next frame, acknowledging the client's SETTINGS and
// counting its acknowledgements; nil when the connection ended.
func (rc *rawConn) next() http2.Frame {
	f, err := rc.fr.ReadFrame()
	if err != nil {
		return nil
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			rc.settingsAcks++
		} else {
			_ = rc.fr.WriteSettingsAck()
			rc.flush()
		}
	case *http2.PingFrame:
		if f.IsAck() {
			rc.pingAcks++
		}
	}
	return f
}

// respond writes a complete response and flushes it.
func (rc *rawConn) respond(id uint32, status int, body []byte, header ...hpack.HeaderField) {
	rc.ebuf.Reset()
	_ = rc.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	for _, h := range header {
		_ = rc.enc.WriteField(h)
	}
	_ = rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.ebuf.Bytes(), EndStream: len(body) == 0, EndHeaders: true})
	if len(body) > 0 {
		_ = rc.fr.WriteData(id, true, body)
	}
	rc.flush()
}
