package h2client_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

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

// scripted is a raw HTTP/2 server: it does the connection preface and
// settings, then hands the framer to script for each connection.
type scripted struct {
	addr  string
	roots *tls.Config
	conns atomic.Int64
}

func newScripted(t *testing.T, script func(n int64, fr *http2.Framer, flush func())) *scripted {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.EnableHTTP2 = true
	srv.StartTLS() // only for its certificate and the client's roots
	cert := srv.TLS.Certificates[0]
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	srv.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &scripted{addr: ln.Addr().String(), roots: &tls.Config{RootCAs: roots, ServerName: "example.com"}}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.conns.Add(1)
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				bw := bufio.NewWriter(nc)
				preface := make([]byte, len(http2.ClientPreface))
				if _, err := io.ReadFull(br, preface); err != nil {
					return
				}
				fr := http2.NewFramer(bw, br)
				_ = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
				_ = bw.Flush()
				script(n, fr, func() { _ = bw.Flush() })
			}()
		}
	}()
	return s
}

// nextRequest reads frames until a request's headers end; it answers
// SETTINGS and returns the stream id (0 when the connection ended).
func nextRequest(fr *http2.Framer, flush func()) uint32 {
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
				flush()
			}
		case *http2.HeadersFrame:
			if f.StreamEnded() {
				return f.StreamID
			}
		case *http2.DataFrame:
			if f.StreamEnded() {
				return f.StreamID
			}
		}
	}
}

func answer(fr *http2.Framer, flush func(), id uint32, status int) {
	var buf bytes.Buffer
	_ = hpack.NewEncoder(&buf).WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true})
	flush()
}
