package runner

import (
	"context"
	"sync"
	"time"

	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// HistoryLines is how many log lines the state database keeps: more than
// Logplex's 1500.
const HistoryLines = 5000

// History is a log sink that saves the newest lines to the state database
// once a second. Between saves it holds only the newest HistoryLines, so a
// flooding dyno costs at most one bounded write a second and is never
// blocked by the disk.
type History struct {
	store *state.Store

	mu      sync.Mutex
	pending []*logbus.Batch // newest last; trimmed to about HistoryLines lines
	lines   int

	stop chan struct{}
	done chan struct{}
}

// NewHistory starts saving to store; Close saves the rest and stops.
func NewHistory(store *state.Store) *History {
	h := &History{store: store, stop: make(chan struct{}), done: make(chan struct{})}
	go h.loop()
	return h
}

// WriteBatch keeps a reference to b (batches are immutable).
func (h *History) WriteBatch(b *logbus.Batch) {
	h.mu.Lock()
	h.pending = append(h.pending, b)
	h.lines += b.LineCount()
	for len(h.pending) > 1 && h.lines-h.pending[0].LineCount() >= HistoryLines {
		h.lines -= h.pending[0].LineCount()
		h.pending[0] = nil
		h.pending = h.pending[1:]
	}
	h.mu.Unlock()
}

// Flush does nothing: saving happens on the history's own clock.
func (h *History) Flush() {}

func (h *History) loop() {
	defer close(h.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			h.save()
		case <-h.stop:
			h.save()
			return
		}
	}
}

func (h *History) save() {
	h.mu.Lock()
	batches := h.pending
	h.pending, h.lines = nil, 0
	h.mu.Unlock()
	if len(batches) == 0 {
		return
	}
	var lines []state.LogLine
	for _, b := range batches {
		b.Lines(func(text []byte) {
			lines = append(lines, state.LogLine{At: b.Time, Source: b.Source, Process: b.Process, Text: string(text)})
		})
	}
	if len(lines) > HistoryLines {
		lines = lines[len(lines)-HistoryLines:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.store.AppendLogs(ctx, lines, HistoryLines) // history is best effort; the terminal has every line
}

// Close saves what is pending and stops.
func (h *History) Close() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

// LoadHistory returns the saved lines as bus lines, oldest first.
func LoadHistory(store *state.Store, n int) []logbus.Line {
	saved, err := store.RecentLogs(n)
	if err != nil {
		return nil
	}
	out := make([]logbus.Line, len(saved))
	for i, l := range saved {
		out[i] = logbus.Line{Time: l.At, Source: l.Source, Process: l.Process, Text: l.Text}
	}
	return out
}

// EventLog records dyno state changes in the state database on its own
// goroutine, so a dyno never waits for the disk.
type EventLog struct {
	store *state.Store
	ch    chan StateChange
	done  chan struct{}

	mu     sync.Mutex // guards closed against a send on a closed channel
	closed bool
}

// NewEventLog starts recording; Close drains and stops.
func NewEventLog(store *state.Store) *EventLog {
	e := &EventLog{store: store, ch: make(chan StateChange, 1024), done: make(chan struct{})}
	go func() {
		defer close(e.done)
		for c := range e.ch {
			e.store.AddDynoEvent(state.DynoEvent{At: c.Time, Dyno: c.Dyno, Type: c.Type, From: string(c.From), To: string(c.To), ExitStatus: c.ExitStatus})
		}
	}()
	return e
}

// Record queues a change; when the queue is full the change is dropped
// (the log bus has it anyway).
func (e *EventLog) Record(c StateChange) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	select {
	case e.ch <- c:
	default:
	}
}

// Close writes what is queued and stops.
func (e *EventLog) Close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.ch)
	}
	e.mu.Unlock()
	<-e.done
}
