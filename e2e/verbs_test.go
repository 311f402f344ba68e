package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/testutil"
)

// End-to-end tests of the verbs that steer a running dynobox.

// runningApp starts dynobox on an app and returns it with a helper to run verbs.
func runningApp(t *testing.T, files map[string]string, startArgs ...string) (*proc, string, func(args ...string) (string, string, int)) {
	t.Helper()
	dir := writeApp(t, files)
	p := startDynobox(t, dir, append([]string{"start", "-p", strconv.Itoa(freePort(t))}, startArgs...)...)
	verb := func(args ...string) (string, string, int) { return runDynobox(t, dir, args...) }
	p.waitAPI(dir)
	return p, dir, verb
}

// running reports whether a dynobox answers for the app (info on a
// stopped app answers too, from the saved state).
func running(t *testing.T, dir string) bool {
	out, _, code := runDynobox(t, dir, "info", "--json")
	var info struct{ State string }
	return code == 0 && json.Unmarshal([]byte(out), &info) == nil && info.State == "running"
}

// waitAPI waits until the running dynobox answers its API, which it
// serves once its add-ons are up (initdb alone took 25 s with two suites
// and other work on 2 cores).
func (p *proc) waitAPI(dir string) {
	p.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if running(p.t, dir) {
			return
		}
		if time.Now().After(deadline) || p.cmd.ProcessState != nil {
			p.t.Fatalf("the API did not answer; dynobox output:\n%s\nstderr:\n%s", p.out, p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // only reached when the test fails
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type psJSON struct {
	Formation map[string]int `json:"formation"`
	Dynos     []struct {
		Name, Type, State string
		Port, PID         int
		Restarts          int
	} `json:"dynos"`
}

func ps(t *testing.T, verb func(...string) (string, string, int)) psJSON {
	t.Helper()
	out, stderr, code := verb("ps", "--json")
	if code != 0 {
		t.Fatalf("ps: exit %d %s", code, stderr)
	}
	var p psJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("ps --json: %v\n%s", err, out)
	}
	return p
}

func upCount(p psJSON, typ string) int {
	n := 0
	for _, d := range p.Dynos {
		if d.Type == typ && d.State == "up" {
			n++
		}
	}
	return n
}

func stopApp(t *testing.T, p *proc) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(); code != 0 {
		t.Fatalf("dynobox exit %d", code)
	}
}

func TestScaleAtRuntimeIsRemembered(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{"Procfile": "worker: exec sleep 1000\nclock: exec sleep 1000\n"})
	waitFor(t, "worker.1 up", func() bool { return upCount(ps(t, verb), "worker") == 1 })
	clockPID := ps(t, verb).Dynos[1].PID
	out, stderr, code := verb("ps:scale", "worker=3", "clock+0")
	if code != 0 || !strings.Contains(out, "worker=3") {
		t.Fatalf("ps:scale: exit %d %s %s", code, out, stderr)
	}
	waitFor(t, "3 workers up", func() bool { return upCount(ps(t, verb), "worker") == 3 })
	for _, d := range ps(t, verb).Dynos {
		if d.Name == "clock.1" && d.PID != clockPID {
			t.Fatal("scaling worker restarted clock.1")
		}
	}
	verb("ps:scale", "worker-1")
	waitFor(t, "2 workers", func() bool { p := ps(t, verb); return p.Formation["worker"] == 2 && len(p.Dynos) == 3 })
	if _, stderr, code := verb("ps:scale", "nosuch=1"); code != 2 || !strings.Contains(stderr, "worker, clock") {
		t.Fatalf("unknown type: exit %d %s", code, stderr)
	}
	if _, stderr, code := verb("ps:scale", "web==1"); code != 2 || !strings.Contains(stderr, "TYPE=N") {
		t.Fatalf("bad syntax: exit %d %s", code, stderr)
	}
	stopApp(t, p)

	// The formation survives a restart of dynobox.
	p2 := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	waitFor(t, "2 workers after restart", func() bool {
		return running(t, dir) && upCount(ps(t, verb), "worker") == 2
	})
	stopApp(t, p2)
}

