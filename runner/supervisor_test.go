package runner

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/ports"
	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/logbus/logbustest"
)

// wait bounds every wait for a condition. Generous: it only matters when a
// test fails, and under two full suites on 2 cores a Python dyno can take
// over 10 s to bind.
const wait = 60 * time.Second

type harness struct {
	t   *testing.T
	sup *Supervisor
	log *logbustest.Memory
	dir string
}

// startSupervisor runs slots under a supervisor whose log goes to memory;
// everything is stopped when the test ends.
func startSupervisor(t *testing.T, slots []Slot, mod func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	mem := logbustest.NewMemory(0)
	bus := logbus.New(mem)
	go bus.Run(context.Background())
	cfg := Config{
		AppDir: dir, Env: os.Environ(), Slots: slots,
		BootTimeout: wait, StopTimeout: 5 * time.Second,
		Backoff: Backoff{First: 50 * time.Millisecond, Max: time.Second, StableAfter: time.Minute},
		Bus:     bus, Session: NewSession(),
	}
	if mod != nil {
		mod(&cfg)
	}
	sup := New(cfg)
	h := &harness{t: t, sup: sup, log: mem, dir: dir}
	t.Cleanup(func() {
		sup.Kill()
		sup.Stop()
		bus.Close()
		SweepSession(cfg.Session, 0)
	})
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	return h
}

// waitLog waits for a platform line (heroku[process]) containing text.
func (h *harness) waitLog(process, text string) logbus.Line {
	h.t.Helper()
	return h.waitFor(logbus.SourceHeroku, process, text)
}

// waitApp waits for a line of the dyno's own output (app[process]).
func (h *harness) waitApp(process, text string) logbus.Line {
	h.t.Helper()
	return h.waitFor(logbus.SourceApp, process, text)
}

func (h *harness) waitFor(source, process, text string) logbus.Line {
	h.t.Helper()
	l, ok := h.log.WaitFor(source, process, text, wait)
	if !ok {
		h.t.Fatalf("no %q from %s within %s; log:\n%s", text, process, wait, h.dump())
	}
	return l
}

func (h *harness) dump() string {
	var b strings.Builder
	for _, l := range h.log.Lines() {
		b.WriteString(l.String() + "\n")
	}
	return b.String()
}

// freeTestPort is a free port with room above it for dyno ports (the
// public port + 100 per process type, as foreman counts).
func freeTestPort(t *testing.T) int {
	t.Helper()
	for range 64 {
		p, err := ports.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if p <= 65535-1000 {
			return p
		}
	}
	t.Fatal("no free port with room for dyno ports above it")
	return 0
}

func slot(typ string, i int, port int, command string) Slot {
	return Slot{Type: typ, Index: i, Name: fmt.Sprintf("%s.%d", typ, i), Command: command, Port: port}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func waitGone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still running", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func readPIDs(t *testing.T, path string, n int) []int {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		data, _ := os.ReadFile(path)
		f := strings.Fields(string(data))
		if len(f) >= n {
			pids := make([]int, len(f))
			for i, s := range f {
				pids[i], _ = strconv.Atoi(s)
			}
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d pids, have %q", path, n, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDynoEnvironment(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7123, `echo "port=$PORT dyno=$DYNO ps=$PS greeting=$GREETING"; sleep 1000`)}, func(c *Config) {
		c.Env = append(c.Env, "GREETING=hi there", "PORT=1", "DYNO=wrong")
	})
	h.waitApp("worker.1", "port=7123 dyno=worker.1 ps=worker.1 greeting=hi there")
	h.waitLog("worker.1", "State changed from starting to up")
}

func TestAppBinOnPathAndProfileSourced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "myapp"), []byte("#!/bin/sh\necho myapp ran with $FROM_PROFILE $FROM_PROFILE_D\nsleep 1000\n"), 0o755)
	os.WriteFile(filepath.Join(dir, ".profile"), []byte("FROM_PROFILE=profile-$FROM_PROFILE_D; export FROM_PROFILE\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".profile.d"), 0o755)
	os.WriteFile(filepath.Join(dir, ".profile.d", "a.sh"), []byte("export FROM_PROFILE_D=dotd\n"), 0o644)
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, "myapp")}, func(c *Config) { c.AppDir = dir })
	// .profile.d runs before .profile, as on Heroku.
	h.waitApp("worker.1", "myapp ran with profile-dotd dotd")
}

