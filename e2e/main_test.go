package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
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
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var dynoboxBin string

func TestMain(m *testing.M) {
	// The test binary doubles as a tiny web app for the dynos it starts.
	if os.Getenv("DYNOBOX_TEST_HELPER") == "web" {
		serveHelper()
		return
	}
	flag.Parse()
	if testing.Short() {
		// The developer's fast loop (go test -short ./...) builds neither
		// the binary nor the demo app; the full suite runs these.
		fmt.Println("e2e: not run under -short (they build and run the dynobox binary)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "dynobox-e2e")
	if err != nil {
		panic(err)
	}
	dynoboxBin = filepath.Join(dir, "dynobox")
	build := exec.Command("go", "build", "-o", dynoboxBin, "..")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build dynobox:", err)
		os.Exit(1)
	}
	// Warm the build cache for the demo app's build (as dynobox builds it,
	// with -tags heroku), so its first boot is not a cold compile racing
	// the other tests for two cores.
	warm := exec.Command("go", "build", "-tags", "heroku", "-o", os.DevNull, "./...")
	warm.Dir = demoDir
	warm.Stdout, warm.Stderr = os.Stdout, os.Stderr
	if err := warm.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the demo app:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func serveHelper() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s greeting=%s\n", os.Getenv("DYNO"), os.Getenv("GREETING"))
	})
	http.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		json.NewEncoder(w).Encode(h)
	})
	http.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Hour)
	})
	fmt.Println("helper listening on", os.Getenv("PORT"))
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
}

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

// syncBuffer is an io.Writer safe to read while a process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type proc struct {
	t   *testing.T
	cmd *exec.Cmd
	out *syncBuffer
	err *syncBuffer
}

// startDynobox runs the binary in dir in the background.
func startDynobox(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startDynoboxEnv(t, dir, nil, args...)
}

// startDynoboxEnv is startDynobox with extra environment variables.
func startDynoboxEnv(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, out: &syncBuffer{}, err: &syncBuffer{}}
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
		ok := true
		for _, q := range []int{p, p + 1, p + 2, p + 100, p + 200, p + 1000} {
			if !portFree(q) {
				ok = false
			}
		}
		if ok {
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

func TestStartRunsFormationWithEnvAndStopsCleanly(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := writeApp(t, map[string]string{
		"Procfile": "web: " + helperCommand(t) + "\nworker: echo worker $DYNO $PORT $GREETING; exec sleep 1000\nrelease: echo never runs\n",
		".env":     "GREETING=hello-env\n",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port))
	p.waitOutput("heroku[web.1]    | State changed from starting to up")
	p.waitOutput(fmt.Sprintf("app[worker.1]    | worker worker.1 %d hello-env", port+100))
	if got := httpGet(t, port); got != "hello from web.1 greeting=hello-env\n" {
		t.Fatalf("web.1 answered %q", got)
	}
	if p.hasOutput("[release.1]") {
		t.Fatalf("release ran as a dyno:\n%s", p.out)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d after SIGINT, want 0\n%s", code, p.err)
	}
	for _, want := range []string{
		"heroku[web.1]    | Stopping all processes with SIGTERM",
		"heroku[worker.1] | Process exited with status 143",
		"heroku[worker.1] | State changed from up to down",
	} {
		if !p.hasOutput(want) {
			t.Errorf("missing %q in:\n%s", want, p.out)
		}
	}
}

func TestFormationArgumentsAndPorts(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := writeApp(t, map[string]string{
		"Procfile": "web: " + helperCommand(t) + "\nworker: exec sleep 1000\nclock: exec sleep 1000\n",
	})
	stdout, stderr, code := runDynobox(t, dir, "check", "-p", strconv.Itoa(port), "web=2,worker=1")
	if code != 0 {
		t.Fatalf("check exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("router    :%d  → the web dynos", port),
		fmt.Sprintf("web.1     :%d", port+1),
		fmt.Sprintf("web.2     :%d", port+2),
		fmt.Sprintf("worker.1  :%d", port+100),
		"not started: clock",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, stdout)
		}
	}
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "web=2", "worker")
	p.waitOutput("heroku[web.2]    | State changed from starting to up")
	if got := httpGet(t, port+2); !strings.HasPrefix(got, "hello from web.2") {
		t.Fatalf("web.2 answered %q", got)
	}
	p.waitOutput("heroku[worker.1] | State changed from starting to up")
	if strings.Contains(p.out.String(), "clock.1") {
		t.Fatal("clock started though not in the formation")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d", code)
	}

	_, stderr, code = runDynobox(t, dir, "start", "nosuch=1")
	if code != 2 || !strings.Contains(stderr, `unknown process type "nosuch"`) || !strings.Contains(stderr, "web, worker, clock") {
		t.Fatalf("unknown type: exit %d, %q", code, stderr)
	}
}