func TestConfigSetRestartsDynosAndPersists(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{
		"Procfile": "worker: echo \"value=$FOO\"; exec sleep 1000\n",
		".env":     "FROM_FILE=1\n",
	})
	p.waitOutput("| value=\n")
	out, stderr, code := verb("config:set", "FOO=bar baz", "OTHER=1")
	if code != 0 || !strings.Contains(out, "Setting FOO, OTHER and restarting... done, v2") {
		t.Fatalf("config:set: exit %d %q %s", code, out, stderr)
	}
	p.waitOutput("| value=bar baz\n")
	if out, _, _ := verb("config:get", "FOO"); out != "bar baz\n" {
		t.Fatalf("config:get FOO = %q", out)
	}
	if out, _, _ := verb("run", "echo $FOO"); out != "bar baz\n" {
		t.Fatalf("a one-off dyno sees FOO=%q", out)
	}
	out, _, _ = verb("config")
	if !strings.Contains(out, "FOO:       bar baz") || !strings.Contains(out, "FROM_FILE: 1") {
		t.Fatalf("config:\n%s", out)
	}
	if out, _, _ := verb("config", "-s"); !strings.Contains(out, "FOO='bar baz'\n") {
		t.Fatalf("config -s:\n%s", out)
	}
	verb("config:unset", "OTHER")
	out, _, _ = verb("releases")
	for _, want := range []string{"Current: v3", "v3   Unset OTHER config vars", "v2   Set FOO, OTHER config vars", "v1   Initial release"} {
		if !strings.Contains(out, want) {
			t.Errorf("releases lacks %q:\n%s", want, out)
		}
	}
	if _, stderr, code := verb("config:unset", "NEVER_SET"); code != 2 || !strings.Contains(stderr, "NEVER_SET is not a config var") {
		t.Fatalf("unsetting an unset var: exit %d %s", code, stderr)
	}
	if _, stderr, code := verb("config:set", "PORT=1"); code != 2 || !strings.Contains(stderr, "PORT") {
		t.Fatalf("setting PORT: exit %d %s", code, stderr)
	}
	stopApp(t, p)

	p2 := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p2.waitOutput("| value=bar baz\n")
	out, _, _ = verb("releases:rollback", "v1")
	if !strings.Contains(out, "Rolling back to v1... done, v4") {
		t.Fatalf("rollback: %q", out)
	}
	p2.waitOutput("| value=\n")
	if out, _, _ := verb("config:get", "FOO"); out != "\n" {
		t.Fatalf("after rollback FOO = %q", out)
	}
	stopApp(t, p2)
}

func TestLogsFiltersAndTail(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{
		"Procfile": "web: " + helperCommand(t) + "\nworker: for i in 1 2 3 4 5; do echo worker line $i; done; exec sleep 1000\n",
	})
	p.waitOutput("worker line 5")
	p.waitOutput("heroku[web.1] | State changed from starting to up") // may come after the worker's lines
	out, _, _ := verb("logs", "-n", "2", "-p", "worker", "-s", "app")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "app[worker.1]: worker line 4") || !strings.HasSuffix(lines[1], "app[worker.1]: worker line 5") {
		t.Fatalf("logs -n 2 -p worker -s app:\n%s", out)
	}
	out, _, _ = verb("logs", "-d", "web.1", "-s", "heroku")
	if !strings.Contains(out, "heroku[web.1]: State changed from starting to up") || strings.Contains(out, "worker") {
		t.Fatalf("logs -d web.1 -s heroku:\n%s", out)
	}
	if out, _, _ := verb("logs"); strings.Count(out, "\n") > 100 || !strings.Contains(out, "app[worker.1]: worker line 1") {
		t.Fatalf("logs:\n%s", out)
	}

	// --tail shows new lines. It subscribes before it sends the history, so
	// once the last saved line shows, the tail is live.
	tail := exec.Command(dynoboxBin, "logs", "--tail", "-n", "1", "-p", "worker", "-s", "app")
	tail.Dir = dir
	var tailOut testutil.Buffer
	tail.Stdout = &tailOut
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tail.Process.Kill(); tail.Wait() }()
	line5 := func() int { return strings.Count(tailOut.String(), "app[worker.1]: worker line 5") }
	waitFor(t, "the tail to show the last saved line", func() bool { return line5() == 1 })
	verb("ps:restart", "worker")
	waitFor(t, "the tail to show the restart", func() bool { return line5() == 2 })
	if strings.Contains(tailOut.String(), "web.1") {
		t.Fatal("tail -p worker showed web lines")
	}
	stopApp(t, p)
}

func TestSlowTailDoesNotBlockFloodingDyno(t *testing.T) {
	t.Parallel()
	p, dir, _ := runningApp(t, map[string]string{
		"Procfile": "flood: sleep 1; seq 1 300000 | sed 's/^/flood /'; echo flood done; exec sleep 1000\n",
	})
	// Ten tails whose readers never read: their pipes fill and they stop
	// reading the API.
	for i := 0; i < 10; i++ {
		tail := exec.Command(dynoboxBin, "logs", "--tail", "-n", "0")
		tail.Dir = dir
		if _, err := tail.StdoutPipe(); err != nil {
			t.Fatal(err)
		}
		if err := tail.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { tail.Process.Kill(); tail.Wait() }()
	}
	p.waitOutputWithin("| flood done", time.Minute) // 300,000 lines: slow on a busy 2-core machine
	if n := strings.Count(p.out.String(), "| flood "); n != 300001 {
		t.Fatalf("terminal got %d flood lines, want 300001", n)
	}
	stopApp(t, p)
}

