package watch

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// What dynobox's dynos (and its builds, and dynobox itself) write is never
// a reason to deploy, whenever they write it: an upload saved while
// serving a request, a SQLite write, a log a worker appends to every
// 200 ms. Deploy windows (window.go) only cover what a deploy writes as it
// runs; these writes come at any time, so the watcher asks who wrote:
//
//   - With privilege (root or CAP_SYS_ADMIN), fanotify reports the process
//     that made each change in the watched directories; Writers.Owns says
//     whether it is one of dynobox's (its cgroup, or the session marker in
//     its environment). A path only dynobox's processes changed is dropped.
//     Unprivileged fanotify reports no process (pid 0 on every event), so
//     it is of no use without privilege.
//   - Without privilege, at each write event the watcher looks at the
//     files dynobox's processes hold open for writing (/proc/PID/fd), at
//     most every scanEvery. That catches what a dyno keeps open (a log, a
//     SQLite database) and most writes by a shell (date > f); a one-write
//     upload is opened, written and closed in microseconds and mostly
//     missed, so it falls to the next two rules.
//   - A path once seen written by a dyno stays the dyno's (a file dynos
//     write again and again is theirs) unless git tracks it, or — with
//     privilege — another process changes it: your save.
//   - Directories where Rails and friends keep what an app writes at run
//     time (RuntimeDirs: public/uploads, storage, uploads, media) hold no code:
//     changes there never deploy, unless git tracks the file or it is
//     source code (a Go package named storage).
//
// A path changed by a dyno and by you in the same batch deploys; so does
// anything else in that batch.

// Writers are the processes whose writes are never a reason to deploy.
type Writers interface {
	// Owns reports whether process pid is one of them; known is false
	// when the process is gone and so cannot be told.
	Owns(pid int) (own, known bool)
	// Writing lists the files (absolute paths) they have open for
	// writing now.
	Writing() []string
}

// RuntimeDirs are where apps keep what they write while running (Rails'
// Active Storage, Laravel, the usual upload folders, Django's MEDIA_ROOT),
// anchored at the root.
// Unlike DefaultIgnoreDirs they are watched: a file git tracks there, or
// source code, still deploys.
var RuntimeDirs = []string{"public/uploads", "storage", "uploads", "media"}

// sourceExts are extensions of code: a file with one in a RuntimeDirs
// directory is the user's (a Go package named storage).
var sourceExts = map[string]bool{
	".go": true, ".rb": true, ".py": true, ".js": true, ".mjs": true, ".cjs": true, ".ts": true,
	".tsx": true, ".jsx": true, ".php": true, ".java": true, ".kt": true, ".rs": true, ".c": true,
	".h": true, ".cc": true, ".cpp": true, ".ex": true, ".exs": true, ".erb": true, ".vue": true,
	".svelte": true, ".mod": true, ".json": true, ".toml": true, ".yml": true, ".yaml": true,
}

func runtimePath(rel string) bool {
	for _, d := range RuntimeDirs {
		if strings.HasPrefix(rel, d+"/") {
			return !sourceExts[strings.ToLower(path.Ext(rel))]
		}
	}
	return false
}

// scanEvery bounds how often the unprivileged mechanism lists the files
// dynobox's processes hold open (each listing reads /proc).
const scanEvery = 50 * time.Millisecond

// recordTTL is how long writes seen for a path that no batch reported
// (an ignored file, say) are kept.
const recordTTL = 10 * time.Second

// writes counts who changed a path since its last batch.
type writes struct {
	ours, other, unknown int
	last                 time.Time
}

// writers is the watcher's knowledge of who wrote what. The fanotify
// reader adds to rec from its goroutine; the rest is the loop's.
type writers struct {
	root string
	w    Writers
	fan  *fanWatch // nil: unprivileged, or no Writers

	mu  sync.Mutex
	rec map[string]*writes // relative path → writes

	lastScan time.Time
	theirs   map[string]bool // paths seen written by dynos, not git-tracked when last checked
	named    map[string]bool // paths named in a notice already
}

