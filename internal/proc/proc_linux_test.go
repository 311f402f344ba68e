package proc

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// startGroup starts sh -c script as the leader of a new process group,
// through StartChild.
func startGroup(t *testing.T, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := StartChild(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	}); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestReaperLeavesOtherChildrenToTheirWait(t *testing.T) {
	// Not parallel: it counts this process's children.
	leader := startGroup(t, "sleep 30")
	defer func() { leader.Process.Kill(); leader.Wait(); ChildDone(leader.Process.Pid) }()
	for i := 0; i < 50; i++ {
		// A child started without StartChild: its exit status must survive
		// the reaper, which runs on every SIGCHLD.
		cmd := exec.Command("/bin/sh", "-c", "exit 7")
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
			t.Fatalf("run %d: %v (the reaper took the exit status)", i, err)
		}
	}
}

func TestReaperReapsOrphansOfItsGroups(t *testing.T) {
	// The leader leaves a background job behind and exits; the job is
	// reparented to us (the subreaper) and must not stay a zombie.
	leader := startGroup(t, "sleep 0.3 & exit 0")
	leader.Wait()
	ChildDone(leader.Process.Pid)
	deadline := time.Now().Add(5 * time.Second)
	sawOrphan := false
	for {
		orphans, zombies := 0, 0
		for _, p := range List() {
			if p.PPID == os.Getpid() && p.PGID == leader.Process.Pid {
				orphans++
				if p.State == 'Z' {
					zombies++
				}
			}
		}
		sawOrphan = sawOrphan || orphans > 0
		if orphans == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orphans (%d zombies) of the group remain", orphans, zombies)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawOrphan {
		t.Log("the background job finished before it was seen; nothing left either way")
	}
}

func TestReaperReapsStrayOrphansAfterTheirGrace(t *testing.T) {
	// An orphan that left the leader's group (setsid: it leads a group of
	// its own) exits as our zombie child: the reaper takes it once it has
	// stayed one for strayGrace.
	reaper.mu.Lock()
	saved := strayGrace
	strayGrace = 300 * time.Millisecond
	reaper.mu.Unlock()
	defer func() { reaper.mu.Lock(); strayGrace = saved; reaper.mu.Unlock() }()
	leader := startGroup(t, "setsid sh -c 'sleep 0.2' & exit 0")
	leader.Wait()
	ChildDone(leader.Process.Pid)
	stray := func() (Info, bool) {
		for _, p := range List() {
			if p.PPID == os.Getpid() && p.PGID == p.PID && p.PID != leader.Process.Pid {
				return p, true
			}
		}
		return Info{}, false
	}
	deadline := time.Now().Add(5 * time.Second)
	for p, ok := stray(); !ok || p.State != 'Z'; p, ok = stray() {
		if time.Now().After(deadline) {
			t.Fatalf("the setsid orphan never became our zombie child (%+v, %v)", p, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	deadline = time.Now().Add(15 * time.Second)
	for p, ok := stray(); ok; p, ok = stray() {
		if time.Now().After(deadline) {
			t.Fatalf("the stray zombie %+v was not reaped", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The command name may hold spaces and parentheses; a line cut short is
// refused; this test process is in the real /proc, running.
func TestParseStat(t *testing.T) {
	line := "4242 (my (odd) proc) S 1 4200 4200 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 104857600 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n"
	got, ok := ParseStat(4242, []byte(line))
	want := Info{PID: 4242, PPID: 1, PGID: 4200, Comm: "my (odd) proc", State: 'S', Ticks: 300, RSSPages: 2560}
	if !ok || got != want {
		t.Fatalf("ParseStat = %+v, %v; want %+v", got, ok, want)
	}
	for _, short := range []string{"1 (x) S 0", "1 (x)", "1 x S 0 1 1"} {
		if p, ok := ParseStat(1, []byte(short)); ok {
			t.Errorf("ParseStat(%q) = %+v, want refused", short, p)
		}
	}
	me, ok := Stat(os.Getpid())
	if !ok || me.PID != os.Getpid() || me.PPID != os.Getppid() || me.State == 'Z' || me.RSSPages == 0 {
		t.Fatalf("Stat(self) = %+v, %v", me, ok)
	}
	if _, ok := Stat(-1); ok {
		t.Error("Stat(-1) found a process")
	}
}

func TestSignalGroupIgnoresMissing(t *testing.T) {
	t.Parallel()
	SignalGroup(0, syscall.SIGKILL) // must not signal our own group
	SignalGroup(1, syscall.SIGKILL) // nor init's
	if GroupAlive(999999) {
		t.Fatal("a nonexistent group is alive")
	}
}