func TestExitOnCrashExitsWithDynoStatus(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: sleep 0.2; exit 7\nother: exec sleep 1000\n"})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--exit-on-crash")
	if code := p.wait(); code != 7 {
		t.Fatalf("exit %d, want 7\n%s", code, p.out)
	}
	if !p.hasOutput("heroku[other.1] | Process exited with status 143") {
		t.Fatalf("other.1 not stopped:\n%s", p.out)
	}
}

func TestKill9OfDynoboxLeavesNoProcess(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: sleep 1000 & echo $! >> pids; sleep 1000 & echo $! >> pids; setsid sh -c 'echo $$ >> pids; exec sleep 1000' & echo ready; wait\n",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p.waitOutput("| ready")
	pids := readPIDs(t, filepath.Join(dir, "pids"), 3)
	p.cmd.Process.Kill()
	p.cmd.Wait()
	waitGone(t, pids, 5*time.Second)
}

func TestNextStartCleansUpWhenWatchdogDiedToo(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: setsid sh -c 'echo $$ >> pids; exec sleep 1000' & echo ready; wait\n",
	})
	port := strconv.Itoa(freePort(t))
	p := startDynobox(t, dir, "start", "-p", port)
	p.waitOutput("| ready")
	pids := readPIDs(t, filepath.Join(dir, "pids"), 1)
	// Kill dynobox and its own watchdog at once, as "pkill -9 dynobox"
	// would. Only this test's watchdog: other tests run theirs in parallel.
	watchdog := childWithArg(t, p.cmd.Process.Pid, "__watchdog")
	p.cmd.Process.Kill()
	if err := syscall.Kill(watchdog, syscall.SIGKILL); err != nil {
		t.Fatalf("kill watchdog %d: %v", watchdog, err)
	}
	p.cmd.Wait()
	waitGone(t, []int{watchdog}, 5*time.Second)
	// With dynobox and its watchdog gone, nothing has swept the daemon yet:
	// that is the next start's job.
	if !alive(pids[0]) {
		t.Fatalf("daemon %d gone before the next start; the test cannot tell who stopped it", pids[0])
	}
	next := startDynobox(t, dir, "start", "-p", port)
	next.waitOutput("| ready")
	waitGone(t, pids, 5*time.Second)
	next.cmd.Process.Signal(syscall.SIGINT)
	if code := next.wait(); code != 0 {
		t.Fatalf("second start exit %d", code)
	}
}

func TestSecondStartOnSameAppFails(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: exec sleep 1000\n"})
	port := strconv.Itoa(freePort(t))
	p := startDynobox(t, dir, "start", "-p", port)
	p.waitOutput("State changed from starting to up")
	_, stderr, code := runDynobox(t, dir, "start", "-p", port)
	want := fmt.Sprintf("already running for %s (pid %d)", dir, p.cmd.Process.Pid)
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("second start: exit %d, stderr %q, want %q", code, stderr, want)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	p.wait()
}

func TestRunPassesEnvAndExitStatus(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile":   "web: exec sleep 1000\ngreet: echo \"$GREETING from greet\"\n",
		".env":       "GREETING='hello run'\n",
		"bin/mytool": "#!/bin/sh\necho mytool on path\n",
	})
	os.Chmod(filepath.Join(dir, "bin/mytool"), 0o755)
	stdout, stderr, code := runDynobox(t, dir, "run", `echo "$GREETING|$DYNO|$PS|$PORT"; mytool; exit 5`)
	if code != 5 {
		t.Fatalf("exit %d, want 5 (stderr %q)", code, stderr)
	}
	if !regexp.MustCompile(`^hello run\|run\.\d{4}\|run\.\d{4}\|\d+\nmytool on path\n$`).MatchString(stdout) {
		t.Fatalf("output %q", stdout)
	}
	if out, _, code := runDynobox(t, dir, "run", "greet"); code != 0 || out != "hello run from greet\n" {
		t.Fatalf("run of a process type: exit %d %q", code, out)
	}
	stdout, _, code = runDynobox(t, dir, "run", "--", "sh", "-c", `echo "$1"; exit 3`, "x", "it's quoted")
	if code != 3 || stdout != "it's quoted\n" {
		t.Fatalf("run -- sh -c: exit %d, %q", code, stdout)
	}
}

