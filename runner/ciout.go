package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
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

// TAPCount is what a node's test printed in TAP (Test Anything Protocol):
// its top-level "ok" and "not ok" lines.
type TAPCount struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// tapCounter passes output through and counts its TAP test lines. Output
// is TAP (seen) once it has a "TAP version" or a plan line ("1..N"): go
// test's "ok  pkg" lines alone are not.
type tapCounter struct {
	w       io.Writer
	partial []byte
	count   TAPCount
	seen    bool
}

var tapPlan = regexp.MustCompile(`^1\.\.\d+\b`)

func (c *tapCounter) Write(b []byte) (int, error) {
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		c.line(string(bytes.TrimRight(c.partial[:i], "\r")))
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) > 64<<10 { // no TAP line is that long
		c.partial = c.partial[:0]
	}
	return c.w.Write(b)
}

// line counts one line. Indented lines are subtests, counted by their
// parent; "# SKIP" is skipped and "not ok … # TODO" no failure, as TAP
// says.
func (c *tapCounter) line(l string) {
	directive := ""
	if _, d, ok := strings.Cut(l, " # "); ok {
		directive = strings.ToUpper(d)
	}
	switch {
	case strings.HasPrefix(l, "TAP version ") || tapPlan.MatchString(l):
		c.seen = true
	case l == "ok" || strings.HasPrefix(l, "ok "):
		if strings.HasPrefix(directive, "SKIP") {
			c.count.Skipped++
		} else {
			c.count.Passed++
		}
	case l == "not ok" || strings.HasPrefix(l, "not ok "):
		switch {
		case strings.HasPrefix(directive, "TODO"):
		case strings.HasPrefix(directive, "SKIP"):
			c.count.Skipped++
		default:
			c.count.Failed++
		}
	}
}
