package h2client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Our side of the connection's settings.
const (
	ourStreamWindow = 256 << 10 // SETTINGS_INITIAL_WINDOW_SIZE we advertise
	ourConnWindow   = 1 << 20   // the connection receive window we grow to
	ourMaxFrame     = 16 << 10  // SETTINGS_MAX_FRAME_SIZE (the default)
	ourHeaderList   = 64 << 10  // SETTINGS_MAX_HEADER_LIST_SIZE
	maxStreamID     = 1<<31 - 1
	writeBufSize    = 32 << 10
	readBufSize     = 32 << 10
)

// stream states.
const (
	queued  int32 = iota // handed to the writer, not written
	written              // HEADERS written (maybe not flushed)
	done                 // finished: response, error or cancellation
)

type stream struct {
	req   *Request
	cn    *conn
	id    uint32 // set by the writer
	state atomic.Int32
	done  func(*Response, error)      // called once, by whoever finishes the stream
	stop  atomic.Pointer[func() bool] // unregisters the context's AfterFunc
	reset atomic.Bool                 // written and closed by an RST_STREAM (ours queued, or the server's)

	// Reader-only.
	hdrsDone    bool
	recvUnacked int
	body        []byte
	header      []Field
	status      int
	hdrErr      error

	sendWin int32 // guarded by conn.fmu
}

// conn is one HTTP/2 connection: a writer goroutine (the only user of
// wfr, henc and bw), a reader goroutine (rfr, hdec) and a keep-alive.
type conn struct {
	c  *Client
	nc net.Conn
	bw *bufio.Writer

	wfr  *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer

	rfr     *http2.Framer
	hdec    *hpack.Decoder
	cur     *stream // reader: the stream whose header block is being decoded
	curEnds bool    // reader: that block's HEADERS frame ended the stream

	qmu   sync.Mutex
	queue []*stream // requests for the writer
	spare []*stream // the writer's previous queue, reused
	qdead bool      // the connection is gone: no more requests queue
	ctrl  []ctrlFrame
	kick  chan struct{} // cap 1: queue or ctrl has something
	dead  chan struct{} // closed when the connection is gone
	err   error         // why; set before dead is closed

	// Guarded by Client.mu.
	active     int
	maxStreams int
	closing    bool

	smu     sync.Mutex
	streams map[uint32]*stream
	gone    bool   // the connection died: no more streams may register (guarded by smu)
	goaway  bool   // the server sent GOAWAY: likewise (guarded by smu)
	nextID  uint32 // writer-only

	fmu      sync.Mutex
	fcond    *sync.Cond
	sendWin  int32  // connection send window
	initWin  int32  // the server's SETTINGS_INITIAL_WINDOW_SIZE
	maxFrame uint32 // the server's SETTINGS_MAX_FRAME_SIZE

	recvUnacked   int          // reader-only
	frames        atomic.Int64 // frames read, for the keep-alive
	writerWaiting atomic.Bool  // the writer waits in sendQuota
	closeOnce     sync.Once
}

type ctrlKind uint8

const (
	ctrlSettingsAck ctrlKind = iota
	ctrlPing
	ctrlPingAck
	ctrlWindow
	ctrlReset
	ctrlTableSize
)

type ctrlFrame struct {
	kind ctrlKind
	id   uint32
	n    uint32
	data [8]byte
	code http2.ErrCode
}

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
	cn.fcond = sync.NewCond(&cn.fmu)
	cn.wfr = http2.NewFramer(cn.bw, nil)
	cn.henc = hpack.NewEncoder(&cn.hbuf)
	cn.rfr = http2.NewFramer(nil, bufio.NewReaderSize(nc, readBufSize))
	cn.rfr.SetReuseFrames()
	cn.rfr.SetMaxReadFrameSize(ourMaxFrame)
	cn.hdec = hpack.NewDecoder(4096, cn.emit)
	cn.hdec.SetMaxStringLength(ourHeaderList)

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
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: ourHeaderList},
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

