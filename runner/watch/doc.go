// Package watch tells dynobox when the user changed the app: it watches
// an app directory recursively and reports debounced batches of changes —
// one callback for an editor's atomic save or a git checkout of hundreds
// of files.
//
// Its contract: New has no side effects; Run watches one directory tree
// until its context ends and hands each debounced batch of changes to one
// callback, never two at once (what changes meanwhile comes in the next
// batch), and returns an error only when watching cannot start. It reads
// the tree and asks the kernel; it never writes to the app, never builds or
// deploys (the caller decides what a batch means) and never prints:
// problems that do not stop watching go to Options.OnError, and changes it
// chose not to report (ignored paths, a process's own writes) to
// Options.Notice. An overflow of the kernel's queue is a rescan and a
// callback, never silence.
package watch