func TestWebDynoUpOnlyWhenListening(t *testing.T) {
	t.Parallel()
	port := freeTestPort(t)
	// Listen only after a delay: the dyno must stay "starting" until then.
	h := startSupervisor(t, []Slot{slot("web", 1, port, `sleep 0.3; echo listening; exec python3 -c "
import socket,time,os
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(); time.sleep(1000)"`)}, nil)
	upLine := h.waitLog("web.1", "State changed from starting to up")
	listenLine := h.waitApp("web.1", "listening")
	if upLine.Time.Before(listenLine.Time) {
		t.Fatalf("web.1 was up at %s, before it listened at %s", upLine.Time, listenLine.Time)
	}
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		t.Fatalf("web.1 is up but its port refuses: %v", err)
	} else {
		c.Close()
	}
}

func TestBootTimeoutR10(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("web", 1, freeTestPort(t), "sleep 1000")}, func(c *Config) {
		c.BootTimeout = 300 * time.Millisecond
		c.Backoff = Backoff{First: time.Hour, Max: time.Hour, StableAfter: time.Hour}
	})
	h.waitLog("web.1", "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 300ms of launch")
	h.waitLog("web.1", "Process exited with status 137")
	h.waitLog("web.1", "State changed from starting to crashed")
}

func TestRestartBackoffGrows(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, "echo run; exit 3")}, func(c *Config) {
		c.Backoff = Backoff{First: 200 * time.Millisecond, Max: 400 * time.Millisecond, StableAfter: time.Minute}
	})
	deadline := time.Now().Add(wait)
	for h.log.Count(logbus.SourceHeroku, "worker.1", "Starting process with command") < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 5 starts:\n%s", h.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var starts []time.Time
	for _, l := range h.log.Lines() {
		if l.Process == "worker.1" && strings.HasPrefix(l.Text, "Starting process") {
			starts = append(starts, l.Time)
		}
	}
	// Crash 1 restarts at once; then 200ms, 400ms, 400ms (capped): each
	// announced, and none sooner than announced. (How much later depends
	// on the machine's load, so no upper bound.)
	wantMin := []time.Duration{0, 200 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}
	for i, min := range wantMin {
		if gap := starts[i+1].Sub(starts[i]); gap < min {
			t.Errorf("restart %d after %s, want at least %s", i+1, gap, min)
		}
	}
	announced := restartLines(h, "worker.1")
	want := []string{"Restarting in 200ms (crash 2 in a row)", "Restarting in 400ms (crash 3 in a row)", "Restarting in 400ms (crash 4 in a row)"}
	if len(announced) < len(want) || strings.Join(announced[:len(want)], "|") != strings.Join(want, "|") {
		t.Errorf("announced restarts %q, want %q first", announced, want)
	}
	if n := h.log.Count(logbus.SourceHeroku, "worker.1", "Process exited with status 3"); n < 4 {
		t.Errorf("%d exit lines, want at least 4", n)
	}
	h.waitLog("worker.1", "State changed from crashed to starting")
	h.waitLog("worker.1", "Restarting in 200ms")
}

// restartLines lists the "Restarting in …" lines of a dyno, in order.
func restartLines(h *harness, dyno string) []string {
	var out []string
	for _, l := range h.log.Lines() {
		if l.Process == dyno && l.Source == logbus.SourceHeroku && strings.HasPrefix(l.Text, "Restarting in") {
			out = append(out, l.Text)
		}
	}
	return out
}

// crashScript runs as a dyno: it counts its runs in a file and exits 3,
// except that run number `steady` first runs the shell command stayUp, and runs
// after `last` stay up for good.
func crashScript(dir string, steady int, stayUp string, last int) string {
	n := filepath.Join(dir, "runs")
	return fmt.Sprintf(`n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s; echo run $n; `+
		`if [ $n -gt %[4]d ]; then exec sleep 1000; fi; if [ $n -eq %[2]d ]; then %[3]s; fi; exit 3`, n, steady, stayUp, last)
}

