// Package logbustest is a log sink for tests: it keeps the lines a bus
// delivers and waits for the one a test expects. It is not part of the
// binary.
package logbustest

import (
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/runner/logbus"
)

// Memory is a sink that keeps the last Max lines. Waiters are woken on
// every batch.
type Memory struct {
	Max int

	mu      sync.Mutex
	lines   []logbus.Line
	changed chan struct{}
}

// NewMemory keeps up to max lines.
func NewMemory(max int) *Memory { return &Memory{Max: max, changed: make(chan struct{})} }

// WriteBatch copies b's lines.
func (m *Memory) WriteBatch(b *logbus.Batch) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b.Lines(func(line []byte) {
		m.lines = append(m.lines, logbus.Line{Time: b.Time, Source: b.Source, Process: b.Process, Text: string(line)})
	})
	if over := len(m.lines) - m.Max; m.Max > 0 && over > 0 {
		m.lines = append(m.lines[:0], m.lines[over:]...)
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// Flush does nothing: lines are visible as soon as they are written.
func (m *Memory) Flush() {}

// Lines returns a copy of the kept lines.
func (m *Memory) Lines() []logbus.Line {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]logbus.Line(nil), m.lines...)
}

// WaitFor waits until a line from source and process (any if "") contains
// text, and returns it; ok is false on timeout.
func (m *Memory) WaitFor(source, process, text string, timeout time.Duration) (logbus.Line, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		m.mu.Lock()
		for _, l := range m.lines {
			if matches(&l, source, process, text) {
				m.mu.Unlock()
				return l, true
			}
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return logbus.Line{}, false
		}
	}
}

// Count returns how many lines from source and process contain text.
func (m *Memory) Count(source, process, text string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, l := range m.lines {
		if matches(&l, source, process, text) {
			n++
		}
	}
	return n
}

func matches(l *logbus.Line, source, process, text string) bool {
	return (source == "" || l.Source == source) && (process == "" || l.Process == process) && strings.Contains(l.Text, text)
}
