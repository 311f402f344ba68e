package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/testutil"
	"golang.org/x/sys/unix"
)

// Helpers of the end-to-end tests: apps, the binary run in the background
// or to completion, ports, processes.

// helperCommand is a Procfile command that runs the test binary as a web app.
func helperCommand(t *testing.T) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return "DYNOBOX_TEST_HELPER=web exec " + exe
}

// writeApp creates an app directory with the given files.
func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type proc struct {
	t   *testing.T
	cmd *exec.Cmd
	out *testutil.Buffer
	err *testutil.Buffer
}

// startDynobox runs the binary in dir in the background.
func startDynobox(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startDynoboxEnv(t, dir, nil, args...)
}

// startDynoboxEnv is startDynobox with extra environment variables.
func startDynoboxEnv(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, out: &testutil.Buffer{}, err: &testutil.Buffer{}}
	if len(args) > 0 && args[0] == "start" && !slices.Contains(args, "--dashboard") {
		args = append(args, "--dashboard", "off") // tests need no dashboard unless they say so
	}
	if len(args) > 0 && args[0] == "start" && !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--no-watch") }) {
		args = append(args, "--no-watch") // nor a watcher: tests that watch pass --no-watch=false
	}
	p.cmd = exec.Command(dynoboxBin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.err
	p.cmd.Env = append(append(os.Environ(), "NO_COLOR=1"), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// whileStopped runs do while dynobox is stopped (SIGSTOP), then lets it
// go on: it reads what do changed all at once, however slowly do ran.
func (p *proc) whileStopped(do func()) {
	p.t.Helper()
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		p.t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	// kill returns before every thread has stopped; waitid returns once
	// all have (WNOWAIT: cmd.Wait still reaps the process later).
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WSTOPPED|unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		p.t.Fatalf("waitid: %v", err)
	}
	const cldStopped = 5 // si_code of a stopped child
	if info.Code != cldStopped {
		p.t.Fatalf("dynobox did not stop (si_code %d):\n%s", info.Code, p.out)
	}
	do()
}

// hasOutput reports whether the output contains text, ignoring how many
// spaces align the columns.
func (p *proc) hasOutput(text string) bool {
	return strings.Contains(collapseSpaces(p.out.String()), collapseSpaces(text))
}

func collapseSpaces(s string) string {
	return regexp.MustCompile(` +`).ReplaceAllString(s, " ")
}

func (p *proc) waitOutput(text string) {
	p.t.Helper()
	p.waitOutputWithin(text, 15*time.Second)
}

// waitOutputWithin is waitOutput for slower steps, such as a build that
// makes a virtualenv (over 10 s on a busy 2-core machine).
func (p *proc) waitOutputWithin(text string, limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	for !p.hasOutput(text) {
		if p.exited() {
			p.t.Fatalf("dynobox exited before %q; output:\n%s\nstderr:\n%s", text, p.out, p.err)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no %q in output within %s:\n%s\nstderr:\n%s", text, limit, p.out, p.err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) wait() int {
	p.t.Helper()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("dynobox did not exit; output:\n%s", p.out)
	}
	return p.cmd.ProcessState.ExitCode()
}

// exited reports whether the process is gone (without reaping it).
func (p *proc) exited() bool {
	return p.cmd.Process != nil && p.cmd.Process.Signal(syscall.Signal(0)) != nil || isZombie(p.cmd.Process.Pid)
}

func isZombie(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// runDynobox runs the binary to completion.
func runDynobox(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dynoboxBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// portBlocks hands each test its own block of 1200 ports (dynobox uses the
// public port, public+1…, public+100…, public+200… for up to three types,
// and public+1000 for the dashboard), so parallel tests never pick
// overlapping ports. The blocks lie below the kernel's ephemeral range
// (32768 and up), where no connection or listener on port 0 lands by
// chance, and start at a random place; a lock file per block keeps two
// test runs at once apart.
var portBlocks atomic.Int64

const (
	portBase       = 2000
	portBlock      = 1200
	portBlockCount = 25 // 2000 … 31999
)

func init() { portBlocks.Store(int64(os.Getpid() % portBlockCount)) }

func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < portBlockCount; i++ {
		p := portBase + portBlock*int(portBlocks.Add(1)%portBlockCount)
		// A lock file per block keeps it this test's until the test ends,
		// also against a second test run checking the same block at once.
		lock, err := os.OpenFile(filepath.Join(os.TempDir(), fmt.Sprintf("dynobox-test-ports-%d.lock", p)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			lock.Close()
			continue
		}
		if blockFree(p) {
			t.Cleanup(func() { lock.Close() })
			return p
		}
		lock.Close()
	}
	t.Fatal("no free port block")
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// childWithArg finds the child process of ppid whose first argument is arg.
func childWithArg(t *testing.T, ppid int, arg string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			s := string(stat)
			i := strings.LastIndexByte(s, ')')
			f := strings.Fields(s[i+1:]) // state, ppid, ...
			if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
				continue
			}
			cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			args := strings.Split(string(cmdline), "\x00")
			if len(args) > 1 && args[1] == arg {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no child of %d runs %q", ppid, arg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPIDs(t *testing.T, path string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		f := strings.Fields(string(data))
		if len(f) >= n {
			var pids []int
			for _, s := range f {
				pid, _ := strconv.Atoi(s)
				pids = append(pids, pid)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d pids, have %q", path, n, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still running %s later", pid, within)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func httpGet(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
