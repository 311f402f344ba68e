package testutil

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Writers on many goroutines and a reader meanwhile: every write lands
// whole (go test -race checks the locking).
func TestBufferTakesConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "w%d\n", i)
				_ = b.Len()
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 || b.Len() != 8*100*3 {
		t.Fatalf("%d lines, %d bytes; want 800 lines of 3 bytes", n, b.Len())
	}
}