// A dyno that stayed up for StableAfter before crashing restarts at once
// again, as on Heroku: its cool-off starts over. The uptime is measured on
// a clock the test moves: only run 3 stays up (the clock moves a whole
// StableAfter while it waits for its go file); runs 1, 2 and 4 take no
// time on it, however slow the machine.
func TestBackoffResetsAfterStableUptime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var elapsed atomic.Int64
	start := time.Now()
	const stable = time.Minute
	steady := fmt.Sprintf("while [ ! -e %s ]; do sleep 0.05; done", filepath.Join(dir, "go3"))
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, crashScript(dir, 3, steady, 4))}, func(c *Config) {
		c.Backoff = Backoff{First: 300 * time.Millisecond, Max: time.Hour, StableAfter: stable}
		c.Now = func() time.Time { return start.Add(time.Duration(elapsed.Load())) }
	})
	h.waitApp("worker.1", "run 3")
	elapsed.Add(int64(stable))
	if err := os.WriteFile(filepath.Join(dir, "go3"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitApp("worker.1", "run 5")
	// Run 1 crashes: at once. Run 2: 300ms. Run 3 stayed up: at once
	// (without the reset: 600ms, crash 3). Run 4: 300ms again.
	want := []string{"Restarting in 300ms (crash 2 in a row)", "Restarting in 300ms (crash 2 in a row)"}
	if got := restartLines(h, "worker.1"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("announced restarts %q, want %q\n%s", got, want, h.dump())
	}
}

// ps:restart during a cool-off restarts at once and starts the cool-off
// over, as on Heroku.
func TestManualRestartResetsBackoff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, crashScript(dir, 0, ":", 100))}, func(c *Config) {
		c.Backoff = Backoff{First: time.Hour, Max: time.Hour, StableAfter: time.Hour}
	})
	// Run 1 crashes and restarts at once; run 2's crash waits an hour.
	h.waitLog("worker.1", "Restarting in 1h0m0s (crash 2 in a row)")
	if _, err := h.sup.Restart(Select{Dyno: "worker.1"}); err != nil {
		t.Fatal(err)
	}
	// Run 3 crashes: at once again (without the reset it would wait, as
	// crash 3); run 4's crash is the second of a new row.
	h.waitApp("worker.1", "run 4")
	deadline := time.Now().Add(wait)
	for len(restartLines(h, "worker.1")) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no second cool-off announced:\n%s", h.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := []string{"Restarting in 1h0m0s (crash 2 in a row)", "Restarting in 1h0m0s (crash 2 in a row)"}
	if got := restartLines(h, "worker.1"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("announced restarts %q, want %q\n%s", got, want, h.dump())
	}
}

func TestBackoffDelays(t *testing.T) {
	t.Parallel()
	b := DefaultBackoff
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for n, w := range want {
		if got := b.Delay(n); got != w {
			t.Errorf("Delay(%d) = %s, want %s", n, got, w)
		}
	}
}

func TestExitOnCrashReportsStatus(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{
		slot("worker", 1, 7000, "sleep 0.2; exit 42"),
		slot("other", 1, 7100, "sleep 1000"),
	}, func(c *Config) { c.ExitOnCrash = true })
	select {
	case c := <-h.sup.Crashes():
		if c.Dyno != "worker.1" || c.Status != 42 {
			t.Fatalf("crash %+v, want worker.1 status 42", c)
		}
	case <-time.After(wait):
		t.Fatal("no crash reported")
	}
	h.sup.Stop()
	if n := h.log.Count(logbus.SourceHeroku, "worker.1", "Starting process"); n != 1 {
		t.Errorf("worker.1 started %d times; --exit-on-crash must not restart", n)
	}
	h.waitLog("other.1", "Process exited with status 143")
}

func TestGracefulStop(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, `trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.05; done`)}, nil)
	h.waitApp("worker.1", "ready")
	h.sup.Stop()
	h.waitLog("worker.1", "Stopping all processes with SIGTERM")
	h.waitApp("worker.1", "got TERM")
	h.waitLog("worker.1", "Process exited with status 0")
	h.waitLog("worker.1", "State changed from up to down")
	if n := h.log.Count(logbus.SourceHeroku, "worker.1", "SIGKILL"); n != 0 {
		t.Errorf("a dyno that exits on SIGTERM got SIGKILL:\n%s", h.dump())
	}
}