// start queues req on cn, on which the caller reserved a stream; done
// is called once with the outcome. A ctx that can end cancels the
// request through context.AfterFunc (no goroutine per request).
func (cn *conn) start(ctx context.Context, req *Request, done func(*Response, error)) {
	st := &stream{req: req, cn: cn, done: done}
	if ctx.Done() != nil {
		// (It may run before stop is stored: then there is nothing to stop.)
		stop := context.AfterFunc(ctx, func() { cn.cancel(st, ctx.Err()) })
		st.stop.Store(&stop)
	}
	cn.qmu.Lock()
	if cn.qdead {
		cn.qmu.Unlock()
		cn.finish(st, nil, ErrUnprocessed, noReset)
		return
	}
	cn.queue = append(cn.queue, st)
	cn.qmu.Unlock()
	cn.wakeWriter()
}

func (cn *conn) wakeWriter() {
	select {
	case cn.kick <- struct{}{}:
	default:
	}
}

// cancel ends st with err (its context ended); a stream already written
// is reset.
func (cn *conn) cancel(st *stream, err error) {
	cn.finish(st, nil, err, http2.ErrCodeCancel)
}

// noReset is finish's rst for streams that need no RST_STREAM from us.
const noReset = ^http2.ErrCode(0)

// finish ends st once, whatever its state, reporting whether this call
// did: a written stream leaves the stream table and, unless rst is
// noReset, is reset with rst (queued before the stream is freed, so the
// reset reaches the server before a stream that takes its place); the
// reserved stream is freed and done is called.
func (cn *conn) finish(st *stream, resp *Response, err error, rst http2.ErrCode) bool {
	var prev int32
	for {
		prev = st.state.Load()
		if prev == done {
			return false
		}
		if st.state.CompareAndSwap(prev, done) {
			break
		}
	}
	if prev == written {
		cn.smu.Lock()
		delete(cn.streams, st.id)
		cn.smu.Unlock()
		if rst != noReset {
			st.reset.Store(true)
			cn.control(ctrlFrame{kind: ctrlReset, id: st.id, code: rst})
		}
	}
	if stop := st.stop.Load(); stop != nil {
		(*stop)()
	}
	cn.c.release(cn)
	if cn.writerWaiting.Load() { // it may wait for this stream's window
		cn.fmu.Lock()
		cn.fcond.Broadcast()
		cn.fmu.Unlock()
	}
	st.done(resp, err)
	return true
}

// control queues a frame for the writer.
func (cn *conn) control(f ctrlFrame) {
	cn.qmu.Lock()
	cn.ctrl = append(cn.ctrl, f)
	cn.qmu.Unlock()
	cn.wakeWriter()
}

// close ends the connection; the reader sees the error and fails every
// stream.
func (cn *conn) close(err error) {
	cn.closeOnce.Do(func() {
		cn.smu.Lock()
		if cn.err == nil {
			cn.err = err
		}
		cn.smu.Unlock()
		_ = cn.nc.Close()
	})
}

// ---- writer ----

func (cn *conn) writeLoop() {
	for {
		select {
		case <-cn.kick:
		case <-cn.dead:
			return
		}
		// Write whatever is queued, again until nothing is, then flush
		// once. Before the flush, yield once: the callers a batch of
		// responses just woke often have their next requests ready to
		// join this write.
		yielded := false
		for {
			n, ok := cn.writeQueued()
			if !ok {
				return
			}
			if n > 0 {
				continue
			}
			if yielded {
				break
			}
			yielded = true
			runtime.Gosched()
		}
		if err := cn.bw.Flush(); err != nil {
			cn.close(err)
			return
		}
	}
}

// writeQueued writes the queued control frames and requests into the
// buffer and reports how many there were; false when the connection
// failed.
func (cn *conn) writeQueued() (int, bool) {
	cn.qmu.Lock()
	ctrl, queue := cn.ctrl, cn.queue
	cn.ctrl, cn.queue = nil, cn.spare[:0]
	cn.qmu.Unlock()
	if !cn.writeControl(ctrl) {
		return 0, false
	}
	for i, st := range queue {
		queue[i] = nil
		if !cn.writeStream(st) {
			// The connection failed: the rest were never written.
			cn.c.retire(cn)
			for _, rest := range queue[i+1:] {
				cn.finish(rest, nil, ErrUnprocessed, noReset)
			}
			return 0, false
		}
	}
	cn.spare = queue[:0]
	return len(ctrl) + len(queue), true
}

