package h2client

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// dial opens a connection within ctx and DialTimeout: TLS handshake with
// h2 negotiated, our preface and settings, and the server's first
// SETTINGS read before any request goes out (so its stream limit is known
// from the start).
func (c *Client) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	d := &tls.Dialer{NetDialer: &net.Dialer{KeepAlive: c.cfg.KeepAlive}, Config: c.cfg.TLS}
	nc, err := d.DialContext(ctx, "tcp", c.cfg.Addr)
	if err != nil {
		return nil, err
	}
	if p := nc.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
		nc.Close()
		return nil, fmt.Errorf("h2client: %s does not speak HTTP/2 (ALPN %q)", c.cfg.Addr, p)
	}
	cn := &conn{
		c:          c,
		nc:         nc,
		bw:         bufio.NewWriterSize(nc, writeBufSize),
		kick:       make(chan struct{}, 1),
		dead:       make(chan struct{}),
		maxStreams: 100, // until the server's SETTINGS say otherwise
		streams:    map[uint32]*stream{},
		nextID:     1,
		sendWin:    65535,
		initWin:    65535,
		maxFrame:   16384,
	}
	cn.wfr = http2.NewFramer(cn.bw, nil)
	cn.henc = hpack.NewEncoder(&cn.hbuf)
	cn.rfr = http2.NewFramer(nil, bufio.NewReaderSize(nc, readBufSize))
	cn.rfr.SetReuseFrames()
	cn.rfr.SetMaxReadFrameSize(ourMaxFrame)
	cn.hdec = hpack.NewDecoder(4096, cn.emit)
	cn.hdec.SetMaxStringLength(2 * c.cfg.MaxResponseHeader)

	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	fail := func(err error) (*conn, error) {
		nc.Close()
		return nil, fmt.Errorf("h2client: connection setup with %s: %w", c.cfg.Addr, err)
	}
	if _, err := cn.bw.WriteString(http2.ClientPreface); err != nil {
		return fail(err)
	}
	if err := cn.wfr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: ourStreamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.cfg.MaxResponseHeader)},
	); err != nil {
		return fail(err)
	}
	if err := cn.wfr.WriteWindowUpdate(0, ourConnWindow-65535); err != nil {
		return fail(err)
	}
	if err := cn.bw.Flush(); err != nil {
		return fail(err)
	}
	f, err := cn.rfr.ReadFrame()
	if err != nil {
		return fail(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return fail(fmt.Errorf("first frame is %v, not SETTINGS", f.Header().Type))
	}
	if err := cn.applySettings(sf, true); err != nil {
		return fail(err)
	}
	_ = nc.SetDeadline(time.Time{})
	go cn.readLoop()
	go cn.writeLoop()
	go cn.keepAlive()
	return cn, nil
}