func TestVerbsWithoutRunningDynobox(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: exec sleep 1000\n"})
	// Verbs that need running dynos say so; those that work on a stopped
	// app are tested in stopped_test.go.
	for _, verb := range [][]string{{"ps:scale", "worker=2"}, {"ps:restart"}, {"deploy", "--json"}, {"releases:rollback", "v1"}} {
		start := time.Now()
		_, stderr, code := runDynobox(t, dir, verb...)
		want := fmt.Sprintf("no dynobox is running for %s — start it with \"dynobox start\"", dir)
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%v: exit %d %q", verb, code, stderr)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %s", verb, d)
		}
	}
	// After kill -9 the stale socket must not confuse the verbs or the next start.
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p.waitAPI(dir)
	p.cmd.Process.Kill()
	p.cmd.Wait()
	if _, stderr, code := runDynobox(t, dir, "ps:restart"); code != 1 || !strings.Contains(stderr, "no dynobox is running") {
		t.Fatalf("after kill -9: exit %d %q", code, stderr)
	}
	p2 := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p2.waitAPI(dir)
	stopApp(t, p2)
}

func TestInfoJSON(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{"Procfile": "web: " + helperCommand(t) + "\nworker: exec sleep 1000\n"})
	// info is asserted on both dynos (pid and port), so both must be up
	// first, not only web.
	waitFor(t, "web and worker up", func() bool { p := ps(t, verb); return upCount(p, "web") == 1 && upCount(p, "worker") == 1 })
	out, stderr, code := verb("info", "--json")
	var info struct {
		Name      string `json:"name"`
		Dir       string `json:"dir"`
		PID       int    `json:"pid"`
		Release   int    `json:"release"`
		Router    string `json:"router_url"`
		Socket    string `json:"api_socket"`
		Formation map[string]int
		Dynos     []struct {
			Name string `json:"name"`
			Port int    `json:"port"`
			PID  int    `json:"pid"`
		} `json:"dynos"`
		Addons []any `json:"addons"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil || code != 0 {
		t.Fatalf("info --json: exit %d %v\n%s%s", code, err, out, stderr)
	}
	if info.Dir != dir || info.PID != p.cmd.Process.Pid || info.Release != 1 || info.Name != filepath.Base(dir) ||
		!strings.HasPrefix(info.Router, "http://127.0.0.1:") || len(info.Dynos) != 2 || info.Dynos[0].PID == 0 || info.Dynos[0].Port == 0 || info.Addons == nil {
		t.Fatalf("info: %+v", info)
	}
	for _, verbArgs := range [][]string{{"config", "--json"}, {"releases", "--json"}, {"ps:restart", "--json"}} {
		out, _, _ := verb(verbArgs...)
		if !json.Valid([]byte(out)) {
			t.Errorf("%v --json: %q", verbArgs, out)
		}
	}
	stopApp(t, p)
}

// ps:stop stops a dyno until it is restarted: its process is gone, ps
// says down, other dynos run on, and ps:restart brings it back.
func TestPsStopUntilRestarted(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{
		"Procfile": "worker: echo $$ >> pids; echo worker up; exec sleep 1000\nclock: exec sleep 1000\n",
	})
	p.waitOutput("| worker up")
	pids := readPIDs(t, filepath.Join(dir, "pids"), 1)
	if _, stderr, code := verb("ps:stop"); code != 2 {
		t.Errorf("ps:stop without -p or -d: exit %d %s, want 2", code, stderr)
	}
	if _, stderr, code := verb("ps:stop", "-d", "worker.7"); code == 0 || !strings.Contains(stderr, "worker.7") {
		t.Errorf("ps:stop of no such dyno: exit %d %s", code, stderr)
	}
	if out, stderr, code := verb("ps:stop", "-d", "worker.1"); code != 0 || !strings.Contains(out, "worker.1") {
		t.Fatalf("ps:stop -d worker.1: exit %d %q %s", code, out, stderr)
	}
	waitGone(t, pids, 10*time.Second)
	waitFor(t, "worker.1 down", func() bool {
		for _, d := range ps(t, verb).Dynos {
			if d.Name == "worker.1" {
				return d.State == "down"
			}
		}
		return false
	})
	if upCount(ps(t, verb), "clock") != 1 {
		t.Errorf("ps:stop of worker.1 touched clock.1: %+v", ps(t, verb))
	}
	if _, stderr, code := verb("ps:restart", "worker.1"); code != 0 {
		t.Fatalf("ps:restart worker.1: exit %d %s", code, stderr)
	}
	waitFor(t, "worker.1 up again", func() bool { return upCount(ps(t, verb), "worker") == 1 })
	if again := readPIDs(t, filepath.Join(dir, "pids"), 2); again[1] == pids[0] {
		t.Errorf("worker.1 not started anew: pids %v", again)
	}
	stopApp(t, p)
}
