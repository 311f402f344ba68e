package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// pipeTo is a pipe whose output is copied to w; wait, after the caller
// closed the write end, waits for the copy to end. A script's stdout is
// a file, not a Go writer: exec would otherwise wait for every holder of
// the pipe, such as a background job of the test, before the one-off
// dyno could kill it. A holder that escaped the kill is waited for
// briefly, then cut off.
func pipeTo(w io.Writer) (*os.File, func(), error) {
	r, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		io.Copy(w, r)
		close(done)
	}()
	wait := func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			r.Close() // ends the copy
			<-done
		}
		r.Close()
	}
	return pw, wait, nil
}

// lockedWriter serialises writes from parallel nodes; stdout and stderr
// share mu (they may be one terminal, or one buffer).
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes whole lines, each after its node's prefix ("node.1 |
// "), so the output of parallel nodes interleaves by line, as Heroku CI
// shows each node's.
type prefixWriter struct {
	w      io.Writer
	prefix []byte
	mu     sync.Mutex
	buf    []byte
}

func newPrefixWriter(w io.Writer, index int) *prefixWriter {
	return &prefixWriter{w: w, prefix: []byte(fmt.Sprintf("node.%d | ", index))}
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte{}, p.prefix...), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}

// flushPrefix writes what is left of a last line without a newline.
func flushPrefix(w io.Writer) {
	p, ok := w.(*prefixWriter)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		p.w.Write(append(append(append([]byte{}, p.prefix...), p.buf...), '\n'))
		p.buf = nil
	}
}
