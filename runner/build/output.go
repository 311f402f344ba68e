package build

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

const (
	// maxLine splits longer lines into pieces, as the log bus does.
	maxLine = 64 << 10
	// tailSize bounds Result.Output.
	tailSize = 64 << 10
)

// output fans build output out to the log, one call per line, and keeps the
// last tailSize bytes for Result.Output.
type output struct {
	mu   sync.Mutex
	log  func(string)
	tail []byte
}

func (o *output) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.log != nil {
		o.log(s)
	}
	o.tail = append(o.tail, s...)
	o.tail = append(o.tail, '\n')
	if len(o.tail) > 2*tailSize {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailSize:]...)
	}
}

// copyFrom reads r to EOF (or error), line by line; a last line without a
// newline counts too.
func (o *output) copyFrom(r io.Reader) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		l, err := br.ReadSlice('\n')
		if len(l) > 0 {
			o.line(string(bytes.TrimRight(l, "\r\n")))
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// String is the kept tail, starting at a line boundary.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tail
	if len(t) > tailSize {
		t = t[len(t)-tailSize:]
		if i := bytes.IndexByte(t, '\n'); i >= 0 {
			t = t[i+1:]
		}
	}
	return string(t)
}
