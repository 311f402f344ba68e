package logbus

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Hub is the sink behind `logs` and live tails: the most recent lines and
// any number of subscribers. It keeps and hands out whole batches (each is
// from one process), so a flood of lines costs no allocation per line. A
// subscriber that falls behind misses lines (counted) instead of slowing
// the bus.
type Hub struct {
	size int

	mu      sync.Mutex
	batches []*Batch // oldest first; trimmed to about size lines
	lines   int
	subs    map[*Subscription]struct{}
}

// NewHub keeps at least the last size lines.
func NewHub(size int) *Hub {
	return &Hub{size: size, subs: map[*Subscription]struct{}{}}
}

// Filter selects lines like `logs -d/-p/-s`.
type Filter struct {
	Dyno   string // exact process name, e.g. "web.1"
	Type   string // process type: matches "web" and "web.N"
	Source string // "app" or "heroku"
}

// Match reports whether lines from source and process pass the filter.
func (f Filter) Match(source, process string) bool {
	if f.Source != "" && source != f.Source {
		return false
	}
	if f.Dyno != "" && process != f.Dyno {
		return false
	}
	if f.Type != "" && process != f.Type && !strings.HasPrefix(process, f.Type+".") {
		return false
	}
	return true
}

// WriteBatch keeps b and offers it to subscribers.
func (h *Hub) WriteBatch(b *Batch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addLocked(b)
	for s := range h.subs {
		s.offer(b)
	}
}

func (h *Hub) addLocked(b *Batch) {
	h.batches = append(h.batches, b)
	h.lines += b.LineCount()
	for len(h.batches) > 1 && h.lines-h.batches[0].LineCount() >= h.size {
		h.lines -= h.batches[0].LineCount()
		h.batches[0] = nil
		h.batches = h.batches[1:]
	}
}

// Flush does nothing; lines are visible at once.
func (h *Hub) Flush() {}

// Preload seeds the hub with history (e.g. from a previous run).
func (h *Hub) Preload(lines []Line) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range lines {
		h.addLocked(&Batch{Time: l.Time, Source: l.Source, Process: l.Process, Data: []byte(l.Text + "\n")})
	}
}

// Recent returns up to n of the newest lines passing f, oldest first.
func (h *Hub) Recent(n int, f Filter) []Line {
	h.mu.Lock()
	batches := append([]*Batch(nil), h.batches...)
	h.mu.Unlock()
	var picked []*Batch
	count := 0
	for i := len(batches) - 1; i >= 0 && count < n; i-- {
		if b := batches[i]; f.Match(b.Source, b.Process) {
			picked = append(picked, b)
			count += b.LineCount()
		}
	}
	out := make([]Line, 0, count)
	for i := len(picked) - 1; i >= 0; i-- {
		out = picked[i].AppendLines(out)
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// Subscription is a live tail of the bus.
type Subscription struct {
	C      <-chan *Batch
	c      chan *Batch
	filter Filter
	missed atomic.Int64
	hub    *Hub
}

// Subscribe starts a tail of lines passing f, buffering up to buf batches.
func (h *Hub) Subscribe(f Filter, buf int) *Subscription {
	c := make(chan *Batch, buf)
	s := &Subscription{C: c, c: c, filter: f, hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (s *Subscription) offer(b *Batch) {
	if !s.filter.Match(b.Source, b.Process) {
		return
	}
	select {
	case s.c <- b:
	default:
		s.missed.Add(int64(b.LineCount()))
	}
}

// TakeMissed returns how many lines were missed since the last call.
func (s *Subscription) TakeMissed() int64 { return s.missed.Swap(0) }

// Close ends the subscription; C is closed.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		delete(s.hub.subs, s)
		close(s.c)
	}
}
