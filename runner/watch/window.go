package watch

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// What a deploy writes is never a reason for the next one. A deploy (the
// callback) rebuilds and restarts the dynos, and the build and the booting
// dynos often write into the app directory: a stamp file, a log, o/$DYNO,
// a SQLite database. Reporting those writes deploys again, which writes
// again: an endless loop. inotify does not say who wrote a file, so the
// watcher attributes by time and by ownership:
//
//   - A window opens when the callback starts and closes Settle after it
//     returns (the dynos' first writes after boot); the first window is
//     Settle after the watcher starts (the dynos launched at start).
//   - A path that changed only inside a window is the deploy's own output
//     unless it is yours: a file version control tracks (git ls-files),
//     one that changed outside any window since the watcher started, or
//     one that was there when the watcher started and that no window has
//     written (the start's window, with its build and the dynos' first
//     boot, shows what a deploy writes). The deploy's outputs are dropped
//     (their new content remembered) and named once in a notice.
//   - A loop guard catches what slips through (an untracked file a dyno
//     rewrites every second, which made it yours): a path that changed
//     only inside a window may start LoopLimit deploys in a row; the next
//     time it is ignored for the rest of the run, with a notice naming it. Files version control tracks are never silenced: that is where
//     someone saving while builds run keeps editing.
//
// The cost: a file you create while a deploy runs or just after, that
// git does not track yet, is taken for the deploy's until you save it
// again.

// DefaultSettle is how long a window stays open after the callback: the
// first writes of dynos that have just booted.
const DefaultSettle = time.Second

// LoopLimit is how many deploys in a row a path may start by changing only
// while the deploy before ran, before the loop guard ignores it.
const LoopLimit = 2

// LoopGap is how soon after a deploy a change counts towards the loop
// guard: dynos that write within seconds of booting.
const LoopGap = 5 * time.Second

// gitTracked is the default Options.Tracked: which of paths (relative to
// root, slash-separated) git tracks. Without git or a repository: none.
func gitTracked(root string, paths []string) map[string]bool {
	out := map[string]bool{}
	for chunk := range slices.Chunk(paths, 500) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		args := append([]string{"--literal-pathspecs", "-C", root, "ls-files", "-z", "--"}, chunk...)
		data, err := exec.CommandContext(ctx, "git", args...).Output()
		cancel()
		if err != nil {
			return out
		}
		for _, p := range bytes.Split(data, []byte{0}) {
			if len(p) > 0 {
				out[string(p)] = true
			}
		}
	}
	return out
}

// window is what the watcher knows about who wrote what.
type window struct {
	until   time.Time       // a window is open while the callback runs and until then
	lastEnd time.Time       // when the last callback returned
	yours   map[string]bool // paths changed outside a window: the user's
	outputs map[string]bool // paths a window wrote, that you have not changed since
	named   map[string]bool // outputs already named in a notice
	streak  map[string]int  // batches in a row a path started from inside a window
	noisy   map[string]bool // paths the loop guard silenced
	existed map[string]bool // files there when the watcher started
	started bool            // the start's window has closed
}

func newWindow() window {
	return window{yours: map[string]bool{}, outputs: map[string]bool{}, streak: map[string]int{}, noisy: map[string]bool{}, existed: map[string]bool{}, named: map[string]bool{}}
}

// attribute drops from the batch what the deploy wrote and what the loop
// guard silenced, and updates the guard with what is left.
func (w *Watcher) attribute(b *batch) {
	var unknown []string
	for p := range b.paths {
		if w.win.noisy[p] {
			delete(b.paths, p)
			continue
		}
		switch {
		case b.outside[p]:
			w.win.yours[p] = true
			delete(w.win.outputs, p)
		case w.win.yours[p] || w.cls.special(p):
		case w.win.started && w.win.existed[p] && !w.win.outputs[p]:
			// A file that was there before, that no window wrote: yours.
		default:
			unknown = append(unknown, p)
		}
	}
	var tracked map[string]bool
	if len(unknown) > 0 {
		tracked = w.opts.Tracked(w.root, unknown)
	}
	var named []string
	for _, p := range unknown {
		if tracked[p] {
			continue
		}
		delete(b.paths, p)
		if !w.win.outputs[p] && !w.win.named[p] {
			named = append(named, p)
			w.win.named[p] = true
		}
		w.win.outputs[p] = true
	}
	if len(named) > 0 {
		slices.Sort(named)
		w.notice(fmt.Sprintf("Not deploying for what the last deploy wrote (its build or its dynos booting): %s; a save of yours deploys", list(named)))
	}

	// The loop guard.
	var silenced []string
	for p := range w.win.streak {
		if _, ok := b.paths[p]; !ok {
			delete(w.win.streak, p)
		}
	}
	var trackedCheck []string
	for p := range b.paths {
		soon := !w.win.lastEnd.IsZero() && b.firstAt[p].Sub(w.win.lastEnd) < LoopGap
		if !soon || w.cls.special(p) {
			delete(w.win.streak, p)
			continue
		}
		trackedCheck = append(trackedCheck, p)
	}
	if len(trackedCheck) > 0 {
		tracked = w.opts.Tracked(w.root, trackedCheck)
	}
	for _, p := range trackedCheck {
		if tracked[p] {
			delete(w.win.streak, p)
			continue
		}
		w.win.streak[p]++
		if w.win.streak[p] > LoopLimit {
			w.win.noisy[p] = true
			delete(b.paths, p)
			silenced = append(silenced, p)
		}
	}
	if len(silenced) > 0 {
		slices.Sort(silenced)
		w.notice(fmt.Sprintf("Not deploying on changes to %s any more: it changed again right after each of the last %d deploys, so something dynobox runs writes it; list it in .gitignore", list(silenced), LoopLimit+1))
	}
}

// list names a few paths.
func list(paths []string) string {
	if len(paths) > 5 {
		return fmt.Sprintf("%s and %d more", strings.Join(paths[:5], ", "), len(paths)-5)
	}
	return strings.Join(paths, ", ")
}

func (w *Watcher) notice(msg string) {
	if w.opts.Notice != nil {
		w.opts.Notice(msg)
	}
}
