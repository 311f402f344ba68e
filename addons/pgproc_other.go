//go:build !linux

package addons

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgRunAs is only needed on Linux, where containers run dynobox as root.
type pgRunAs struct {
	uid, gid uint32
	name     string
	viaFD    bool
}

// pgSysProcAttr: no Pdeathsig outside Linux; the next start cleans up
// after a server left running (pgStopLeftover).
func pgSysProcAttr(run *pgRunAs, _ syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func pgPickRunAs(dataDir string, log func(string)) (*pgRunAs, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("postgres refuses to run as root; run dynobox as a normal user")
	}
	return nil, nil
}

func pgChownTree(string, *pgRunAs) error { return nil }
func pgChown(string, *pgRunAs) error     { return nil }

func pgProcAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// pgServerProc: without /proc, trust postmaster.pid when its pid is a
// process named postgres.
func pgServerProc(pid int, dataDir string) bool {
	if !pgProcAlive(pid) {
		return false
	}
	out, err := exec.Command("ps", "-o", "comm=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && strings.HasSuffix(strings.TrimSpace(string(out)), "postgres")
}

func pgStalePid(pid int, dataDir string) bool { return !pgServerProc(pid, dataDir) }

func pgServerProcs(string) []int { return nil }

func pgWaitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for pgProcAlive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
