package addons

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
	"golang.org/x/sys/unix"
)

// pgRunAs is the account PostgreSQL runs under when dynobox is root:
// postgres and initdb refuse to run as root.
type pgRunAs struct {
	uid, gid uint32
	name     string
	// viaFD: the account cannot search a parent of the data directory (the
	// app's 0700 state directory), so dynobox opens the data and socket
	// directories itself and hands them over as open files
	// (/proc/self/fd/N): the server then runs without any capability
	// instead of with CAP_DAC_READ_SEARCH, which would let it — and every
	// superuser-only function in it — read any file on the host.
	viaFD bool
}

// pgSysProcAttr puts the child in its own process group (a Ctrl-C at the
// terminal is for dynobox, which stops add-ons after the dynos) and asks the
// kernel to signal it when dynobox dies: SIGINT is PostgreSQL's fast
// shutdown, so a kill -9 of dynobox still ends in a clean checkpoint and no
// orphaned backends. deathSig 0 disables that (tests simulate a server left
// running). Changing from root to another uid clears every capability, and
// none is added back: the server runs with CapEff, CapInh and CapAmb empty.
func pgSysProcAttr(run *pgRunAs, deathSig syscall.Signal) *syscall.SysProcAttr {
	attr := proc.GroupAttr()
	attr.Pdeathsig = deathSig
	if run != nil {
		attr.Credential = &syscall.Credential{Uid: run.uid, Gid: run.gid} // and no supplementary groups
	}
	return attr
}

// pgPickRunAs decides who runs the server when dynobox is root (nil
// otherwise). A data directory owned by a normal user is run as that user
// (dynobox ran without root before); otherwise the "postgres" account,
// created if missing, and "nobody" as the last resort.
func pgPickRunAs(dataDir string, log func(string)) (*pgRunAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var run *pgRunAs
	if st, err := os.Stat(dataDir); err == nil {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid != 0 {
			run = &pgRunAs{uid: sys.Uid, gid: sys.Gid, name: "uid " + strconv.Itoa(int(sys.Uid))}
			if u, err := user.LookupId(strconv.Itoa(int(sys.Uid))); err == nil {
				run.name = u.Username
			}
		}
	}
	if run == nil {
		var err error
		if run, err = pgSystemUser(log); err != nil {
			return nil, err
		}
	}
	run.viaFD = !pgSearchable(filepath.Dir(dataDir), run.uid, run.gid)
	return run, nil
}

// pgSystemUser finds or creates the "postgres" account. That is the name
// distributions give PostgreSQL's owner, so a later apt-get install
// postgresql adopts it instead of clashing. "nobody" is the fallback for
// images without useradd or with a read-only /etc; it works, but files owned
// by nobody are shared with every other service running as nobody.
func pgSystemUser(log func(string)) (*pgRunAs, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		out, uerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
			"--comment", "PostgreSQL (created by dynobox)", "postgres").CombinedOutput()
		if uerr == nil {
			log("created system user postgres to run PostgreSQL (it refuses to run as root)")
			u, err = user.Lookup("postgres")
		} else {
			log(fmt.Sprintf("could not create user postgres (%v %s); running PostgreSQL as nobody",
				uerr, bytes.TrimSpace(out)))
			u, err = user.Lookup("nobody")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("find a user to run postgres as (it refuses root): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &pgRunAs{uid: uint32(uid), gid: uint32(gid), name: u.Username}, nil
}

// pgSearchable reports whether uid/gid may search every directory from /
// down to dir, by mode bits (ACLs and supplementary groups are ignored: a
// false "no" only adds a capability that was not needed).
func pgSearchable(dir string, uid, gid uint32) bool {
	dir = filepath.Clean(dir)
	for {
		st, err := os.Stat(dir)
		if err != nil {
			return false
		}
		sys := st.Sys().(*syscall.Stat_t)
		mode := st.Mode().Perm()
		var ok bool
		switch {
		case sys.Uid == uid:
			ok = mode&0o100 != 0
		case sys.Gid == gid:
			ok = mode&0o010 != 0
		default:
			ok = mode&0o001 != 0
		}
		if !ok {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// pgChownTree gives a data directory to the account that runs the server.
func pgChownTree(dir string, run *pgRunAs) error {
	if run == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(run.uid), int(run.gid))
	})
}

// pgChown gives one path to the account that runs the server.
func pgChown(path string, run *pgRunAs) error {
	if run == nil {
		return nil
	}
	return os.Lchown(path, int(run.uid), int(run.gid))
}

// pgProcAlive reports whether pid is a running process; zombies count as
// dead (kill(2) would say they are alive, and so would PostgreSQL's own
// stale lock-file check).
func pgProcAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, ok := proc.Stat(pid)
	return ok && st.State != 'Z' && st.State != 'X'
}

// pgServerProc reports whether pid is a postgres process working in dataDir:
// the postmaster and every backend chdir to their data directory.
func pgServerProc(pid int, dataDir string) bool {
	if !pgProcAlive(pid) {
		return false
	}
	if cwd, ok := proc.Cwd(pid); !ok || cwd != dataDir {
		return false
	}
	exe, ok := proc.Exe(pid)
	return ok && filepath.Base(exe) == "postgres"
}

// pgStalePid reports whether a lock file naming pid may go: pid is dead, a
// zombie, or visibly some other process. When /proc does not say (another
// user's process), it is left to PostgreSQL.
func pgStalePid(pid int, dataDir string) bool {
	if !pgProcAlive(pid) {
		return true
	}
	cwd, ok := proc.Cwd(pid)
	return ok && cwd != dataDir
}

// pgServerProcs lists the postgres processes working in dataDir. After a
// postmaster is SIGKILLed its busy backends live on, still attached to the
// old shared memory; they must go before a new postmaster starts.
func pgServerProcs(dataDir string) []int {
	var pids []int
	for _, p := range proc.List() {
		if p.PID != os.Getpid() && pgServerProc(p.PID, dataDir) {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// pgWaitGone waits up to d for pid (not necessarily our child) to exit.
// A pidfd becomes readable when the process exits, so no polling unless the
// kernel is older than 5.3.
func pgWaitGone(pid int, d time.Duration) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	if err != nil {
		return pgPollGone(pid, d)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if n > 0 || !pgProcAlive(pid) {
			return true
		}
		if err != nil || left == 0 {
			return false
		}
	}
}

func pgPollGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for pgProcAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
