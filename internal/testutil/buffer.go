// Package testutil holds small helpers that tests of several packages
// share. Only tests import it; it is not part of the binary.
package testutil

import (
	"bytes"
	"sync"
)

// Buffer collects what a process or a goroutine writes while a test reads
// it: a bytes.Buffer whose methods may be called concurrently.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
