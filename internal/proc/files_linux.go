package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// What /proc says about one process besides its stat line, and about
// file locks: the readers behind the session sweep, the watcher's "who
// wrote this" and the "already running" message.

// Environ is the environment process pid started with (NUL-separated
// KEY=VALUE entries); not ok when the process is gone or not readable.
// A zombie's is empty.
func Environ(pid int) (env []byte, ok bool) {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return env, err == nil
}

// HasEnv reports whether an environment as Environ returns it holds the
// entry kv ("KEY=VALUE") exactly.
func HasEnv(env []byte, kv string) bool {
	entry := []byte(kv + "\x00")
	return bytes.HasPrefix(env, entry) || bytes.Contains(env, append([]byte{0}, entry...))
}

// WithEnv lists the live processes other than this one whose environment
// holds kv ("KEY=VALUE").
func WithEnv(kv string) []int {
	self := os.Getpid()
	var pids []int
	for _, p := range List() {
		if p.PID == self || p.State == 'Z' {
			continue
		}
		if env, ok := Environ(p.PID); ok && HasEnv(env, kv) {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// Cgroup is process pid's cgroup v2 path ("/dynobox/s1/web.1", as
// /proc/PID/cgroup's "0::" line names it); "" without cgroup v2, not ok
// when the process is gone.
func Cgroup(pid int) (path string, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, found := strings.CutPrefix(line, "0::"); found {
			return p, true
		}
	}
	return "", true
}

// Cwd is process pid's working directory; not ok when it is gone or
// another user's.
func Cwd(pid int) (string, bool) {
	dir, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	return dir, err == nil
}

// Exe is the path of process pid's executable; not ok when it is gone
// or another user's.
func Exe(pid int) (string, bool) {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	return exe, err == nil
}

// Exists reports whether process pid exists (a zombie too).
func Exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// OpenForWriting lists the files under dir (an absolute path ending in
// "/") that process pid holds open for writing or reading and writing.
func OpenForWriting(pid int, dir string) []string {
	base := "/proc/" + strconv.Itoa(pid)
	fds, err := os.ReadDir(base + "/fd")
	if err != nil {
		return nil
	}
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(base + "/fd/" + fd.Name())
		if err != nil || !strings.HasPrefix(target, dir) {
			continue
		}
		if writable(base + "/fdinfo/" + fd.Name()) {
			out = append(out, target)
		}
	}
	return out
}

// writable reads the access mode from an fdinfo file ("flags: 0100001",
// octal): write-only or read-write.
func writable(fdinfo string) bool {
	data, err := os.ReadFile(fdinfo)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&3 != 0 // O_ACCMODE: O_WRONLY 1, O_RDWR 2
		}
	}
	return false
}

// FlockHolder finds the pid holding a flock on path in /proc/locks
// ("1: FLOCK  ADVISORY  WRITE 1234 08:01:56789 0 EOF"), or 0. It reads
// rather than trying the lock itself: a probe that took the lock, even
// for a moment, could make a starting dynobox fail.
func FlockHolder(path string) int {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0
	}
	data, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		if f[5] == want {
			pid, _ := strconv.Atoi(f[4])
			return pid
		}
	}
	return 0
}

// Lock takes an exclusive flock on the open file f, waiting for it as long
// as it takes (a signal does not cut the wait short); closing f releases it.
func Lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

// Cmdline is the process's command line, its arguments joined by spaces
// ("" when it is gone or a kernel thread).
func Cmdline(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// Memory is what a process holds, in kB: RSS (VmRSS, what ps and top
// show), Anon (RssAnon, what it allocated itself) and PSS (each shared
// page divided among its sharers). Zero when unknown.
type Memory struct{ RSS, Anon, PSS int }

// MemoryOf reads /proc/PID/status and smaps_rollup.
func MemoryOf(pid int) Memory {
	var m Memory
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	if st, err := os.ReadFile(dir + "status"); err == nil {
		kbFields(string(st), map[string]*int{"VmRSS:": &m.RSS, "RssAnon:": &m.Anon})
	}
	if sm, err := os.ReadFile(dir + "smaps_rollup"); err == nil {
		kbFields(string(sm), map[string]*int{"Pss:": &m.PSS})
	}
	return m
}

// kbFields sets *want[key] from the "key: N kB" lines of a /proc file.
func kbFields(text string, want map[string]*int) {
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			if dst, ok := want[f[0]]; ok {
				*dst, _ = strconv.Atoi(f[1])
			}
		}
	}
}
