package watch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Debounce defaults. 150 ms of quiet covers an editor's atomic save (temp
// file, rename, chmod: a few ms), a git checkout (gaps well under 10 ms) and
// format-on-save (a second write ~50–100 ms later), while staying well
// inside the 300 ms save-to-serving overhead we aim for. 2 s caps the wait
// when writes never stop (a generator, a long copy): builds then follow
// every 2 s instead of never.
const (
	DefaultDebounce = 150 * time.Millisecond
	DefaultMaxDelay = 2 * time.Second
)

// Options configure a Watcher. The zero value is usable.
type Options struct {
	// StateDir is dynobox's state directory, never watched; relative to the
	// watched directory or absolute. Default ".dynobox".
	StateDir string
	// Ignore adds gitignore-style patterns, relative to the watched
	// directory, to DefaultIgnoreDirs, DefaultIgnoreFiles and .gitignore.
	Ignore []string
	// Debounce is the quiet time that ends a batch; MaxDelay bounds how long
	// a batch can be held back by events that keep coming.
	Debounce, MaxDelay time.Duration
	// Procfile (default "Procfile") and EnvFiles (besides the root's .env*)
	// name the files classified as such, relative to the watched directory.
	Procfile string
	EnvFiles []string
	// Source makes the event source; default NewFSNotify.
	Source func() (Source, error)
	// OnError hears problems that do not stop watching: a directory that
	// cannot be watched (inotify's watch limit), a failed read. Default: none.
	OnError func(error)
	// Booting, when set, is called once the initial walk is done; until it
	// returns the watcher acts as if a callback ran (the start's build and
	// the dynos booting), so what changes meanwhile is the start's own
	// writes unless it is yours (see window.go).
	Booting func()
	// OnReady is called once the initial walk is done and the first window
	// (Booting, then Settle) has closed, with the number of directories
	// watched; a save is reported from then on.
	OnReady func(dirs int)
	// Settle keeps the window in which changes are taken for a deploy's
	// own writes (see window.go) open this long after each callback, and
	// after the start. Default DefaultSettle; negative: no time after.
	Settle time.Duration
	// Tracked reports which of the given paths are under version control
	// (and so are the user's files even when they change while a deploy
	// runs). Default: git ls-files in the watched directory.
	Tracked func(root string, paths []string) map[string]bool
	// Ignored reports which of the given paths version control ignores
	// (see gitignored.go): they never deploy. Default: git check-ignore in
	// the watched directory.
	Ignored func(root string, paths []string) map[string]bool
	// Notice hears changes the watcher decided not to report, and why.
	Notice func(string)
	// Writers are dynobox's own processes (its dynos, builds, release
	// phase): what only they change is never reported (see writers.go).
	// Default: none known.
	Writers Writers

	noFanotify bool // tests: the unprivileged mechanism even with privilege
}

// Watcher watches one directory tree. Make it with New, then call Run once.
type Watcher struct {
	root string
	opts Options
	cls  classifier

	// Owned by Run's goroutine.
	src     Source
	m       *matcher
	watched map[string]bool // relative directories with a watch
	seen    digests         // what reported paths looked like
	win     window          // who wrote what: the user or a deploy
	writers *writers        // who wrote what: dynobox's processes or others
}

// New returns a Watcher for dir. It has no side effects.
func New(dir string, opts Options) *Watcher {
	if opts.StateDir == "" {
		opts.StateDir = ".dynobox"
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MaxDelay < opts.Debounce {
		opts.MaxDelay = max(DefaultMaxDelay, opts.Debounce)
	}
	if opts.Procfile == "" {
		opts.Procfile = "Procfile"
	}
	if opts.Source == nil {
		opts.Source = NewFSNotify
	}
	if opts.Settle == 0 {
		opts.Settle = DefaultSettle
	}
	opts.Settle = max(opts.Settle, 0)
	if opts.Tracked == nil {
		opts.Tracked = gitTracked
	}
	if opts.Ignored == nil {
		opts.Ignored = gitIgnored
	}
	env := make([]string, len(opts.EnvFiles))
	for i, e := range opts.EnvFiles {
		env[i] = cleanRel(e)
	}
	return &Watcher{root: dir, opts: opts, cls: newClassifier(cleanRel(opts.Procfile), env)}
}

// Run watches until ctx ends and calls fn with each batch. Calls never
// overlap: changes made while fn runs (during a build, say) are collected
// and delivered after it returns. Run returns nil when ctx ends, after the
// call in progress returns, or an error if watching cannot start.
func (w *Watcher) Run(ctx context.Context, fn func(Change)) error {
	root, err := filepath.Abs(w.root)
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.root, err)
	}
	w.root = root
	src, err := w.opts.Source()
	if err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	defer src.Close()
	w.src = src
	w.writers = newWriters(root, w.opts.Writers, w.opts.noFanotify)
	defer w.writers.close()
	w.m = newMatcher(root, w.alwaysIgnored(), w.opts.Ignore, w.cls.special)
	w.watched = map[string]bool{}
	w.seen = digests{}
	if err := w.src.Add(root); err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	w.watched[""] = true
	w.writers.add(root)
	w.win = newWindow()
	w.scan("", w.win.existed, map[string]bool{})
	return w.loop(ctx, fn)
}