func TestStopKillsProcessIgnoringSIGTERM(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, `trap '' TERM; echo $$ > pid; echo ready; while true; do sleep 0.05; done`)}, func(c *Config) {
		c.StopTimeout = 300 * time.Millisecond
	})
	h.waitApp("worker.1", "ready")
	pids := readPIDs(t, filepath.Join(h.dir, "pid"), 1)
	start := time.Now()
	h.sup.Stop()
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("stopped after %s, before the grace period", d)
	}
	h.waitLog("worker.1", "Error R12 (Exit timeout) -> At least one process failed to exit within 300ms of SIGTERM")
	h.waitLog("worker.1", "Stopping remaining processes with SIGKILL")
	h.waitLog("worker.1", "Process exited with status 137")
	waitGone(t, pids)
}

func TestKillCutsGraceShort(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, `trap '' TERM; echo ready; while true; do sleep 0.05; done`)}, func(c *Config) {
		c.StopTimeout = time.Hour
	})
	h.waitApp("worker.1", "ready")
	stopped := make(chan struct{})
	go func() { h.sup.Stop(); close(stopped) }()
	h.waitLog("worker.1", "Stopping all processes with SIGTERM")
	h.sup.Kill()
	select {
	case <-stopped:
	case <-time.After(wait):
		t.Fatal("Kill did not cut the grace period short")
	}
	h.waitLog("worker.1", "Process exited with status 137")
}

func TestStopLeavesNoGrandchildren(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, `sleep 1000 & echo $! >> pids; sleep 1000 & echo $! >> pids; echo ready; wait`)}, nil)
	h.waitApp("worker.1", "ready")
	pids := readPIDs(t, filepath.Join(h.dir, "pids"), 2)
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("background job %d not running before stop", pid)
		}
	}
	h.sup.Stop()
	waitGone(t, pids)
}

func TestCrashTakesLeftoversWithIt(t *testing.T) {
	t.Parallel()
	// The main process exits while a background job lives on: the job goes
	// with the dyno, as on Heroku, before the restart.
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, `if [ -e pids ]; then sleep 1000; fi; sleep 1000 & echo $! >> pids; exit 1`)}, nil)
	h.waitLog("worker.1", "Process exited with status 1")
	pids := readPIDs(t, filepath.Join(h.dir, "pids"), 1)
	waitGone(t, pids)
}

func TestSweepSessionFindsDaemons(t *testing.T) {
	t.Parallel()
	// A daemon that left the process group is still found by its session
	// mark (where no cgroup holds the dyno, which would stop it at once).
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, `setsid sh -c 'echo $$ > daemon; exec sleep 1000' & echo ready; sleep 1000`)}, func(c *Config) { c.NoCgroups = true })
	h.waitApp("worker.1", "ready")
	pids := readPIDs(t, filepath.Join(h.dir, "daemon"), 1)
	h.sup.Stop()
	if !alive(pids[0]) {
		t.Fatal("the daemon left the group, yet died with it: this test no longer tests the sweep")
	}
	if n := SweepSession(h.sup.cfg.Session, time.Second); n == 0 {
		t.Fatal("sweep found nothing")
	}
	waitGone(t, pids)
}

