package proc

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A child started with a marker in its environment is found by it, and
// only by the whole entry.
func TestWithEnvFindsTheMarkedChild(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	cmd.Env = []string{"A=1", "PROC_TEST_MARK=" + t.Name(), "Z=2"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if pids := WithEnv("PROC_TEST_MARK=" + t.Name()); !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Fatalf("WithEnv = %v, want the child %d", pids, cmd.Process.Pid)
	}
	if pids := WithEnv("PROC_TEST_MARK=" + t.Name()[:5]); len(pids) != 0 {
		t.Fatalf("a prefix of the value matched %v", pids)
	}
	env, ok := Environ(cmd.Process.Pid)
	if !ok || !HasEnv(env, "A=1") || !HasEnv(env, "Z=2") || HasEnv(env, "A=") {
		t.Fatalf("Environ = %q, %v", env, ok)
	}
	if _, ok := Environ(1 << 30); ok {
		t.Fatal("Environ of a missing process is ok")
	}
}

// Files open for writing under a directory are listed; files open for
// reading and files elsewhere are not.
func TestOpenForWriting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := os.Create(filepath.Join(dir, "written"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	os.WriteFile(filepath.Join(dir, "read"), nil, 0o644)
	r, err := os.Open(filepath.Join(dir, "read"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := OpenForWriting(os.Getpid(), dir+"/")
	if !slices.Equal(got, []string{w.Name()}) {
		t.Fatalf("OpenForWriting = %q, want only %s", got, w.Name())
	}
}

// The holder of a flock is named; an unlocked file has none.
func TestFlockHolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if pid := FlockHolder(path); pid != 0 {
		t.Fatalf("unlocked file held by %d", pid)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if pid := FlockHolder(path); pid != os.Getpid() {
		t.Fatalf("FlockHolder = %d, want this process %d", pid, os.Getpid())
	}
}

func TestCgroupAndExists(t *testing.T) {
	t.Parallel()
	if _, ok := Cgroup(os.Getpid()); !ok || !Exists(os.Getpid()) {
		t.Fatal("this process has no cgroup line or does not exist")
	}
	if _, ok := Cgroup(1 << 30); ok || Exists(1<<30) {
		t.Fatal("a missing process exists")
	}
}

func TestSelf(t *testing.T) {
	if mnt := Cgroup2Mount(); mnt != "" {
		if st, err := os.Stat(filepath.Join(mnt, "cgroup.controllers")); err != nil || !st.Mode().IsRegular() {
			t.Errorf("Cgroup2Mount %q holds no cgroup.controllers: %v", mnt, err)
		}
	}
	f, err := os.CreateTemp(t.TempDir(), "fd")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, ok := FileOf(int(f.Fd())); !ok || got != f.Name() {
		t.Errorf("FileOf(%d) = %q, %v; want %q", f.Fd(), got, ok, f.Name())
	}
	if _, ok := FileOf(1 << 20); ok {
		t.Error("FileOf of a closed descriptor is ok")
	}
	// Root in the initial namespace has CAP_SYS_ADMIN; anyone else may not.
	if os.Geteuid() == 0 && !HasCapability(unix.CAP_CHOWN) && !HasCapability(unix.CAP_SYS_ADMIN) {
		t.Error("root has neither CAP_CHOWN nor CAP_SYS_ADMIN")
	}
	if HasCapability(63) {
		t.Error("capability 63, which does not exist, is had")
	}
}

// What the bench tools report of a process: its command name, command
// line and memory, read here for this test's own process.
func TestCommCmdlineAndMemoryOfSelf(t *testing.T) {
	t.Parallel()
	pid := os.Getpid()
	info, ok := Stat(pid)
	if !ok || info.Comm == "" || !strings.HasPrefix(filepath.Base(os.Args[0]), info.Comm) {
		t.Fatalf("Stat(self) = %+v, %v; want the comm of %s", info, ok, os.Args[0])
	}
	if got := Cmdline(pid); !strings.HasPrefix(got, os.Args[0]) {
		t.Fatalf("Cmdline(self) = %q, want it to start with %s", got, os.Args[0])
	}
	if m := MemoryOf(pid); m.RSS <= 0 || m.Anon <= 0 || m.PSS <= 0 {
		t.Fatalf("MemoryOf(self) = %+v, want all set", m)
	}
}
