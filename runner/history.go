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
// once a second (Run). Between saves it holds only the newest
// HistoryLines, so a flooding dyno costs at most one bounded write a
// second and is never blocked by the disk.
type History struct {
	store *state.Store

	mu      sync.Mutex
	pending []*logbus.Batch // newest last; trimmed to about HistoryLines lines
	lines   int
}

// NewHistory returns a history saving to store; it saves nothing until Run.
func NewHistory(store *state.Store) *History { return &History{store: store} }

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

// Run saves once a second until ctx ends, then saves what is pending
// (the bus, closed first, has delivered its last lines) and returns.
func (h *History) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			h.save()
		case <-ctx.Done():
			h.save()
			return nil
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
// goroutine (Run), so a dyno never waits for the disk.
type EventLog struct {
	store *state.Store
	ch    chan StateChange
}

// NewEventLog returns an event log for store; it records from Run on.
func NewEventLog(store *state.Store) *EventLog {
	return &EventLog{store: store, ch: make(chan StateChange, 1024)}
}

// Record queues a change; when the queue is full the change is dropped
// (the log bus has it anyway).
func (e *EventLog) Record(c StateChange) {
	select {
	case e.ch <- c:
	default:
	}
}

// Run writes the changes queued until ctx ends, then those still queued.
func (e *EventLog) Run(ctx context.Context) error {
	for {
		select {
		case c := <-e.ch:
			e.write(c)
		case <-ctx.Done():
			for {
				select {
				case c := <-e.ch:
					e.write(c)
				default:
					return nil
				}
			}
		}
	}
}

func (e *EventLog) write(c StateChange) {
	e.store.AddDynoEvent(state.DynoEvent{At: c.Time, Dyno: c.Dyno, Type: c.Type, From: string(c.From), To: string(c.To), ExitStatus: c.ExitStatus})
}
