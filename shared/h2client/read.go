package h2client

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

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
	lost := fmt.Errorf("%w: %w", ErrConnLost, cn.err)
	for _, st := range streams {
		cn.finish(st, nil, lost, noReset)
	}
	// Queued and never written (the writer may have dropped some with
	// the buffer it could not flush: those are in streams, as written).
	for _, st := range queue {
		cn.finish(st, nil, cn.ended(), noReset)
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
			if err := cn.onHeaders(f.StreamID, f.HeaderBlockFragment(), true, f.HeadersEnded()); err != nil {
				return err
			}
		case *http2.ContinuationFrame:
			if err := cn.onHeaders(f.StreamID, f.HeaderBlockFragment(), false, f.HeadersEnded()); err != nil {
				return err
			}
		case *http2.DataFrame:
			cn.onData(f)
		case *http2.RSTStreamFrame:
			if st := cn.lookup(f.StreamID); st != nil {
				var err error = &ResetError{Code: f.ErrCode.String()}
				if f.ErrCode == http2.ErrCodeRefusedStream {
					err = errRefused
				}
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
	cn.fmu.Unlock()
	if cn.dataWaiting.Load() {
		cn.wakeWriter()
	}
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
			cn.fmu.Unlock()
			cn.smu.Unlock()
			if delta > 0 && cn.dataWaiting.Load() {
				cn.wakeWriter()
			}
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
// even when the stream is gone or its list over the limit, to keep the
// HPACK state in step).
func (cn *conn) onHeaders(id uint32, frag []byte, first, ended bool) error {
	st := cn.lookup(id)
	if first {
		cn.cur, cn.curRaw = st, 0
		if st != nil && st.hdrsDone {
			cn.cur = nil // trailers: decoded and dropped
		}
		cn.hdec.SetEmitEnabled(cn.cur != nil)
	}
	cn.curRaw += len(frag)
	if cn.curRaw > 4*cn.c.cfg.MaxResponseHeader {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
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
			code := http2.ErrCodeProtocol
			if errors.Is(st.hdrErr, ErrResponseTooLarge) {
				code = http2.ErrCodeCancel
			}
			cn.finish(st, nil, st.hdrErr, endCode(st, cn.curEnds, code))
			return nil
		}
		if st.status >= 100 && st.status < 200 {
			st.status, st.header, st.hdrSize = 0, nil, 0 // informational: the real answer follows
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
	st.hdrSize += int32(f.Size())
	if int(st.hdrSize) > cn.c.cfg.MaxResponseHeader {
		st.hdrErr = fmt.Errorf("%w: header list over %d bytes", ErrResponseTooLarge, cn.c.cfg.MaxResponseHeader)
		st.header = nil
		cn.hdec.SetEmitEnabled(false) // decode the rest without keeping it
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
		cn.finish(st, nil, errors.New("h2client: DATA before response headers"), endCode(st, f.StreamEnded(), http2.ErrCodeProtocol))
		return
	}
	data := f.Data()
	if len(st.body)+len(data) > cn.c.cfg.MaxResponseBody {
		err := fmt.Errorf("%w: body over %d bytes", ErrResponseTooLarge, cn.c.cfg.MaxResponseBody)
		cn.finish(st, nil, err, endCode(st, f.StreamEnded(), http2.ErrCodeCancel))
		return
	}
	st.body = append(st.body, data...)
	if f.StreamEnded() {
		cn.complete(st)
		return
	}
	st.recvUnacked += int32(n)
	if st.recvUnacked >= ourStreamWindow/2 {
		cn.control(ctrlFrame{kind: ctrlWindow, id: f.StreamID, n: uint32(st.recvUnacked)})
		st.recvUnacked = 0
	}
}

// complete finishes st with its response, which the server ended.
func (cn *conn) complete(st *stream) {
	if st.status == 0 {
		cn.finish(st, nil, errors.New("h2client: response without :status"), endCode(st, true, http2.ErrCodeProtocol))
		return
	}
	if !cn.answered.Load() {
		cn.answered.Store(true)
	}
	resp := &Response{Status: st.status, Header: st.header, Body: st.body}
	cn.finish(st, resp, nil, endCode(st, true, noReset))
}

// onGoAway retires the connection: streams above last were not processed
// and are retried elsewhere; the rest finish here.
func (cn *conn) onGoAway(last uint32) {
	cn.c.retire(cn)
	why := errGoAway
	if last == 0 {
		why = errGoAwayAll
	}
	cn.smu.Lock()
	if !cn.goaway || last == 0 {
		cn.goaway, cn.goawayErr = true, why
	}
	why = cn.goawayErr
	var unprocessed []*stream
	for id, st := range cn.streams {
		if id > last {
			unprocessed = append(unprocessed, st)
		}
	}
	cn.smu.Unlock()
	for _, st := range unprocessed {
		cn.finish(st, nil, why, noReset)
	}
}

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