// writeControl writes control frames; false when the connection failed.
func (cn *conn) writeControl(fs []ctrlFrame) bool {
	for _, f := range fs {
		var err error
		switch f.kind {
		case ctrlSettingsAck:
			err = cn.wfr.WriteSettingsAck()
		case ctrlPing:
			err = cn.wfr.WritePing(false, f.data)
		case ctrlPingAck:
			err = cn.wfr.WritePing(true, f.data)
		case ctrlWindow:
			err = cn.wfr.WriteWindowUpdate(f.id, f.n)
		case ctrlReset:
			err = cn.wfr.WriteRSTStream(f.id, f.code)
		case ctrlTableSize:
			cn.henc.SetMaxDynamicTableSizeLimit(f.n)
		}
		if err != nil {
			cn.close(err)
			return false
		}
	}
	return true
}

// writeStream writes one request's frames into the buffer; false when
// the connection failed. A stream is claimed (given its id, registered)
// before its header block is encoded, and a block once encoded is always
// written: the server's HPACK decoder must see every block the encoder
// made, or every later block on the connection is misread.
func (cn *conn) writeStream(st *stream) bool {
	if cn.nextID > maxStreamID {
		cn.finish(st, nil, ErrUnprocessed, noReset)
		cn.c.retire(cn)
		return true
	}
	cn.smu.Lock()
	if cn.gone || cn.goaway {
		gone := cn.gone
		cn.smu.Unlock()
		cn.finish(st, nil, ErrUnprocessed, noReset)
		return !gone
	}
	if !st.state.CompareAndSwap(queued, written) {
		cn.smu.Unlock()
		return true // cancelled while queued
	}
	st.id = cn.nextID
	cn.nextID += 2
	cn.fmu.Lock()
	st.sendWin = cn.initWin
	maxFrame := int(cn.maxFrame)
	cn.fmu.Unlock()
	cn.streams[st.id] = st
	cn.smu.Unlock()

	req := st.req
	cn.hbuf.Reset()
	method := req.Method
	if method == "" {
		method = "GET"
	}
	cn.writeField(":method", method, false)
	cn.writeField(":scheme", "https", false)
	cn.writeField(":authority", cn.c.authority, false)
	cn.writeField(":path", req.Path, req.PathOnce)
	for _, f := range req.Header {
		cn.writeField(f.Name, f.Value, f.Once)
	}
	if len(req.Body) > 0 {
		cn.writeField("content-length", strconv.Itoa(len(req.Body)), true)
	}
	block := cn.hbuf.Bytes()
	endStream := len(req.Body) == 0
	first := true
	for first || len(block) > 0 {
		n := min(len(block), maxFrame)
		frag := block[:n]
		block = block[n:]
		var err error
		if first {
			err = cn.wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: st.id, BlockFragment: frag, EndStream: endStream, EndHeaders: len(block) == 0})
			first = false
		} else {
			err = cn.wfr.WriteContinuation(st.id, len(block) == 0, frag)
		}
		if err != nil {
			cn.close(err)
			return false
		}
	}
	body := req.Body
	for len(body) > 0 {
		n, ok := cn.sendQuota(st, len(body))
		if !ok {
			return false
		}
		if n == 0 {
			// The stream ended while its body was unsent. Reset or
			// cancelled, an RST_STREAM closed it; answered early, the
			// server still counts it open until we end our half.
			if !st.reset.Load() {
				if err := cn.wfr.WriteRSTStream(st.id, http2.ErrCodeCancel); err != nil {
					cn.close(err)
					return false
				}
			}
			return true
		}
		if err := cn.wfr.WriteData(st.id, n == len(body), body[:n]); err != nil {
			cn.close(err)
			return false
		}
		body = body[n:]
	}
	return true
}

func (cn *conn) writeField(name, value string, once bool) {
	_ = cn.henc.WriteField(hpack.HeaderField{Name: name, Value: value, Sensitive: once})
}

func (cn *conn) alive() bool {
	select {
	case <-cn.dead:
		return false
	default:
		return true
	}
}

