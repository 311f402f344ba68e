package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// deployHarness runs a watcher whose callback acts like a deploy: it runs
// act (the build and the booting dynos writing into the tree), and
// records each batch; act(0) is the start. Only the paths in tracked are under version control.
type deployHarness struct {
	t    *testing.T
	root string
	ch   chan Change

	mu      sync.Mutex
	notices []string
}

func startDeploys(t *testing.T, root string, settle time.Duration, tracked []string, act func(h *deployHarness, n int)) *deployHarness {
	t.Helper()
	h := &deployHarness{t: t, root: root, ch: make(chan Change, 100)}
	ready := make(chan struct{})
	opts := Options{
		Settle:  settle,
		Booting: func() { act(h, 0) }, // the start's build and dynos
		OnReady: func(int) { close(ready) },
		Notice:  func(s string) { h.mu.Lock(); h.notices = append(h.notices, s); h.mu.Unlock() },
		Tracked: func(_ string, paths []string) map[string]bool {
			out := map[string]bool{}
			for _, p := range paths {
				out[p] = slices.Contains(tracked, p) || strings.HasPrefix(p, "sentinel-")
			}
			return out
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	n := 0
	go func() {
		done <- New(root, opts).Run(ctx, func(c Change) {
			n++
			h.ch <- c
			act(h, n)
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not ready after 10s")
	}
	return h
}

func (h *deployHarness) write(rel, data string) {
	h.t.Helper()
	p := filepath.Join(h.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *deployHarness) next() Change {
	h.t.Helper()
	select {
	case c := <-h.ch:
		return c
	case <-time.After(10 * time.Second):
		h.t.Fatal("no callback within 10s")
		return Change{}
	}
}

// quiet proves no batch is pending: a tracked sentinel written now must be
// the next batch, alone.
func (h *deployHarness) quiet() {
	h.t.Helper()
	name := fmt.Sprintf("sentinel-%d", time.Now().UnixNano())
	h.write(name, "x")
	for {
		c := h.next()
		if slices.Equal(c.Paths, []string{name}) {
			return
		}
		h.t.Fatalf("got %+v, want only %s", c, name)
	}
}

func (h *deployHarness) allNotices() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.allNotices())
}

func (h *deployHarness) noticeWith(text string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.ContainsFunc(h.notices, func(s string) bool { return strings.Contains(s, text) })
}

// A build that writes a stamp and dynos that write o/$DYNO when they boot
// (just after the callback returns) start no deploy; a save of a file you
// own during the build does.
func TestWhatADeployWritesIsNoChange(t *testing.T) {
	root := mkTree(t, "main.go", "public/stamp.txt")
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	h := startDeploys(t, root, 300*time.Millisecond, []string{"main.go"}, func(h *deployHarness, n int) {
		stamp := fmt.Sprint(time.Now().UnixNano())
		h.write("public/stamp.txt", stamp) // the build
		if n == 1 {
			h.write("main.go", "package main // saved during the build")
		}
		wg.Add(1)
		go func() { // the dynos, booting once the deploy returned
			defer wg.Done()
			time.Sleep(50 * time.Millisecond)
			h.write("o/web.1", stamp)
		}()
	})
	h.write("main.go", "package main // v2")
	if c := h.next(); !slices.Equal(c.Paths, []string{"main.go"}) {
		t.Fatalf("first: %+v", c)
	}
	if c := h.next(); !slices.Equal(c.Paths, []string{"main.go"}) {
		t.Fatalf("second: got %+v, want only the save during the build", c)
	}
	waitFor(t, func() bool { return h.noticeWith("o/web.1") })
	h.quiet()
	if !h.noticeWith("public/stamp.txt") {
		t.Fatalf("no notice names public/stamp.txt: %q", h.allNotices())
	}
}

// Dynos started with dynobox write while the watcher starts: no deploy.
func TestWritesRightAfterTheStartAreNoChange(t *testing.T) {
	root := mkTree(t, "main.go")
	var wg sync.WaitGroup
	wg.Add(1)
	t0 := time.Now()
	go func() { // a dyno that booted with dynobox, writing as it starts
		defer wg.Done()
		for i := 0; time.Since(t0) < 300*time.Millisecond; i++ {
			os.MkdirAll(filepath.Join(root, "o"), 0o755)
			os.WriteFile(filepath.Join(root, "o", "web.1"), []byte(fmt.Sprint(i)), 0o644)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	h := startDeploys(t, root, 2*time.Second, []string{"main.go"}, func(*deployHarness, int) {})
	wg.Wait()
	h.quiet()
	if !h.noticeWith("o/web.1") {
		t.Fatalf("no notice names o/web.1: %q", h.allNotices())
	}
}

// A file that changed outside a deploy, and then again during each deploy
// it started, starts LoopLimit deploys, then no more; your saves still do.
func TestLoopGuard(t *testing.T) {
	root := mkTree(t, "main.go")
	h := startDeploys(t, root, 100*time.Millisecond, []string{"main.go"}, func(h *deployHarness, n int) {
		h.write("data/visits.txt", fmt.Sprint(time.Now().UnixNano())) // a dyno writing as it boots
	})
	h.write("data/visits.txt", "first")
	deploys := 0
	deadline := time.Now().Add(10 * time.Second)
	for !h.noticeWith("Not deploying on changes to data/visits.txt any more") {
		select {
		case c := <-h.ch:
			if !slices.Contains(c.Paths, "data/visits.txt") {
				t.Fatalf("got %+v", c)
			}
			deploys++
			if deploys > LoopLimit+1 {
				t.Fatalf("%d deploys for data/visits.txt and no guard", deploys)
			}
		case <-time.After(10 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatalf("no guard after %d deploys", deploys)
			}
		}
	}
	if deploys != LoopLimit+1 { // yours, then LoopLimit from inside the deploys
		t.Fatalf("%d deploys before the guard, want %d", deploys, LoopLimit+1)
	}
	h.quiet()
	h.write("main.go", "package main // yours")
	if c := h.next(); !slices.Equal(c.Paths, []string{"main.go"}) {
		t.Fatalf("got %+v", c)
	}
}
