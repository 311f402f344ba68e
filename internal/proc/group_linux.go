package proc

import "syscall"

// Process groups: every child dynobox starts — dyno, release phase,
// one-off dyno, build, add-on server — leads a group of its own, so that
// one signal reaches what it started too (sh -c wrappers, background
// jobs, forked workers).

// GroupAttr puts a child in a process group of its own and has the
// kernel kill it if dynobox dies (Pdeathsig covers the direct child;
// the watchdog covers the rest). Callers may adjust the result (a
// terminal's foreground job, another death signal, a credential).
func GroupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// SignalGroup sends sig to process group pgid. A group that is gone is
// not an error, and pgid 0 or 1 (the caller's own group, init's) is never
// signalled.
func SignalGroup(pgid int, sig syscall.Signal) {
	if pgid > 1 {
		_ = syscall.Kill(-pgid, sig)
	}
}

// GroupAlive reports whether any process (not counting zombies not yet
// reaped) remains in group pgid.
func GroupAlive(pgid int) bool {
	if pgid <= 1 {
		return false
	}
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return false
	}
	// kill(2) also succeeds for zombies; look closer.
	for _, p := range List() {
		if p.PGID == pgid && p.State != 'Z' {
			return true
		}
	}
	return false
}
