package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkEventToCallback measures a save's way to the callback: a file
// write until fn is called. The debounce is the bulk of it by design; the
// "ms-beyond-debounce" metric is our own overhead (inotify, the event loop,
// the timer).
func BenchmarkEventToCallback(b *testing.B) {
	root := mkTree(b, "go.mod")
	// A tree of 100 directories, the file deep in it.
	for i := range 50 {
		_ = os.MkdirAll(filepath.Join(root, fmt.Sprintf("pkg%d/sub", i)), 0o755)
	}
	h := start(b, root, Options{})
	file := filepath.Join(root, "pkg7/sub/main.go")
	var beyond time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := os.WriteFile(file, []byte(fmt.Sprint("package main // ", i)), 0o644); err != nil {
			b.Fatal(err)
		}
		h.next()
		beyond += time.Since(t0) - DefaultDebounce
	}
	b.ReportMetric(float64(beyond.Microseconds())/1000/float64(b.N), "ms-beyond-debounce")
}
