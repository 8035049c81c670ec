package h2client

import (
	"runtime"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func (cn *conn) writeLoop() {
	for {
		select {
		case <-cn.kick:
		case <-cn.dead:
			return
		}
		// Write whatever is queued and whatever bodies the windows let
		// through, again until there is nothing, then flush once. Before
		// the flush, yield once: the callers a batch of responses just
		// woke often have their next requests ready to join this write.
		yielded := false
		for {
			n, ok := cn.writeQueued()
			if !ok {
				return
			}
			m, ok := cn.writePending()
			if !ok {
				return
			}
			if n+m > 0 {
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
				cn.finish(rest, nil, cn.ended(), noReset)
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
		cn.finish(st, nil, errConnEnded, noReset)
		cn.c.retire(cn)
		return true
	}
	cn.smu.Lock()
	if cn.gone || cn.goaway {
		gone, why := cn.gone, cn.goawayErr
		cn.smu.Unlock()
		if gone {
			why = cn.ended()
		}
		cn.finish(st, nil, why, noReset)
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
	if endStream {
		return true
	}
	// The body: what the windows allow now, the rest from pending.
	if len(cn.pending) == 0 {
		if n := cn.quota(st); n > 0 && !cn.writeData(st, n) {
			return false
		}
		if st.sent == len(req.Body) {
			return true
		}
	}
	cn.pending = append(cn.pending, st)
	cn.dataWaiting.Store(true)
	return true
}

// writePending writes the bodies in pending as far as the windows allow,
// a frame per stream in turn, up to dataBurst bytes; it reports how many
// bytes it wrote, false when the connection failed. Streams that ended
// meanwhile leave pending without another frame: finish reset them.
func (cn *conn) writePending() (int, bool) {
	if len(cn.pending) == 0 {
		return 0, true
	}
	total := 0
	for total < dataBurst && len(cn.pending) > 0 {
		wrote := 0
		live := cn.pending[:0]
		for _, st := range cn.pending {
			if st.state.Load() == done {
				continue
			}
			if n := cn.quota(st); n > 0 {
				if !cn.writeData(st, n) {
					return 0, false
				}
				wrote += n
			}
			if st.sent < len(st.req.Body) {
				live = append(live, st)
			}
		}
		clear(cn.pending[len(live):])
		cn.pending = live
		total += wrote
		if wrote == 0 {
			break
		}
	}
	if len(cn.pending) == 0 {
		cn.dataWaiting.Store(false)
	}
	return total, true
}

// writeData writes the next n bytes of st's body in one DATA frame;
// false when the connection failed.
func (cn *conn) writeData(st *stream, n int) bool {
	body := st.req.Body
	last := st.sent+n == len(body)
	if err := cn.wfr.WriteData(st.id, last, body[st.sent:st.sent+n]); err != nil {
		cn.close(err)
		return false
	}
	st.sent += n
	if last {
		st.bodySent.Store(true)
	}
	return true
}

// quota takes flow-control window for st's next DATA frame and returns
// its size: 0 when a window is closed, or st ended (checked before every
// DATA frame, so no DATA follows the RST_STREAM finish queues).
func (cn *conn) quota(st *stream) int {
	if st.state.Load() == done {
		return 0
	}
	cn.fmu.Lock()
	n := min(len(st.req.Body)-st.sent, int(cn.sendWin), int(st.sendWin), int(cn.maxFrame))
	if n <= 0 {
		cn.fmu.Unlock()
		return 0
	}
	cn.sendWin -= int32(n)
	st.sendWin -= int32(n)
	cn.fmu.Unlock()
	return n
}

func (cn *conn) writeField(name, value string, once bool) {
	_ = cn.henc.WriteField(hpack.HeaderField{Name: name, Value: value, Sensitive: once})
}
