package logbus

import (
	"bufio"
	"io"
	"time"
)

// LogplexTime is Logplex's timestamp: RFC 3339 with microseconds and offset.
const LogplexTime = "2006-01-02T15:04:05.000000-07:00"

// Format selects how the terminal renders lines.
type Format int

const (
	// Compact is "15:04:05 app[web.1] | text", aligned, coloured on a TTY.
	Compact Format = iota
	// Logplex is Heroku's full line: "2026-11-26T08:41:17.123456+00:00 app[web.1]: text".
	Logplex
)

// ParseFormat maps a --log-format value to a Format.
func ParseFormat(s string) (Format, bool) {
	switch s {
	case "compact", "":
		return Compact, true
	case "logplex", "heroku":
		return Logplex, true
	}
	return 0, false
}

// palette: readable on dark and light backgrounds; red is left for errors.
var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// Terminal writes batches to a terminal or file. It is a Sink and is only
// ever called from the bus goroutine.
type Terminal struct {
	w      *bufio.Writer
	format Format
	color  bool
	loc    *time.Location

	width  int               // widest "source[process]" seen, for alignment
	colors map[string]string // process → colour code
	prefix []byte            // scratch
}

// NewTerminal writes to w; color adds ANSI colours per process.
func NewTerminal(w io.Writer, format Format, color bool) *Terminal {
	return &Terminal{
		w:      bufio.NewWriterSize(w, 64<<10),
		format: format,
		color:  color,
		loc:    time.Local,
		colors: map[string]string{},
	}
}

// WriteBatch renders each line of b with one prefix built per batch.
func (t *Terminal) WriteBatch(b *Batch) {
	p := t.buildPrefix(b)
	data := b.Data
	for len(data) > 0 {
		i := indexNewline(data)
		if i < 0 {
			i = len(data) - 1 // cannot happen for well-formed batches; keep the bytes anyway
		}
		t.w.Write(p)
		t.w.Write(data[:i+1])
		data = data[i+1:]
	}
}

// Flush writes out buffered output.
func (t *Terminal) Flush() { t.w.Flush() }

func (t *Terminal) buildPrefix(b *Batch) []byte {
	p := t.prefix[:0]
	name := len(b.Source) + 2 + len(b.Process)
	if t.format == Logplex {
		p = b.Time.In(t.loc).AppendFormat(p, LogplexTime)
		p = append(p, ' ')
		p = appendName(p, b)
		p = append(p, ": "...)
		t.prefix = p
		return p
	}
	if name > t.width {
		t.width = name
	}
	if t.color {
		p = append(p, "\x1b["...)
		p = append(p, t.colorOf(b.Process)...)
		p = append(p, 'm')
	}
	p = b.Time.In(t.loc).AppendFormat(p, "15:04:05")
	p = append(p, ' ')
	p = appendName(p, b)
	for i := name; i < t.width; i++ {
		p = append(p, ' ')
	}
	p = append(p, " |"...)
	if t.color {
		p = append(p, "\x1b[0m"...)
	}
	p = append(p, ' ')
	t.prefix = p
	return p
}

func appendName(p []byte, b *Batch) []byte {
	p = append(p, b.Source...)
	p = append(p, '[')
	p = append(p, b.Process...)
	return append(p, ']')
}

func (t *Terminal) colorOf(process string) string {
	if c, ok := t.colors[process]; ok {
		return c
	}
	c := palette[len(t.colors)%len(palette)]
	if process == "router" {
		c = "90" // grey: router lines are many and secondary
	}
	t.colors[process] = c
	return c
}

// Align widens the name column to fit labels such as "heroku[worker.2]", so
// the first lines are already aligned. Call it before the bus runs.
func (t *Terminal) Align(labels ...string) {
	for _, l := range labels {
		if len(l) > t.width {
			t.width = len(l)
		}
	}
}