// alwaysIgnored is the state directory, relative to the root, if inside it.
func (w *Watcher) alwaysIgnored() []string {
	sd := w.opts.StateDir
	if !filepath.IsAbs(sd) {
		sd = filepath.Join(w.root, sd)
	}
	rel, err := filepath.Rel(w.root, sd)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil
	}
	return []string{filepath.ToSlash(rel)}
}

// batch is the changes collected since the last callback.
type batch struct {
	paths    map[string]bool
	outside  map[string]bool      // paths changed at least once outside a window
	firstAt  map[string]time.Time // each path's first change in the batch
	overflow bool
	first    time.Time // first event of the batch
	due      time.Time // when the batch may be delivered
}

func (b *batch) empty() bool { return len(b.paths) == 0 && !b.overflow }

func newBatch() batch {
	return batch{paths: map[string]bool{}, outside: map[string]bool{}, firstAt: map[string]time.Time{}}
}

// add merges the paths of one event; inWindow says a deploy was running
// or had just ended.
func (b *batch) add(paths map[string]bool, inWindow bool) {
	now := time.Now()
	for p, created := range paths {
		if _, ok := b.firstAt[p]; !ok {
			b.firstAt[p] = now
		}
		b.paths[p] = b.paths[p] || created
		if !inWindow {
			b.outside[p] = true
		}
	}
}

func (w *Watcher) loop(ctx context.Context, fn func(Change)) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	b := newBatch()
	// The start is the first window: busy while Booting runs.
	busy := true
	done := make(chan struct{})
	// ended is when the running callback (or Booting) returned; nil while
	// it runs. On a busy machine the loop can take events for a while
	// before it gets to done: a save made after the return is not the
	// deploy's, so the window goes by the return, not by done.
	var ended atomic.Pointer[time.Time]
	finish := func() {
		now := time.Now()
		ended.Store(&now)
		done <- struct{}{}
	}
	inWindow := func() bool {
		if !busy {
			return time.Now().Before(w.win.until)
		}
		end := ended.Load()
		return end == nil || time.Now().Before(end.Add(w.opts.Settle))
	}
	var ready <-chan time.Time
	go func() {
		defer finish()
		if w.opts.Booting != nil {
			w.opts.Booting()
		}
	}()

	events, errs := w.src.Events(), w.src.Errors()
	touch := func() {
		now := time.Now()
		if b.first.IsZero() {
			b.first = now
		}
		b.due = now.Add(w.opts.Debounce)
		if maxDue := b.first.Add(w.opts.MaxDelay); maxDue.Before(b.due) {
			b.due = maxDue
		}
		timer.Reset(time.Until(b.due))
	}
	take := func(ev fsnotify.Event) {
		got := map[string]bool{}
		if w.handle(ev, got) {
			b.add(got, inWindow())
			touch()
		}
	}
	fire := func() {
		if busy || b.empty() || time.Now().Before(b.due) {
			return
		}
		// Events already queued are the batch's: the loop was late (a busy
		// machine), the writer not quiet. Only those: a stream that never
		// stops is still cut at MaxDelay.
		for n := len(events); n > 0; n-- {
			take(<-events)
		}
		if time.Now().Before(b.due) {
			return
		}
		if b.overflow {
			w.seen = digests{} // what we remember may be stale now
		} else {
			w.dropIgnored(&b)
			w.byDynos(&b)
			w.seen.filter(w.root, b.paths)
			w.attribute(&b)
		}
		if b.empty() {
			b = newBatch() // writes that changed no bytes, the dynos', or the deploy's own
			return
		}
		ch := w.cls.build(b.paths, b.overflow)
		b = newBatch()
		busy = true
		ended.Store(nil)
		go func() {
			defer finish()
			fn(ch)
		}()
	}

	for {
		select {
		case <-ctx.Done():
			if busy {
				<-done
			}
			return nil
		case <-ready:
			ready = nil
			w.win.started = true
			if w.opts.OnReady != nil {
				w.opts.OnReady(len(w.watched))
			}
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("watch %s: event source closed", w.root)
			}
			take(ev)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were lost: resync the watches and report it.
				w.rescan()
				b.overflow = true
				touch()
				continue
			}
			w.report(fmt.Errorf("watch %s: %w", w.root, err))
		case <-timer.C:
			fire()
		case <-done:
			busy = false
			w.win.lastEnd = *ended.Load()
			w.win.until = w.win.lastEnd.Add(w.opts.Settle)
			if !w.win.started {
				w.win.lastEnd = time.Time{} // the start is no deploy for the loop guard
				ready = time.After(w.opts.Settle)
			}
			fire()
		}
	}
}

func (w *Watcher) report(err error) {
	if w.opts.OnError != nil {
		w.opts.OnError(err)
	}
}