// sendQuota takes up to want bytes of flow-control window for st,
// waiting (after flushing what is buffered, so the server can answer)
// until there is some. It returns 0 when st ended meanwhile (checked
// before every DATA frame, so no DATA follows our RST_STREAM), false when
// the connection died.
func (cn *conn) sendQuota(st *stream, want int) (int, bool) {
	flushed := false
	cn.fmu.Lock()
	for {
		if st.state.Load() == done {
			cn.fmu.Unlock()
			return 0, true
		}
		if !cn.alive() {
			cn.fmu.Unlock()
			return 0, false
		}
		if cn.sendWin > 0 && st.sendWin > 0 {
			break
		}
		if !flushed {
			cn.fmu.Unlock()
			cn.qmu.Lock()
			ctrl := cn.ctrl
			cn.ctrl = nil
			cn.qmu.Unlock()
			if !cn.writeControl(ctrl) {
				return 0, false
			}
			if err := cn.bw.Flush(); err != nil {
				cn.close(err)
				return 0, false
			}
			flushed = true
			cn.fmu.Lock()
			continue
		}
		// Publish that we wait, then look again: finish sets the state
		// before it reads writerWaiting, and fail closes dead before it
		// broadcasts under fmu, so neither wake-up is lost.
		cn.writerWaiting.Store(true)
		if st.state.Load() != done && cn.alive() {
			cn.fcond.Wait()
		}
		cn.writerWaiting.Store(false)
		flushed = false
	}
	n := min(want, int(cn.sendWin), int(st.sendWin), int(cn.maxFrame))
	cn.sendWin -= int32(n)
	st.sendWin -= int32(n)
	cn.fmu.Unlock()
	return n, true
}

// ---- reader ----

func (cn *conn) readLoop() {
	err := cn.read()
	cn.fail(err)
}

// fail marks the connection dead and ends every stream on it.
func (cn *conn) fail(err error) {
	cn.close(err)
	cn.smu.Lock()
	cn.gone = true
	if cn.err == nil {
		cn.err = err
	}
	streams := make([]*stream, 0, len(cn.streams))
	for _, st := range cn.streams {
		streams = append(streams, st)
	}
	cn.smu.Unlock()
	cn.c.retire(cn) // first, so retries of what fails here go elsewhere
	cn.qmu.Lock()
	cn.qdead = true
	queue := cn.queue
	cn.queue = nil
	cn.qmu.Unlock()
	close(cn.dead)
	cn.fmu.Lock()
	cn.fcond.Broadcast()
	cn.fmu.Unlock()
	lost := fmt.Errorf("%w: %w", ErrConnLost, cn.err)
	for _, st := range streams {
		cn.finish(st, nil, lost, noReset)
	}
	// Queued and never written (the writer may have dropped some with
	// the buffer it could not flush: those are in streams, as written).
	for _, st := range queue {
		cn.finish(st, nil, ErrUnprocessed, noReset)
	}
}