func newWriters(root string, w Writers, noFan bool) *writers {
	a := &writers{root: root, w: w, rec: map[string]*writes{}, theirs: map[string]bool{}, named: map[string]bool{}}
	if w != nil && !noFan {
		a.fan = openFan(root, w, a.record)
	}
	return a
}

func (a *writers) close() {
	if a.fan != nil {
		a.fan.close()
	}
}

func (a *writers) add(dir string) {
	if a.fan != nil {
		a.fan.add(dir)
	}
}

func (a *writers) remove(dir string) {
	if a.fan != nil {
		a.fan.remove(dir)
	}
}

// record counts one change of rel by a process: ours, someone else's, or
// unknown (gone before it could be told).
func (a *writers) record(rel string, own, known bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.rec[rel]
	if r == nil {
		r = &writes{}
		a.rec[rel] = r
	}
	switch {
	case !known:
		r.unknown++
	case own:
		r.ours++
	default:
		r.other++
	}
	r.last = time.Now()
}

// event is called for each write or create event the loop handles:
// without fanotify, it looks at what dynobox's processes hold open.
func (a *writers) event(rel string) {
	if a.w == nil || a.fan != nil {
		return
	}
	if time.Since(a.lastScan) < scanEvery {
		return
	}
	a.lastScan = time.Now()
	for _, f := range a.w.Writing() {
		r, err := filepath.Rel(a.root, f)
		if err != nil || r == "." || strings.HasPrefix(r, "..") {
			continue
		}
		a.record(filepath.ToSlash(r), true, true)
	}
}

// take removes and returns the records of paths (and of their parent
// directories: a directory a dyno made holds what it wrote before the
// watcher could see it), dropping stale ones.
func (a *writers) take(paths map[string]bool) map[string]writes {
	if a.fan != nil {
		a.fan.drain() // every change made so far is counted
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]writes{}
	for p := range paths {
		for q := p; q != "."; q = path.Dir(q) {
			if r, ok := a.rec[q]; ok {
				out[q] = *r
			}
		}
	}
	for p := range out {
		delete(a.rec, p)
	}
	for p, r := range a.rec {
		if time.Since(r.last) > recordTTL {
			delete(a.rec, p)
		}
	}
	return out
}

// byDynos drops from the batch what only dynobox's processes changed, and
// what lies in RuntimeDirs, and names new such paths once in a notice.
func (w *Watcher) byDynos(b *batch) {
	a := w.writers
	recs := a.take(b.paths)
	var dropped, sticky []string
	for p := range b.paths {
		if w.cls.special(p) {
			continue // the Procfile, .env, app.json: never a dyno's business
		}
		r := recs[p]
		switch {
		case r.other > 0:
			delete(a.theirs, p) // someone else wrote it: yours, as the windows decide
		case r.ours > 0 || madeByDyno(p, recs):
			dropped = append(dropped, p)
		case a.theirs[p] || runtimePath(p):
			sticky = append(sticky, p)
		}
	}
	if len(sticky) > 0 {
		// A file git tracks is yours even where dynos write: a write we
		// could not attribute to them deploys.
		tracked := w.opts.Tracked(w.root, sticky)
		for _, p := range sticky {
			if !tracked[p] {
				dropped = append(dropped, p)
			} else {
				delete(a.theirs, p)
			}
		}
	}
	var named []string
	for _, p := range dropped {
		delete(b.paths, p)
		if !runtimePath(p) {
			a.theirs[p] = true
		}
		if !a.named[p] {
			a.named[p] = true
			named = append(named, p)
		}
	}
	if len(a.theirs) > 10000 { // uploads by the thousand: forget the oldest knowledge
		a.theirs = map[string]bool{}
	}
	if len(named) > 0 {
		slices.Sort(named)
		w.notice(fmt.Sprintf("Not deploying for what the dynos and builds wrote: %s", list(named)))
	}
}

// madeByDyno: a directory above p was created by dynobox's processes in
// this batch, and nobody else wrote there.
func madeByDyno(p string, recs map[string]writes) bool {
	for q := path.Dir(p); q != "."; q = path.Dir(q) {
		if r, ok := recs[q]; ok {
			return r.ours > 0 && r.other == 0
		}
	}
	return false
}
