// Package logbus carries every log line of a running app — dyno output and
// platform events — from many writers to a few sinks (the terminal, the
// saved history, the hub behind logs --tail and the dashboard), without
// interleaving lines and without letting a slow sink block a dyno for long.
//
// Its contract: New starts nothing; Run(ctx) delivers until ctx ends or
// Close is called, then writes and flushes what was queued before and
// returns; Close waits for that. A writer waits
// at most a bounded time for a full bus (Publish), then its lines are
// counted as dropped; a hub subscriber that falls behind loses lines and
// is told how many (Subscription.TakeMissed). Tests use logbustest.Memory
// as a sink.
package logbus

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// Sources of lines, as in Heroku's Logplex.
const (
	SourceApp    = "app"
	SourceHeroku = "heroku"
)

// Batch is a run of whole lines from one process, read at one time. Data
// holds one or more lines, each ending in '\n'. Batches are immutable once
// published: sinks that keep lines must copy them.
type Batch struct {
	Time    time.Time
	Source  string
	Process string
	Data    []byte
	lines   int // counted once, lazily
}

// LineCount is the number of lines in the batch.
func (b *Batch) LineCount() int {
	if b.lines == 0 {
		b.lines = bytes.Count(b.Data, []byte{'\n'})
	}
	return b.lines
}

// AppendLines appends the batch's lines to out as Lines.
func (b *Batch) AppendLines(out []Line) []Line {
	b.Lines(func(text []byte) {
		out = append(out, Line{Time: b.Time, Source: b.Source, Process: b.Process, Text: string(text)})
	})
	return out
}

// Lines calls fn for each line of the batch, without its newline.
func (b *Batch) Lines(fn func(line []byte)) {
	data := b.Data
	for len(data) > 0 {
		i := indexNewline(data)
		if i < 0 {
			fn(data)
			return
		}
		fn(data[:i])
		data = data[i+1:]
	}
}

// Sink receives batches from the bus goroutine, one at a time, in order.
// Flush is called whenever the bus has nothing queued.
type Sink interface {
	WriteBatch(b *Batch)
	Flush()
}

// Bus fans batches from many publishers out to its sinks on one goroutine,
// so lines are never interleaved.
type Bus struct {
	in    chan *Batch
	sinks []Sink
	done  chan struct{}

	mu     sync.RWMutex // guards closed against sends on a closed channel
	closed bool
}

// Capacity bounds how many batches may wait for the sinks; with reads of at
// most MaxLine bytes this bounds the bus's memory to a few megabytes.
const Capacity = 256

// New returns a bus writing to sinks; it starts nothing until Run.
func New(sinks ...Sink) *Bus {
	return &Bus{in: make(chan *Batch, Capacity), sinks: sinks, done: make(chan struct{})}
}

// Run delivers batches until ctx ends or Close is called: then the bus
// takes no more, and Run returns once every queued batch has been written
// and flushed. It returns nil: a sink has no error to report.
func (b *Bus) Run(ctx context.Context) error {
	defer close(b.done)
	defer context.AfterFunc(ctx, b.shut)()
	for batch := range b.in {
		for _, s := range b.sinks {
			s.WriteBatch(batch)
		}
		if len(b.in) == 0 {
			for _, s := range b.sinks {
				s.Flush()
			}
		}
	}
	for _, s := range b.sinks {
		s.Flush()
	}
	return nil
}

// Publish queues a batch, waiting at most wait for room. It reports whether
// the batch was queued; a false return means the caller should count the
// lines as dropped. Publishing after Close drops silently.
func (b *Bus) Publish(batch *Batch, wait time.Duration) bool {
	batch.LineCount() // counted before the batch is shared between goroutines
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return false
	}
	select {
	case b.in <- batch:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case b.in <- batch:
		return true
	case <-t.C:
		return false
	}
}

// eventWait is how long a platform event may wait for a full bus: events
// are few and matter, so they wait longer than dyno output.
const eventWait = 2 * time.Second

// Event publishes one platform line, e.g. Event("heroku", "web.1", "State changed from starting to up").
func (b *Bus) Event(source, process, msg string) {
	data := make([]byte, 0, len(msg)+1)
	data = append(data, msg...)
	data = append(data, '\n')
	b.Publish(&Batch{Time: time.Now(), Source: source, Process: process, Data: data}, eventWait)
}

// report publishes a platform line that must not be lost while the bus
// runs — the count of lines a writer lost (L10) after its stream ended: it
// waits for room until the bus takes it or is closed. However slowly the
// sinks drain under load, a loss is never silent; only the caller's
// goroutine waits, never a dyno. It reports whether the line was queued.
func (b *Bus) report(batch *Batch) bool {
	for {
		if b.Publish(batch, eventWait) {
			return true
		}
		b.mu.RLock()
		closed := b.closed
		b.mu.RUnlock()
		if closed {
			return false
		}
	}
}

// Close stops accepting batches and waits until the sinks have written and
// flushed everything already queued (Run has returned).
func (b *Bus) Close() {
	b.shut()
	<-b.done
}

// shut stops accepting batches: Run drains what is queued and returns.
func (b *Bus) shut() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.in)
	}
	b.mu.Unlock()
}
