package logbus

import (
	"bytes"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// MaxLine is the longest line relayed whole; longer lines are split into
// pieces of at most this size (Heroku splits at 10000 bytes; we keep more so
// long JSON log lines usually stay whole, but memory stays bounded).
const MaxLine = 64 << 10

// outputWait is how long a dyno's output may wait for a full bus before its
// lines are dropped: long enough to ride out a burst, short enough that a
// stuck terminal never stalls the app.
const outputWait = 250 * time.Millisecond

func indexNewline(b []byte) int { return bytes.IndexByte(b, '\n') }

// Pump reads r until EOF and publishes its output line by line as source
// and process. A last line without newline is still published. When the bus
// stays full, lines are dropped rather than blocking the writer, and a
// Logplex-style L10 line reports how many were lost.
func Pump(bus *Bus, r io.Reader, source, process string) {
	buf := make([]byte, MaxLine)
	n := 0 // bytes of buf holding an incomplete line
	var dropped int
	var droppedSince time.Time
	publish := func(data []byte) {
		batch := &Batch{Time: time.Now(), Source: source, Process: process, Data: data}
		wait := outputWait
		if dropped > 0 {
			wait = 0 // already overflowing: do not stall the dyno again
		}
		if bus.Publish(batch, wait) {
			// The report waits no longer than an event (the dyno's output
			// waits meanwhile); if the bus is still full, the count goes on
			// and is reported with the next line through, or at the end.
			if dropped > 0 && bus.Publish(l10(source, process, dropped, droppedSince), eventWait) {
				dropped = 0
			}
			return
		}
		if dropped == 0 {
			droppedSince = batch.Time
		}
		dropped += batch.LineCount()
	}
	for {
		m, err := r.Read(buf[n:])
		n += m
		if end := bytes.LastIndexByte(buf[:n], '\n'); end >= 0 {
			publish(bytes.Clone(buf[:end+1]))
			n = copy(buf, buf[end+1:n])
		} else if n == len(buf) {
			// A line longer than MaxLine: emit a piece, cut at a rune boundary.
			cut := runeBoundary(buf[:n])
			piece := make([]byte, cut+1)
			copy(piece, buf[:cut])
			piece[cut] = '\n'
			publish(piece)
			n = copy(buf, buf[cut:n])
		}
		if err != nil {
			if n > 0 {
				publish(append(bytes.Clone(buf[:n]), '\n'))
			}
			if dropped > 0 {
				// Report the loss even though the stream ended, waiting
				// until the bus takes it (nothing waits on this reader
				// any more): a loss nobody hears of looks like a quiet
				// dyno.
				bus.report(l10(source, process, dropped, droppedSince))
			}
			return
		}
	}
}

// l10 is Logplex's report that dropped lines of source[process] were lost
// since a time.
func l10(source, process string, dropped int, since time.Time) *Batch {
	return &Batch{Time: time.Now(), Source: SourceHeroku, Process: "logplex", Data: []byte(fmt.Sprintf(
		"Error L10 (output buffer overflow): %d messages dropped since %s from %s[%s]\n",
		dropped, since.UTC().Format(LogplexTime), source, process))}
}

// runeBoundary returns a cut point in b (len(b) > 0) that does not split a
// UTF-8 sequence, unless the tail is not valid UTF-8 anyway.
func runeBoundary(b []byte) int {
	for i := len(b); i > len(b)-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i-1]) {
			if utf8.FullRune(b[i-1:]) {
				return len(b)
			}
			if i-1 > 0 {
				return i - 1
			}
			return len(b)
		}
	}
	return len(b)
}
