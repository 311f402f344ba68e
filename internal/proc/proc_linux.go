// Package proc is dynobox's process code: it reads the process table,
// puts children in process groups and signals those groups, and reaps
// orphaned children — what the dyno supervisor, the builds and the
// add-ons share.
//
// Its contract: it reaps only zombies that no owner waits for — a child
// started through StartChild is its owner's until ChildDone, so the
// reaper never steals a cmd.Wait. It signals only the process groups its
// caller names (SignalGroup), never its own group or init's, and never
// prints.
package proc

import (
	"bytes"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Info is one process as /proc/PID/stat describes it.
type Info struct {
	PID, PPID, PGID int
	Comm            string // the command name, e.g. "sh"
	State           byte   // 'R', 'S', 'Z' …
	// Ticks is the CPU time used (utime + stime) in clock ticks; RSSPages
	// the resident set in pages.
	Ticks, RSSPages uint64
}

// ParseStat reads the contents of /proc/PID/stat, the one parser of it:
// the fields after the parenthesised command name (which may hold spaces
// and parentheses) are state (3), ppid (4), pgrp (5) … utime (14), stime
// (15) … rss in pages (24). A line cut short is not ok.
func ParseStat(pid int, data []byte) (Info, bool) {
	start, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if start < 0 || end < start || end+2 >= len(data) {
		return Info{}, false
	}
	f := bytes.Fields(data[end+2:])
	if len(f) < 22 {
		return Info{}, false
	}
	field := func(n int) uint64 { v, _ := strconv.ParseUint(string(f[n-3]), 10, 64); return v }
	return Info{PID: pid, PPID: int(field(4)), PGID: int(field(5)), Comm: string(data[start+1 : end]), State: f[0][0],
		Ticks: field(14) + field(15), RSSPages: field(24)}, true
}

// Stat reads /proc/PID/stat; false when the process is gone.
func Stat(pid int) (Info, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Info{}, false
	}
	return ParseStat(pid, data)
}

// List reads /proc/*/stat. Processes vanishing meanwhile are skipped.
func List() []Info {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []Info
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if p, ok := ParseStat(pid, data); ok {
			out = append(out, p)
		}
	}
	return out
}

// The reaper makes dynobox a child subreaper, so orphaned grandchildren of
// dynos stay our descendants instead of escaping to init, and reaps those
// orphans when they exit. It is process-wide. It reaps only zombies in the
// process groups of children started through StartChild (each is a group
// leader), and never those leaders themselves, so the exit status of any
// other child of the process — a test's exec.Cmd, a build step — is left
// to its own Wait. An orphan that had left its dyno's group (setsid, or a
// tool such as air that starts its app in a group of its own) becomes a
// zombie child in no group of ours: it is reaped once it has stayed one
// for strayGrace, far longer than any owner takes to Wait for a child it
// started itself.
var reaper struct {
	once    sync.Once
	mu      sync.Mutex
	managed map[int]bool      // leaders whose owner has not returned from Wait
	groups  map[int]bool      // process groups whose orphans we reap
	strays  map[int]time.Time // zombie children in no group of ours: first seen
}

// strayGrace is how long a zombie child outside our groups is left to an
// owner's Wait before the reaper takes it as an orphan; guarded by
// reaper.mu (tests shorten it).
var strayGrace = 20 * time.Second

// StartChild runs start (which forks a child that leads its own process
// group and returns its pid) while orphan reaping is held off, and marks
// the pid as waited for by its owner. Call ChildDone once that Wait has
// returned.
func StartChild(start func() (int, error)) error {
	reaper.once.Do(func() {
		reaper.managed = map[int]bool{}
		reaper.groups = map[int]bool{}
		reaper.strays = map[int]time.Time{}
		_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		go reapLoop()
	})
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	pid, err := start()
	if err == nil {
		reaper.managed[pid] = true
		reaper.groups[pid] = true
	}
	return err
}

// ChildDone forgets pid once its owner's Wait has returned.
func ChildDone(pid int) {
	reaper.mu.Lock()
	delete(reaper.managed, pid)
	reaper.mu.Unlock()
}

func reapLoop() {
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	// The tick is a safety net: SIGCHLDs coalesce, and one may race a start.
	tick := time.NewTicker(5 * time.Second)
	for {
		select {
		case <-sigchld:
		case <-tick.C:
		}
		reapOrphans()
	}
}

// reapOrphans waits for exited orphans of our children's process groups,
// and forgets groups that are empty and whose leader was waited for.
func reapOrphans() {
	self := os.Getpid()
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	live := map[int]bool{}
	zombies := map[int]bool{}
	now := time.Now()
	for _, p := range List() {
		live[p.PGID] = true
		if p.PPID != self || p.State != 'Z' || reaper.managed[p.PID] {
			continue
		}
		if !reaper.groups[p.PGID] {
			zombies[p.PID] = true
			first, seen := reaper.strays[p.PID]
			if !seen {
				reaper.strays[p.PID] = now
			}
			if !seen || now.Sub(first) < strayGrace {
				continue
			}
		}
		var ws unix.WaitStatus
		_, _ = unix.Wait4(p.PID, &ws, unix.WNOHANG, nil)
	}
	for pid := range reaper.strays {
		if !zombies[pid] {
			delete(reaper.strays, pid)
		}
	}
	for g := range reaper.groups {
		if !live[g] && !reaper.managed[g] {
			delete(reaper.groups, g)
		}
	}
}