func (cn *conn) read() error {
	for {
		// A frame the framer refuses, even one it calls a stream error,
		// ends the connection: a refused HEADERS frame would leave its
		// header block undecoded and the HPACK state behind.
		f, err := cn.rfr.ReadFrame()
		if err != nil {
			return err
		}
		cn.frames.Add(1)
		switch f := f.(type) {
		case *http2.HeadersFrame:
			cn.curEnds = f.StreamEnded()
			if err := cn.onHeaders(f.StreamID, f.HeaderBlockFragment(), f.HeadersEnded()); err != nil {
				return err
			}
		case *http2.ContinuationFrame:
			if err := cn.onHeaders(f.StreamID, f.HeaderBlockFragment(), f.HeadersEnded()); err != nil {
				return err
			}
		case *http2.DataFrame:
			cn.onData(f)
		case *http2.RSTStreamFrame:
			if st := cn.lookup(f.StreamID); st != nil {
				var err error = &ResetError{Code: f.ErrCode.String()}
				if f.ErrCode == http2.ErrCodeRefusedStream {
					err = ErrUnprocessed
				}
				st.reset.Store(true)
				cn.finish(st, nil, err, noReset)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := cn.applySettings(f, false); err != nil {
					return err
				}
			}
		case *http2.WindowUpdateFrame:
			if err := cn.onWindowUpdate(f); err != nil {
				return err
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				cn.control(ctrlFrame{kind: ctrlPingAck, data: f.Data})
			}
		case *http2.GoAwayFrame:
			cn.onGoAway(f.LastStreamID)
		case *http2.PushPromiseFrame:
			// We said SETTINGS_ENABLE_PUSH 0 (RFC 9113 §8.4).
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
	}
}

// onWindowUpdate grows a send window; past 2^31-1 is a flow-control
// error of the connection or the stream (RFC 9113 §6.9.1).
func (cn *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	const maxWindow = 1<<31 - 1
	var st *stream
	if f.StreamID != 0 {
		if st = cn.lookup(f.StreamID); st == nil {
			return nil
		}
	}
	cn.fmu.Lock()
	if st == nil {
		if int64(cn.sendWin)+int64(f.Increment) > maxWindow {
			cn.fmu.Unlock()
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		cn.sendWin += int32(f.Increment)
	} else {
		if int64(st.sendWin)+int64(f.Increment) > maxWindow {
			cn.fmu.Unlock()
			cn.finish(st, nil, &ResetError{Code: http2.ErrCodeFlowControl.String()}, http2.ErrCodeFlowControl)
			return nil
		}
		st.sendWin += int32(f.Increment)
	}
	cn.fcond.Broadcast()
	cn.fmu.Unlock()
	return nil
}

func (cn *conn) lookup(id uint32) *stream {
	cn.smu.Lock()
	st := cn.streams[id]
	cn.smu.Unlock()
	return st
}

// applySettings applies the server's SETTINGS and acknowledges them.
func (cn *conn) applySettings(f *http2.SettingsFrame, first bool) error {
	err := f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			if first {
				cn.maxStreams = int(min(s.Val, 1<<20))
			} else {
				cn.c.setMaxStreams(cn, int(min(s.Val, 1<<20)))
			}
		case http2.SettingInitialWindowSize:
			if s.Val > 1<<31-1 {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
			cn.smu.Lock()
			cn.fmu.Lock()
			delta := int32(s.Val) - cn.initWin
			cn.initWin = int32(s.Val)
			for _, st := range cn.streams {
				st.sendWin += delta
			}
			cn.fcond.Broadcast()
			cn.fmu.Unlock()
			cn.smu.Unlock()
		case http2.SettingMaxFrameSize:
			if s.Val < 1<<14 || s.Val > 1<<24-1 {
				return http2.ConnectionError(http2.ErrCodeProtocol)
			}
			cn.fmu.Lock()
			cn.maxFrame = s.Val
			cn.fmu.Unlock()
		case http2.SettingHeaderTableSize:
			cn.control(ctrlFrame{kind: ctrlTableSize, n: s.Val})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if first {
		// The writer has not started: write the ack with the first flush.
		cn.ctrl = append(cn.ctrl, ctrlFrame{kind: ctrlSettingsAck})
		cn.wakeWriter()
		return nil
	}
	cn.control(ctrlFrame{kind: ctrlSettingsAck})
	return nil
}

// onHeaders decodes a header block fragment for stream id (decoding it
// even when the stream is gone, to keep the HPACK state in step).
func (cn *conn) onHeaders(id uint32, frag []byte, ended bool) error {
	st := cn.lookup(id)
	cn.cur = st
	if st != nil && st.hdrsDone {
		cn.cur = nil // trailers: decoded and dropped
	}
	if _, err := cn.hdec.Write(frag); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	if !ended {
		return nil
	}
	if err := cn.hdec.Close(); err != nil {
		return http2.ConnectionError(http2.ErrCodeCompression)
	}
	cn.cur = nil
	if st == nil {
		return nil
	}
	if !st.hdrsDone {
		if st.hdrErr != nil {
			cn.finish(st, nil, st.hdrErr, http2.ErrCodeProtocol)
			return nil
		}
		if st.status >= 100 && st.status < 200 {
			st.status, st.header = 0, nil // informational: the real answer follows
			return nil
		}
		st.hdrsDone = true
	}
	if cn.curEnds {
		cn.complete(st)
	}
	return nil
}

// emit receives the decoder's fields for cn.cur.
func (cn *conn) emit(f hpack.HeaderField) {
	st := cn.cur
	if st == nil || st.hdrErr != nil {
		return
	}
	if f.IsPseudo() {
		if f.Name == ":status" {
			code, err := strconv.Atoi(f.Value)
			if err != nil || code < 100 || code > 999 {
				st.hdrErr = fmt.Errorf("h2client: malformed :status %q", f.Value)
				return
			}
			st.status = code
		}
		return
	}
	if len(st.header) >= 128 {
		st.hdrErr = errors.New("h2client: too many response header fields")
		return
	}
	st.header = append(st.header, Field{Name: f.Name, Value: f.Value})
}

func (cn *conn) onData(f *http2.DataFrame) {
	n := int(f.Header().Length)
	// Connection-level flow control counts every DATA frame, even for
	// streams that are gone.
	cn.recvUnacked += n
	if cn.recvUnacked >= ourConnWindow/2 {
		cn.control(ctrlFrame{kind: ctrlWindow, id: 0, n: uint32(cn.recvUnacked)})
		cn.recvUnacked = 0
	}
	st := cn.lookup(f.StreamID)
	if st == nil {
		return
	}
	if !st.hdrsDone {
		cn.finish(st, nil, errors.New("h2client: DATA before response headers"), http2.ErrCodeProtocol)
		return
	}
	data := f.Data()
	if len(st.body)+len(data) > cn.c.cfg.MaxResponseBody {
		cn.finish(st, nil, fmt.Errorf("h2client: response body over %d bytes", cn.c.cfg.MaxResponseBody), http2.ErrCodeCancel)
		return
	}
	st.body = append(st.body, data...)
	if f.StreamEnded() {
		cn.complete(st)
		return
	}
	st.recvUnacked += n
	if st.recvUnacked >= ourStreamWindow/2 {
		cn.control(ctrlFrame{kind: ctrlWindow, id: f.StreamID, n: uint32(st.recvUnacked)})
		st.recvUnacked = 0
	}
}

// complete finishes st with its response.
func (cn *conn) complete(st *stream) {
	resp := &Response{Status: st.status, Header: st.header, Body: st.body}
	if st.status == 0 {
		cn.finish(st, nil, errors.New("h2client: response without :status"), http2.ErrCodeProtocol)
		return
	}
	cn.finish(st, resp, nil, noReset)
}

// onGoAway retires the connection: streams above last were not processed
// and are retried elsewhere; the rest finish here.
func (cn *conn) onGoAway(last uint32) {
	cn.c.retire(cn)
	cn.smu.Lock()
	cn.goaway = true
	var unprocessed []*stream
	for id, st := range cn.streams {
		if id > last {
			unprocessed = append(unprocessed, st)
		}
	}
	cn.smu.Unlock()
	for _, st := range unprocessed {
		cn.finish(st, nil, ErrUnprocessed, noReset)
	}
}

// ---- keep-alive ----

// keepAlive pings a connection that has received nothing for
// ReadIdleTimeout and closes it when the ping is not answered within
// PingTimeout.
func (cn *conn) keepAlive() {
	idle, timeout := cn.c.cfg.ReadIdleTimeout, cn.c.cfg.PingTimeout
	t := time.NewTimer(idle)
	defer t.Stop()
	last := cn.frames.Load()
	for {
		select {
		case <-cn.dead:
			return
		case <-t.C:
		}
		now := cn.frames.Load()
		if now != last {
			last = now
			t.Reset(idle)
			continue
		}
		cn.control(ctrlFrame{kind: ctrlPing, data: [8]byte{'h', '2', 'c', 'l', 'i', 'e', 'n', 't'}})
		t.Reset(timeout)
		select {
		case <-cn.dead:
			return
		case <-t.C:
		}
		if cn.frames.Load() == last {
			cn.close(fmt.Errorf("h2client: no answer to a PING in %v", timeout))
			return
		}
		last = cn.frames.Load()
		t.Reset(idle)
	}
}
