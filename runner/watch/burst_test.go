package watch

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Bursts, made so that the machine's load cannot split them: a writer
// stalled past the debounce makes two bursts, rightly, so the tests hold
// the watcher's events until the burst is written, then hand them over
// while the watcher's loop waits.

// errHold, sent on a source's Errors, reaches Options.OnError on the
// watcher's loop: while OnError runs, the loop takes no event.
var errHold = errors.New("test: hold the loop")

// heldSource wraps fsnotify. After hold(marker) it keeps events back until
// the marker file's own event arrives (inotify keeps order, so every event
// of what was written before is in by then); then it holds the loop and
// queues them all at once.
type heldSource struct {
	Source
	mu      sync.Mutex
	marker  string // "" when not holding
	held    []fsnotify.Event
	events  chan fsnotify.Event
	errs    chan error
	queued  chan struct{} // the held events are queued; the loop may go on
	markers int
}

// markerPrefix starts the name of a marker file: its events are never
// delivered.
const markerPrefix = ".burst-marker-"

func newHeld() (*heldSource, error) {
	inner, err := NewFSNotify()
	if err != nil {
		return nil, err
	}
	s := &heldSource{Source: inner, events: make(chan fsnotify.Event, queueSize), errs: make(chan error), queued: make(chan struct{})}
	go func() {
		defer close(s.events)
		for ev := range inner.Events() {
			base := filepath.Base(ev.Name)
			s.mu.Lock()
			switch {
			case s.marker != "" && base == s.marker: // release
				held := s.held
				s.marker, s.held = "", nil
				s.mu.Unlock()
				s.errs <- errHold // returns once the loop has it
				// (more than queueSize held would block here: no test writes that much)
				for _, ev := range held {
					s.events <- ev
				}
				s.queued <- struct{}{}
			case strings.HasPrefix(base, markerPrefix):
				s.mu.Unlock() // a marker's later events (its write after its creation)
			case s.marker == "":
				s.mu.Unlock()
				s.events <- ev
			default:
				s.held = append(s.held, ev)
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

func (s *heldSource) Events() <-chan fsnotify.Event { return s.events }
func (s *heldSource) Errors() <-chan error          { return s.errs }

// onError is the watcher's Options.OnError.
func (s *heldSource) onError(err error) {
	if errors.Is(err, errHold) {
		<-s.queued
	}
}

// burst runs write with the watcher's events held back, then hands them
// over at once.
func (s *heldSource) burst(h *harness, write func()) {
	h.t.Helper()
	s.mu.Lock()
	s.markers++
	marker := fmt.Sprintf("%s%d", markerPrefix, s.markers)
	s.marker = marker
	s.mu.Unlock()
	write()
	h.write(marker, "") // its event ends the hold and is never delivered
}

func startHeld(t *testing.T, root string, opts Options) (*harness, *heldSource) {
	t.Helper()
	src, err := newHeld()
	if err != nil {
		t.Fatal(err)
	}
	opts.Source = func() (Source, error) { return src, nil }
	opts.OnError = src.onError
	return start(t, root, opts), src
}

func TestBurstIsOneCallback(t *testing.T) {
	h, src := startHeld(t, mkTree(t, "main.go"), Options{})
	src.burst(h, func() {
		for i := range 50 {
			h.write("main.go", fmt.Sprint("package main // ", i))
		}
	})
	c := h.next()
	if !slices.Equal(c.Paths, []string{"main.go"}) || !c.Code || c.Env || c.Overflow {
		t.Fatalf("got %+v", c)
	}
	h.quiet()
}

func TestCheckoutIsOneCallback(t *testing.T) {
	h, src := startHeld(t, mkTree(t, "go.mod"), Options{})
	// A git checkout: 200 files in new and existing directories.
	src.burst(h, func() {
		for i := range 200 {
			h.write(fmt.Sprintf("pkg%d/f%d.go", i%10, i), "package x")
		}
	})
	c := h.next()
	var files int
	for _, p := range c.Paths {
		if filepath.Ext(p) == ".go" {
			files++
		}
	}
	if files != 200 {
		t.Fatalf("got %d .go files in one callback, want 200: %v", files, c.Paths)
	}
	h.quiet()
}

// fakeSource is a Source the test feeds by hand.
type fakeSource struct {
	events chan fsnotify.Event
	errs   chan error
}

func (s *fakeSource) Add(string) error              { return nil }
func (s *fakeSource) Remove(string) error           { return nil }
func (s *fakeSource) Events() <-chan fsnotify.Event { return s.events }
func (s *fakeSource) Errors() <-chan error          { return s.errs }
func (s *fakeSource) Close() error                  { return nil }

// When the loop gets to a burst's events late — its timer has run out while
// more of the burst waits in the queue, as on a busy machine — the queued
// events still join the batch: one callback, not the first event alone.
func TestLateLoopKeepsQueuedEventsInTheBatch(t *testing.T) {
	root := mkTree(t, "go.mod")
	src := &fakeSource{events: make(chan fsnotify.Event, 64), errs: make(chan error)}
	const debounce = 20 * time.Millisecond
	stalled := make(chan func())
	var mu sync.Mutex
	flushes := 0 // a batch is delivered after Ignored is asked about it
	h := start(t, root, Options{
		Source:   func() (Source, error) { return src, nil },
		Debounce: debounce,
		OnError: func(err error) {
			if errors.Is(err, errHold) {
				(<-stalled)()
			}
		},
		Ignored: func(string, []string) map[string]bool {
			mu.Lock()
			flushes++
			mu.Unlock()
			return nil
		},
	})
	send := func(name string) {
		src.events <- fsnotify.Event{Name: filepath.Join(root, name), Op: fsnotify.Write}
	}
	// A loop without the fix lost this race in every run tried; 10
	// rounds make a lucky pass unlikely all the same.
	for round, tries := 0, 0; round < 10; tries++ {
		if tries == 1000 {
			t.Fatalf("only %d rounds in %d tries: the test could not stall the loop in time", round, tries)
		}
		for _, name := range []string{"a.go", "b.go", "c.go"} {
			h.write(name, fmt.Sprint(tries))
		}
		mu.Lock()
		before := flushes
		mu.Unlock()
		send("a.go")
		waitFor(t, func() bool { return len(src.events) == 0 })
		src.errs <- errHold // the loop has handled a.go: its timer runs
		early := make(chan bool, 1)
		stalled <- func() {
			mu.Lock()
			flushed := flushes != before
			mu.Unlock()
			early <- flushed
			if flushed {
				return
			}
			send("b.go")
			send("c.go")
			// The loop, stalled, outlives its debounce (due was set before
			// the stall): this is the late loop, not a wait for something.
			time.Sleep(2 * debounce)
		}
		void := <-early
		c := h.next()
		if void {
			// The machine was slower than the debounce before the stall
			// began: a.go was rightly delivered alone. Not the case tested.
			if !slices.Equal(c.Paths, []string{"a.go"}) {
				t.Fatalf("got %+v, want a.go", c)
			}
			continue
		}
		if !slices.Equal(c.Paths, []string{"a.go", "b.go", "c.go"}) {
			t.Fatalf("round %d: got %+v, want a.go, b.go and c.go in one callback", round, c)
		}
		round++
	}
}
