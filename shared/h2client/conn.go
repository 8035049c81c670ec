package h2client

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Our side of the connection's settings.
const (
	ourStreamWindow = 256 << 10 // SETTINGS_INITIAL_WINDOW_SIZE we advertise
	ourConnWindow   = 1 << 20   // the connection receive window we grow to
	ourMaxFrame     = 16 << 10  // SETTINGS_MAX_FRAME_SIZE (the default)
	maxStreamID     = 1<<31 - 1
	writeBufSize    = 32 << 10
	readBufSize     = 32 << 10
	// dataBurst bounds the DATA bytes the writer writes between two looks
	// at its control frames and new requests.
	dataBurst = 64 << 10
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
	// bodySent: the writer wrote the body's last DATA frame (END_STREAM),
	// so our half of the stream is closed; set for requests with a body.
	bodySent atomic.Bool
	sendWin  int32 // guarded by conn.fmu
	sent     int   // writer-only: body bytes written

	// Reader-only. (The fields are ordered, and some int32, so that a
	// stream fits the allocator's 144-byte size class.)
	recvUnacked int32
	hdrSize     int32 // the header list's size so far, as HTTP/2 counts it
	hdrsDone    bool
	status      int
	body        []byte
	header      []Field
	hdrErr      error
}

// conn is one HTTP/2 connection: a writer goroutine (the only user of
// wfr, henc, bw and pending), a reader goroutine (rfr, hdec) and a
// keep-alive. The writer never waits for flow-control window: a body
// the window stops stays in pending while the writer goes on with
// control frames, other streams and other bodies, and the reader wakes
// it when the window grows.
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
	curRaw  int     // reader: that block's encoded bytes so far

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
	gone    bool // the connection died: no more streams may register (guarded by smu)
	goaway  bool // the server sent GOAWAY: likewise (guarded by smu)
	// goawayErr is what the streams the GOAWAY left out end with (guarded
	// by smu).
	goawayErr *unprocessedError
	nextID    uint32 // writer-only

	fmu      sync.Mutex
	sendWin  int32  // connection send window
	initWin  int32  // the server's SETTINGS_INITIAL_WINDOW_SIZE
	maxFrame uint32 // the server's SETTINGS_MAX_FRAME_SIZE

	// pending holds the written streams whose bodies are not all sent
	// (writer-only); dataWaiting says it is not empty, so that the reader
	// wakes the writer when a window grows. It is set before the writer
	// looks at the windows, and the reader looks at it after it grew
	// one, so no wake-up is lost.
	pending     []*stream
	dataWaiting atomic.Bool

	recvUnacked int          // reader-only
	frames      atomic.Int64 // frames read, for the keep-alive
	answered    atomic.Bool  // a response was complete: the server processes requests here
	closeOnce   sync.Once
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
		cn.finish(st, nil, cn.ended(), noReset)
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
// reset reaches the server before a stream that takes its place, and
// after the state is done, so no DATA follows it); the reserved stream
// is freed and done is called.
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
			cn.control(ctrlFrame{kind: ctrlReset, id: st.id, code: rst})
		}
	}
	if stop := st.stop.Load(); stop != nil {
		(*stop)()
	}
	cn.c.release(cn)
	st.done(resp, err)
	return true
}

// endCode is the RST_STREAM code for finishing a written stream early
// with code: none when both halves are closed (the server ended its
// half and we sent our whole request), CANCEL when only the server's is
// (it counts the stream open until we end ours), else code.
func endCode(st *stream, serverEnded bool, code http2.ErrCode) http2.ErrCode {
	if !serverEnded {
		return code
	}
	if len(st.req.Body) == 0 || st.bodySent.Load() {
		return noReset
	}
	return http2.ErrCodeCancel
}

// ended is what a request that the connection's end left unwritten ends
// with.
func (cn *conn) ended() *unprocessedError {
	if cn.answered.Load() {
		return errConnEnded
	}
	return errConnEndedIdle
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
