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

	"github.com/fsnotify/fsnotify"
)

// harness runs a Watcher on a temp dir and collects its callbacks.
type harness struct {
	t    testing.TB
	root string
	ch   chan Change
}

// start runs a watcher on root and returns once its initial walk is done.
func start(t testing.TB, root string, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, root: root, ch: make(chan Change, 100)}
	ready := make(chan struct{})
	opts.OnReady = func(int) { close(ready) }
	if opts.Settle == 0 {
		opts.Settle = 20 * time.Millisecond // the window after the start and each callback
	}
	if opts.Tracked == nil {
		// Every file is the user's, so nothing is taken for a callback's
		// own writes: the tests of window.go say otherwise.
		opts.Tracked = func(_ string, paths []string) map[string]bool {
			all := map[string]bool{}
			for _, p := range paths {
				all[p] = true
			}
			return all
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(root, opts).Run(ctx, func(c Change) { h.ch <- c }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("watcher not ready after 5s")
	}
	return h
}

func (h *harness) write(rel, data string) {
	h.t.Helper()
	p := filepath.Join(h.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// next waits for the next callback.
func (h *harness) next() Change {
	h.t.Helper()
	select {
	case c := <-h.ch:
		return c
	case <-time.After(10 * time.Second):
		h.t.Fatal("no callback within 10s")
		return Change{}
	}
}

// quiet proves nothing is pending: it writes a sentinel file and requires
// the next callback to hold exactly that file. A stray batch would arrive
// first or be merged into the sentinel's, so no sleep is needed.
func (h *harness) quiet() {
	h.t.Helper()
	name := fmt.Sprintf("sentinel-%d", time.Now().UnixNano())
	h.write(name, "x")
	if c := h.next(); !slices.Equal(c.Paths, []string{name}) || c.Overflow {
		h.t.Fatalf("got %+v, want only %s", c, name)
	}
}

func mkTree(t testing.TB, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestIdenticalWriteIsNoChange(t *testing.T) {
	root := mkTree(t, "main.go")
	h := start(t, root, Options{})
	h.write("main.go", "package main")
	if c := h.next(); !slices.Equal(c.Paths, []string{"main.go"}) {
		t.Fatalf("got %+v", c)
	}
	h.write("main.go", "package main") // a save without edits
	h.quiet()
	h.write("main.go", "package main // edited")
	if c := h.next(); !slices.Equal(c.Paths, []string{"main.go"}) {
		t.Fatalf("got %+v", c)
	}
}

func TestAtomicSave(t *testing.T) {
	root := mkTree(t, "main.go")
	h := start(t, root, Options{})
	// An editor's save: write a temp file, rename it over the original.
	tmp := filepath.Join(root, ".main.go.tmp1234")
	if err := os.WriteFile(tmp, []byte("package main"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "main.go")); err != nil {
		t.Fatal(err)
	}
	if c := h.next(); !slices.Equal(c.Paths, []string{"main.go"}) {
		t.Fatalf("got %+v: the temp file, gone again, is no change", c)
	}
	h.quiet()
}

// An atomic save of .env is an env change only: the editor's temp file is
// no code change.
func TestAtomicSaveOfEnvIsNoCodeChange(t *testing.T) {
	root := mkTree(t, ".env", "main.go")
	h := start(t, root, Options{})
	tmp := filepath.Join(root, "zz_save_tmp")
	if err := os.WriteFile(tmp, []byte("A=2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, ".env")); err != nil {
		t.Fatal(err)
	}
	if c := h.next(); !c.Env || c.Code || !slices.Equal(c.Paths, []string{".env"}) {
		t.Fatalf("got %+v", c)
	}
	h.quiet()
}

func TestNewDirectoryIsWatched(t *testing.T) {
	root := mkTree(t, "go.mod")
	h := start(t, root, Options{})
	// mkdir -p a/b && touch a/b/c: the file can land before the watch on
	// a/b exists; the scan of the new directory must still report it.
	if err := os.MkdirAll(filepath.Join(root, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.write("a/b/c", "")
	if c := h.next(); !slices.Contains(c.Paths, "a/b/c") {
		t.Fatalf("got %+v, want a/b/c", c)
	}
	h.write("a/b/d.go", "package b")
	if c := h.next(); !slices.Equal(c.Paths, []string{"a/b/d.go"}) {
		t.Fatalf("got %+v, want a/b/d.go", c)
	}
}

func TestMovedAndRecreatedDirectory(t *testing.T) {
	root := mkTree(t, "pkg/a.go")
	h := start(t, root, Options{})
	if err := os.Rename(filepath.Join(root, "pkg"), filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	c := h.next()
	if !slices.Equal(c.Paths, []string{"moved/a.go", "pkg"}) {
		t.Fatalf("got %+v, want pkg (gone) and moved/a.go (the directory itself is no change)", c)
	}
	h.write("moved/b.go", "")
	if c := h.next(); !slices.Equal(c.Paths, []string{"moved/b.go"}) {
		t.Fatalf("got %+v", c)
	}
	if err := os.RemoveAll(filepath.Join(root, "moved")); err != nil {
		t.Fatal(err)
	}
	h.next()
	h.write("moved/c.go", "")
	if c := h.next(); !slices.Contains(c.Paths, "moved/c.go") {
		t.Fatalf("got %+v", c)
	}
	h.quiet()
}

func TestIgnoredPathsAreSilent(t *testing.T) {
	root := mkTree(t,
		"go.mod",
		"node_modules/x/index.js",
		".git/HEAD",
		".dynobox/state.db",
		"bin/web",
		"web/node_modules/y.js",
	)
	if err := os.WriteFile(filepath.Join(root, ".gitignore"), []byte("*.log\n/dist/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, root, Options{Ignore: []string{"generated/"}})
	for _, p := range []string{
		"node_modules/x/index.js", "node_modules/new/pkg.js", "web/node_modules/y.js",
		".git/HEAD", ".git/objects/ab/cdef", ".dynobox/state.db", "bin/web",
		"app.log", "sub/debug.log", "dist/app.js", "generated/x.go",
		".main.go.swp", "main.go~",
	} {
		h.write(p, "changed")
	}
	if err := os.RemoveAll(filepath.Join(root, "node_modules")); err != nil {
		t.Fatal(err)
	}
	// sub/ itself is new and not ignored, but a directory alone is no change.
	h.quiet()
}

func TestStateDirElsewhere(t *testing.T) {
	root := mkTree(t, "go.mod", "state/x")
	h := start(t, root, Options{StateDir: filepath.Join(root, "state")})
	h.write("state/x", "changed")
	h.write(".dynobox/y", "not the state dir now") // .dynobox is only the default
	if c := h.next(); !slices.Equal(c.Paths, []string{".dynobox/y"}) {
		t.Fatalf("got %+v", c)
	}
	h.quiet()
}

func TestGitignoreChangeAppliesAtOnce(t *testing.T) {
	root := mkTree(t, "go.mod", "gen/a.go")
	h := start(t, root, Options{})
	h.write(".gitignore", "gen/\n")
	if c := h.next(); !slices.Equal(c.Paths, []string{".gitignore"}) {
		t.Fatalf("got %+v", c)
	}
	h.write("gen/a.go", "now ignored")
	h.write("gen/new/b.go", "ignored too")
	h.quiet()
	h.write(".gitignore", "")
	h.next()
	h.write("gen/a.go", "watched again")
	if c := h.next(); !slices.Equal(c.Paths, []string{"gen/a.go"}) {
		t.Fatalf("got %+v", c)
	}
}

func TestClassify(t *testing.T) {
	root := mkTree(t, "go.mod", "Procfile.dev")
	if err := os.WriteFile(filepath.Join(root, ".gitignore"), []byte(".env*\n*.env\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, root, Options{Procfile: "Procfile.dev", EnvFiles: []string{"config/dev.env"}})
	for _, tt := range []struct {
		file string
		want Change
	}{
		{".env", Change{Env: true}}, // gitignored, still reported
		{".env.local", Change{Env: true}},
		{"config/dev.env", Change{Env: true}},
		{"Procfile.dev", Change{Procfile: true}},
		{"Procfile", Change{Code: true}}, // not the Procfile in use
		{"app.json", Change{AppJSON: true}},
		{"web/app.json", Change{Code: true}},
		{"main.go", Change{Code: true}},
	} {
		h.write(tt.file, "x")
		c := h.next()
		c.Paths = slices.DeleteFunc(c.Paths, func(p string) bool { return p == "config" || p == "web" })
		tt.want.Paths = []string{tt.file}
		if tt.file == "config/dev.env" {
			c.Code = false // the new directory config/ counts as code
		}
		if fmt.Sprint(c) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.file, c, tt.want)
		}
	}
}

func TestMaxDelayBoundsAStream(t *testing.T) {
	h := start(t, mkTree(t, "go.mod"), Options{Debounce: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = os.WriteFile(filepath.Join(h.root, "gen.go"), []byte(fmt.Sprint(i)), 0o644)
			}
		}
	}()
	t0 := time.Now()
	h.next() // arrives while writes go on, thanks to MaxDelay
	took := time.Since(t0)
	close(stop)
	wg.Wait()
	if took > 2*time.Second {
		t.Fatalf("first callback after %v with writes every 20ms; MaxDelay is 300ms", took)
	}
	t.Logf("first callback of a continuous stream after %v", took)
}

// Saves of your files while the callback runs (during a build) are
// delivered after it; files first written while it runs are the build's.
func TestChangesDuringCallbackAreDelivered(t *testing.T) {
	root := mkTree(t, "go.mod")
	release := make(chan struct{})
	got := make(chan Change, 10)
	var calls, inFlight, maxInFlight int
	var mu sync.Mutex
	var notices []string
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts := Options{
		OnReady: func(int) { close(ready) },
		Settle:  -1,
		Notice:  func(s string) { mu.Lock(); notices = append(notices, s); mu.Unlock() },
	}
	go func() {
		done <- New(root, opts).Run(ctx, func(c Change) {
			mu.Lock()
			calls++
			inFlight++
			maxInFlight = max(maxInFlight, inFlight)
			first := calls == 1
			mu.Unlock()
			if first {
				<-release // a long build
			}
			mu.Lock()
			inFlight--
			mu.Unlock()
			got <- c
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-ready
	write := func(rel, data string) {
		if err := os.WriteFile(filepath.Join(root, rel), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.go", "1")
	write("b.go", "1")
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return calls == 1 })
	write("a.go", "2") // a save of yours during the "build"
	write("b.go", "2")
	write("stamp.txt", "what the build wrote")
	time.Sleep(300 * time.Millisecond) // let the debounce pass while the callback is busy
	close(release)
	if c := <-got; !slices.Equal(c.Paths, []string{"a.go", "b.go"}) {
		t.Fatalf("first: %+v", c)
	}
	select {
	case c := <-got:
		if !slices.Equal(c.Paths, []string{"a.go", "b.go"}) {
			t.Fatalf("second: %+v", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("changes made during the callback were not delivered")
	}
	if maxInFlight != 1 {
		t.Fatalf("%d callbacks ran at once", maxInFlight)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notices) != 1 || !strings.Contains(notices[0], "stamp.txt") {
		t.Fatalf("notices %q, want one naming stamp.txt", notices)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lossySource wraps fsnotify; while dropping, it discards events, as a full
// inotify queue does, and it can inject errors.
type lossySource struct {
	Source
	mu       sync.Mutex
	dropping bool
	dropped  []string
	events   chan fsnotify.Event
	errs     chan error
}

func newLossy() (*lossySource, error) {
	inner, err := NewFSNotify()
	if err != nil {
		return nil, err
	}
	s := &lossySource{Source: inner, events: make(chan fsnotify.Event), errs: make(chan error, 1)}
	go func() {
		defer close(s.events)
		for ev := range inner.Events() {
			s.mu.Lock()
			drop := s.dropping
			if drop {
				s.dropped = append(s.dropped, filepath.Base(ev.Name))
			}
			s.mu.Unlock()
			if !drop {
				s.events <- ev
			}
		}
	}()
	return s, nil
}

func (s *lossySource) Events() <-chan fsnotify.Event { return s.events }
func (s *lossySource) Errors() <-chan error          { return s.errs }
func (s *lossySource) drop(on bool)                  { s.mu.Lock(); s.dropping = on; s.mu.Unlock() }

func TestOverflowRescans(t *testing.T) {
	root := mkTree(t, "go.mod")
	src, err := newLossy()
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, root, Options{Source: func() (Source, error) { return src, nil }})

	// Lose the events of a new directory and its file, then overflow.
	src.drop(true)
	h.write("late/a.go", "package late")
	h.write("main.go", "package main")
	h.write("marker", "")
	// Events come in order: once the marker's is dropped, so were the others.
	waitFor(t, func() bool { src.mu.Lock(); defer src.mu.Unlock(); return slices.Contains(src.dropped, "marker") })
	src.errs <- fsnotify.ErrEventOverflow
	c := h.next()
	if !c.Overflow || !c.Code || !c.Env || !c.Procfile || !c.AppJSON {
		t.Fatalf("got %+v, want an overflow with every flag set", c)
	}
	src.drop(false)
	// The rescan watched late/, whose creation event was lost.
	h.write("late/b.go", "package late")
	if c := h.next(); !slices.Equal(c.Paths, []string{"late/b.go"}) {
		t.Fatalf("got %+v, want late/b.go", c)
	}
}
