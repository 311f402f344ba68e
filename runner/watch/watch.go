// Package watch watches an app directory recursively and reports debounced
// batches of changes: one callback for an editor's atomic save or a git
// checkout of hundreds of files, and a rescan plus a callback (never
// silence) when the kernel's event queue overflows.
package watch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
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
	// OnReady is called once the initial walk is done, with the number of
	// directories watched; changes from then on are reported.
	OnReady func(dirs int)
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
	w.m = newMatcher(root, w.alwaysIgnored(), w.opts.Ignore, w.cls.special)
	w.watched = map[string]bool{}
	w.seen = digests{}
	if err := w.src.Add(root); err != nil {
		return fmt.Errorf("watch %s: %w", root, err)
	}
	w.watched[""] = true
	w.scan("", nil, map[string]bool{})
	if w.opts.OnReady != nil {
		w.opts.OnReady(len(w.watched))
	}
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
	overflow bool
	first    time.Time // first event of the batch
	due      time.Time // when the batch may be delivered
}

func (b *batch) empty() bool { return len(b.paths) == 0 && !b.overflow }

func (w *Watcher) loop(ctx context.Context, fn func(Change)) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	b := batch{paths: map[string]bool{}}
	busy := false
	done := make(chan struct{})

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
	fire := func() {
		if busy || b.empty() || time.Now().Before(b.due) {
			return
		}
		if b.overflow {
			w.seen = digests{} // what we remember may be stale now
		} else {
			w.seen.filter(w.root, b.paths)
		}
		if b.empty() {
			b = batch{paths: map[string]bool{}} // writes that changed no bytes
			return
		}
		ch := w.cls.build(b.paths, b.overflow)
		b = batch{paths: map[string]bool{}}
		busy = true
		go func() {
			defer func() { done <- struct{}{} }()
			fn(ch)
		}()
	}

	events, errs := w.src.Events(), w.src.Errors()
	for {
		select {
		case <-ctx.Done():
			if busy {
				<-done
			}
			return nil
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("watch %s: event source closed", w.root)
			}
			if w.handle(ev, b.paths) {
				touch()
			}
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
			fire()
		}
	}
}

func (w *Watcher) report(err error) {
	if w.opts.OnError != nil {
		w.opts.OnError(err)
	}
}