func testProcfile(t *testing.T, text string) *procfile.Procfile {
	t.Helper()
	pf, _, err := procfile.Parse("Procfile", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

func TestScaleUpAndDownAtRuntime(t *testing.T) {
	t.Parallel()
	pf := testProcfile(t, "web: exec sleep 1000\nworker: echo $DYNO on $PORT; exec sleep 1000\n")
	public := freeTestPort(t)
	h := startSupervisor(t, []Slot{slot("worker", 1, public+100, "echo $DYNO on $PORT; exec sleep 1000")}, func(c *Config) {
		c.Procfile, c.PublicPort = pf, public
	})
	h.waitLog("worker.1", "State changed from starting to up")
	if err := h.sup.Scale("worker", 3); err != nil {
		t.Fatal(err)
	}
	h.waitApp("worker.2", "worker.2 on")
	h.waitApp("worker.3", "worker.3 on")
	if got := h.sup.Formation(); got["worker"] != 3 || got["web"] != 0 {
		t.Fatalf("formation %v", got)
	}
	before := h.sup.Dynos()[0]
	if err := h.sup.Scale("worker", 1); err != nil {
		t.Fatal(err)
	}
	h.waitLog("worker.3", "State changed from up to down")
	h.waitLog("worker.2", "State changed from up to down")
	deadline := time.Now().Add(wait)
	for len(h.sup.Dynos()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("dynos after scale down: %+v", h.sup.Dynos())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if after := h.sup.Dynos()[0]; after.Name != "worker.1" || after.PID != before.PID {
		t.Fatalf("worker.1 was touched by scaling: %+v vs %+v", after, before)
	}
	if err := h.sup.Scale("nosuch", 1); err == nil || !strings.Contains(err.Error(), "web, worker") {
		t.Fatalf("unknown type: %v", err)
	}
}

func TestRestartAndStopDynos(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{
		slot("worker", 1, 7000, "echo pid $$; exec sleep 1000"),
		slot("clock", 1, 7100, "exec sleep 1000"),
	}, nil)
	h.waitLog("worker.1", "State changed from starting to up")
	h.waitLog("clock.1", "State changed from starting to up")
	pid := h.sup.Dynos()[0].PID
	names, err := h.sup.Restart(Select{Dyno: "worker.1"})
	if err != nil || len(names) != 1 {
		t.Fatalf("restart: %v %v", names, err)
	}
	h.waitLog("worker.1", "State changed from up to starting")
	deadline := time.Now().Add(wait)
	for {
		d := h.sup.Dynos()[0]
		if d.State == Up && d.PID != pid && d.PID != 0 {
			if d.Restarts != 0 {
				t.Errorf("restarts = %d after ps:restart, want 0: only crash restarts count", d.Restarts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker.1 not back up with a new pid: %+v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := h.sup.StopDynos(Select{Type: "clock"}); err != nil {
		t.Fatal(err)
	}
	h.waitLog("clock.1", "State changed from up to down")
	time.Sleep(100 * time.Millisecond) // a stopped dyno must stay down
	if d := h.sup.Dynos()[1]; d.State != Down {
		t.Fatalf("clock.1 is %s after ps:stop", d.State)
	}
	h.sup.Restart(Select{})
	deadline = time.Now().Add(wait)
	for h.sup.Dynos()[1].State != Up {
		if time.Now().After(deadline) {
			t.Fatalf("clock.1 did not start again: %+v", h.sup.Dynos()[1])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := h.sup.Restart(Select{Dyno: "web.9"}); err == nil {
		t.Fatal("restart of a missing dyno succeeded")
	}
}

func TestSetEnvAppliesOnRestart(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 7000, "echo value=$FOO; exec sleep 1000")}, func(c *Config) {
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "FOO=old"}
	})
	h.waitApp("worker.1", "value=old")
	h.sup.SetEnv([]string{"PATH=" + os.Getenv("PATH"), "FOO=new"})
	h.sup.Restart(Select{})
	h.waitApp("worker.1", "value=new")
}

// From Start until the web dyno is up, the router hears "starting" (hold
// the request), never "no web dynos" (H14): not even before the dyno's
// goroutine has begun its first start.
func TestWebIsStartingFromTheStart(t *testing.T) {
	t.Parallel()
	port := freeTestPort(t)
	pf := testProcfile(t, "web: python3 server.py\n") // the Procfile only names the type
	mem := logbustest.NewMemory(0)
	bus := logbus.New(mem)
	go bus.Run(context.Background())
	defer bus.Close()
	session := NewSession()
	sup := New(Config{AppDir: t.TempDir(), Env: os.Environ(), Slots: []Slot{slot("web", 1, port, listenCommand)},
		BootTimeout: wait, StopTimeout: time.Second, Bus: bus, Session: session, Procfile: pf, PublicPort: port - 1})
	defer func() { sup.Kill(); sup.Stop(); SweepSession(session, 0) }()
	if _, st := sup.Web(); st != WebStarting {
		t.Fatalf("before Start: %v, want starting", st)
	}
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(wait); ; {
		_, st := sup.Web()
		if st == WebReady {
			return
		}
		if st != WebStarting {
			t.Fatalf("web status %v while the web dyno boots, want starting: %+v", st, sup.Dynos())
		}
		if time.Now().After(deadline) {
			t.Fatal("web.1 never came up")
		}
		time.Sleep(time.Millisecond) // poll; a bare spin starves the dyno on 2 cores
	}
}
