package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
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
	var one sync.Mutex // /slow: one request at a time, 100 ms each (the autoscaling test's dyno)
	http.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		one.Lock()
		time.Sleep(100 * time.Millisecond)
		one.Unlock()
		fmt.Fprintf(w, "slow from %s\n", os.Getenv("DYNO"))
	})
	fmt.Println("helper listening on", os.Getenv("PORT"))
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
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
