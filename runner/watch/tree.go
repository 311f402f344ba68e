package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// rel turns an event's absolute name into a slash-separated path relative
// to the root; ok is false for the root itself or a path outside it.
func (w *Watcher) rel(name string) (string, bool) {
	r, err := filepath.Rel(w.root, name)
	if err != nil || r == "." || strings.HasPrefix(r, "..") {
		return "", false
	}
	return filepath.ToSlash(r), true
}

// handle records one event in paths and keeps the watches in step with the
// tree. It reports whether the event matters (is not ignored).
func (w *Watcher) handle(ev fsnotify.Event, paths map[string]bool) bool {
	rel, ok := w.rel(ev.Name)
	if !ok {
		return false
	}
	fi, statErr := os.Lstat(ev.Name)
	isDir := statErr == nil && fi.IsDir()
	gone := ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)
	if gone && w.watched[rel] {
		isDir = true
		w.unwatch(rel)
	}
	if ev.Op == fsnotify.Chmod && isDir {
		return false // touching a directory changes no code
	}
	if statErr != nil {
		// Gone, so we cannot tell a file from a directory: ignored if
		// either would be (rm -rf node_modules must stay quiet).
		if w.m.ignored(rel, true) || w.m.ignored(rel, false) {
			return false
		}
	} else if w.m.ignored(rel, isDir) {
		return false
	}
	// The value says the path was created within this batch: if it is gone
	// again by the end (an editor's temp file renamed over the real one),
	// it changed nothing.
	paths[rel] = paths[rel] || ev.Has(fsnotify.Create)
	if ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create) {
		w.writers.event(rel)
	}
	if path.Base(rel) == ".gitignore" {
		// Which directories are ignored may have changed; the rescan
		// rereads every .gitignore.
		w.rescan()
	}
	if isDir && ev.Has(fsnotify.Create) {
		// A new (or moved-in) directory: watch it and everything inside,
		// reporting the files already there (mkdir -p a/b && touch a/b/c
		// can finish before we get to add the watch).
		w.scan(rel, paths, map[string]bool{})
	}
	return true
}

// scan watches directory rel and every directory below it that is not
// ignored. Files found are added to files when it is not nil; every
// directory visited is added to seen.
func (w *Watcher) scan(rel string, files, seen map[string]bool) {
	abs := filepath.Join(w.root, filepath.FromSlash(rel))
	seen[rel] = true
	if !w.watched[rel] {
		// Watch before listing: whatever appears after Add sends an event,
		// whatever appeared before is in the listing.
		if err := w.src.Add(abs); err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // gone already: its parent reports that
				w.report(fmt.Errorf("watch %s: %w", abs, err))
			}
			return
		}
		w.watched[rel] = true
		w.writers.add(abs)
	}
	w.m.loadGitignore(rel)
	entries, err := os.ReadDir(abs)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			w.report(fmt.Errorf("watch %s: %w", abs, err))
		}
		return
	}
	for _, e := range entries {
		child := path.Join(rel, e.Name())
		isDir := e.IsDir() // symlinks are not followed: no loops, no escaping the app
		if w.m.ignoredSelf(child, isDir) {
			continue
		}
		if isDir {
			w.scan(child, files, seen)
		} else if files != nil {
			files[child] = true
		}
	}
}

// rescan walks the whole tree again after lost events or a .gitignore
// change: watches new directories, drops watches of directories that are
// gone or now ignored.
func (w *Watcher) rescan() {
	seen := map[string]bool{}
	w.scan("", nil, seen)
	for rel := range w.watched {
		if !seen[rel] {
			_ = w.src.Remove(filepath.Join(w.root, filepath.FromSlash(rel)))
			w.writers.remove(filepath.Join(w.root, filepath.FromSlash(rel)))
			delete(w.watched, rel)
		}
	}
}

// unwatch forgets directory rel and everything below it (it was removed or
// moved away; inotify already dropped the kernel watches).
func (w *Watcher) unwatch(rel string) {
	for d := range w.watched {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			_ = w.src.Remove(filepath.Join(w.root, filepath.FromSlash(d)))
			w.writers.remove(filepath.Join(w.root, filepath.FromSlash(d)))
			delete(w.watched, d)
		}
	}
}
