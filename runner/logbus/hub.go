package logbus

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Hub is the sink behind `logs` and live tails: a ring of recent lines and
// any number of subscribers. A subscriber that falls behind misses lines
// (counted) instead of slowing the bus.
type Hub struct {
	mu   sync.Mutex
	ring []Line
	next int // ring write position once full
	full bool
	subs map[*Subscription]struct{}
}

// NewHub keeps the last size lines.
func NewHub(size int) *Hub {
	return &Hub{ring: make([]Line, 0, size), subs: map[*Subscription]struct{}{}}
}

// Filter selects lines like `logs -d/-p/-s`.
type Filter struct {
	Dyno   string // exact process name, e.g. "web.1"
	Type   string // process type: matches "web" and "web.N"
	Source string // "app" or "heroku"
}

// Match reports whether l passes the filter.
func (f Filter) Match(l Line) bool {
	if f.Source != "" && l.Source != f.Source {
		return false
	}
	if f.Dyno != "" && l.Process != f.Dyno {
		return false
	}
	if f.Type != "" && l.Process != f.Type && !strings.HasPrefix(l.Process, f.Type+".") {
		return false
	}
	return true
}

// WriteBatch adds b's lines to the ring and offers them to subscribers.
func (h *Hub) WriteBatch(b *Batch) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b.Lines(func(text []byte) {
		l := Line{Time: b.Time, Source: b.Source, Process: b.Process, Text: string(text)}
		h.addLocked(l)
		for s := range h.subs {
			s.offer(l)
		}
	})
}

func (h *Hub) addLocked(l Line) {
	if cap(h.ring) == 0 {
		return
	}
	if !h.full {
		h.ring = append(h.ring, l)
		if len(h.ring) == cap(h.ring) {
			h.full = true
		}
		return
	}
	h.ring[h.next] = l
	h.next = (h.next + 1) % len(h.ring)
}

// Flush does nothing; lines are visible at once.
func (h *Hub) Flush() {}

// Preload seeds the ring with history (e.g. from a previous run).
func (h *Hub) Preload(lines []Line) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range lines {
		h.addLocked(l)
	}
}

// Recent returns up to n of the newest lines passing f, oldest first.
func (h *Hub) Recent(n int, f Filter) []Line {
	h.mu.Lock()
	defer h.mu.Unlock()
	all := make([]Line, 0, len(h.ring))
	if h.full {
		all = append(all, h.ring[h.next:]...)
		all = append(all, h.ring[:h.next]...)
	} else {
		all = append(all, h.ring...)
	}
	var out []Line
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		if f.Match(all[i]) {
			out = append(out, all[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Subscription is a live tail of the bus.
type Subscription struct {
	C      <-chan Line
	c      chan Line
	filter Filter
	missed atomic.Int64
	hub    *Hub
}

// Subscribe starts a tail of lines passing f, buffering up to buf lines.
func (h *Hub) Subscribe(f Filter, buf int) *Subscription {
	c := make(chan Line, buf)
	s := &Subscription{C: c, c: c, filter: f, hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (s *Subscription) offer(l Line) {
	if !s.filter.Match(l) {
		return
	}
	select {
	case s.c <- l:
	default:
		s.missed.Add(1)
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
