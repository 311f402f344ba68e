package watch

import "github.com/fsnotify/fsnotify"

// Source is where file events come from: fsnotify in production, a wrapper
// in tests that can drop events or inject fsnotify.ErrEventOverflow.
type Source interface {
	Add(dir string) error
	Remove(dir string) error
	Events() <-chan fsnotify.Event
	Errors() <-chan error
	Close() error
}

// queueSize buffers events between inotify's reader and our loop, so a
// git checkout does not stall fsnotify while we add watches for new
// directories.
const queueSize = 4096

// NewFSNotify returns the default Source: an fsnotify watcher (inotify).
func NewFSNotify() (Source, error) {
	w, err := fsnotify.NewBufferedWatcher(queueSize)
	if err != nil {
		return nil, err
	}
	return fsSource{w}, nil
}

type fsSource struct{ w *fsnotify.Watcher }

func (s fsSource) Add(dir string) error          { return s.w.Add(dir) }
func (s fsSource) Remove(dir string) error       { return s.w.Remove(dir) }
func (s fsSource) Events() <-chan fsnotify.Event { return s.w.Events }
func (s fsSource) Errors() <-chan error          { return s.w.Errors }
func (s fsSource) Close() error                  { return s.w.Close() }
