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