func TestCheckReportsEveryProblemWithFileAndLine(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "# comment\nweb: ok\nthis is not an entry\nworker:\n",
		".env":     "A=1\nB=\"unterminated\n",
		"app.json": "{\n  \"env\": {\n    \"X\": 1,,\n  }\n}\n",
	})
	_, stderr, code := runDynobox(t, dir, "check")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"Procfile:3:", "Procfile:4:", ".env:2:", "app.json:3:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// start refuses the same app with the same errors, and starts nothing.
	_, stderr2, code := runDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	if code != 2 || !strings.Contains(stderr2, "Procfile:3:") {
		t.Fatalf("start: exit %d\n%s", code, stderr2)
	}
}

func TestCheckStrictTurnsWarningsIntoErrors(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "Web_Server: sleep 1\nweb: a\nweb: b\n"})
	_, stderr, code := runDynobox(t, dir, "check")
	if code != 0 || !strings.Contains(stderr, "warning: Procfile:1:") || !strings.Contains(stderr, "warning: Procfile:3:") {
		t.Fatalf("check: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runDynobox(t, dir, "check", "--strict")
	if code != 2 {
		t.Fatalf("check --strict: exit %d\n%s", code, stderr)
	}
}

func TestMissingProcfile(t *testing.T) {
	t.Parallel()
	node := writeApp(t, map[string]string{"package.json": "{}\n"})
	stdout, stderr, code := runDynobox(t, node, "check")
	if code != 0 || !regexp.MustCompile(`web\.1 +:\d+ +npm start`).MatchString(stdout) {
		t.Fatalf("node app without Procfile: exit %d\n%s%s", code, stdout, stderr)
	}
	empty := writeApp(t, nil)
	_, stderr, code = runDynobox(t, empty, "check")
	if code != 2 || !strings.Contains(stderr, "no Procfile found") {
		t.Fatalf("no Procfile: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runDynobox(t, empty, "check", "-f", "Other")
	if code != 2 || !strings.Contains(stderr, "Other") {
		t.Fatalf("-f missing: exit %d\n%s", code, stderr)
	}
}

func TestLogplexFormat(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: echo hello logplex; exec sleep 1000\n"})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--log-format", "logplex")
	p.waitOutput("]: hello logplex")
	p.cmd.Process.Signal(syscall.SIGINT)
	p.wait()
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d app\[worker\.1\]: hello logplex$`)
	if !line.MatchString(p.out.String()) {
		t.Fatalf("no Logplex line in:\n%s", p.out)
	}
	if !regexp.MustCompile(`(?m) heroku\[worker\.1\]: State changed from starting to up$`).MatchString(p.out.String()) {
		t.Fatalf("no Logplex platform line in:\n%s", p.out)
	}
}

func TestHelpAndUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stdout, _, code := runDynobox(t, dir, "--help")
	if code != 0 || !strings.Contains(stdout, "start") || !strings.Contains(stdout, "run") || !strings.Contains(stdout, "check") {
		t.Fatalf("--help: exit %d\n%s", code, stdout)
	}
	stdout, _, code = runDynobox(t, dir, "help", "start")
	for _, flag := range []string{"-p, --port", "-f, --procfile", "-e, --env", "-t, --timeout", "--boot-timeout", "--exit-on-crash", "--log-format", "--state-dir"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("help start lacks %s:\n%s", flag, stdout)
		}
	}
	if _, _, code = runDynobox(t, dir, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if _, stderr, code := runDynobox(t, dir, "start", "--port", "x"); code != 2 || !strings.Contains(stderr, "port") {
		t.Errorf("bad flag: exit %d %q", code, stderr)
	}
}

// A dyno that ignores SIGTERM holds a stop for the whole grace period; a
// second Ctrl-C kills it at once.
func TestSecondInterruptKillsAtOnce(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: trap 'echo got TERM' TERM; echo $$ > pid; echo ready; while :; do sleep 0.1; done\n",
	})
	// A grace of five minutes: p.wait gives up after 30 s.
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "-t", "300")
	p.waitOutput("| ready")
	pids := readPIDs(t, filepath.Join(dir, "pid"), 1)
	p.cmd.Process.Signal(syscall.SIGINT)
	p.waitOutput("| got TERM")
	if p.exited() || !alive(pids[0]) {
		t.Fatalf("the stop did not wait for the dyno that ignores SIGTERM:\n%s", p.out)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	p.wait()
	waitGone(t, pids, 5*time.Second)
	if !p.hasOutput("Process exited with status 137") {
		t.Fatalf("the dyno was not killed:\n%s\n%s", p.out, p.err)
	}
}
