package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Builds on save, deploys, the release phase of a deploy, and rollbacks.

// goAppSource is a small Go web app that says which version it is and
// finishes its requests on SIGTERM, as a Heroku app should.
func goAppSource(version string) string {
	return `package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

const version = "` + version + `"

func main() {
	srv := &http.Server{Addr: "127.0.0.1:" + os.Getenv("PORT"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", version, os.Getenv("MSG"))
	})}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		<-sig
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		panic(err)
	}
}
`
}

// goApp is an app directory holding the Go app at version.
func goApp(t *testing.T, version string) string {
	return writeApp(t, map[string]string{
		"go.mod":   "module example.com/hello\n\ngo 1.22\n",
		"main.go":  goAppSource(version),
		"Procfile": "web: bin/hello\n",
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startGoApp starts dynobox on the Go app at v1 (watching it, or not) and
// waits until the app serves.
func startGoApp(t *testing.T, watch bool) (p *proc, dir, url string) {
	t.Helper()
	dir = goApp(t, "v1")
	port := freePort(t)
	url = fmt.Sprintf("http://127.0.0.1:%d/", port)
	p = startDynobox(t, dir, "start", "-p", strconv.Itoa(port), fmt.Sprintf("--no-watch=%v", !watch), "--boot-timeout", "120")
	waitBody(t, p, url, "v1 ", 2*time.Minute)
	if watch {
		p.waitOutput("Watching " + dir)
	}
	return p, dir, url
}

// get returns the body of GET url ("" on any error).
func get(url string) string {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitBody waits until url answers want, within d.
func waitBody(t *testing.T, p *proc, url, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	got := ""
	for got = get(url); got != want; got = get(url) {
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("%s answers %q, want %q\n%s\n%s", url, got, want, p.out, p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSaveDeploysGoAppWithoutDroppingRequests(t *testing.T) {
	t.Parallel()
	p, dir, url := startGoApp(t, true)

	stop := make(chan struct{})
	ok, failed, wait := loadLoop(url, stop)
	waitFor(t, "the load to begin", func() bool { return ok.Load() > 0 })
	writeFile(t, filepath.Join(dir, "main.go"), goAppSource("v2"))
	waitBody(t, p, url, "v2 ", time.Minute)
	p.waitOutput("heroku[web.1] | Process exited") // the old web dyno is gone
	// Some requests more, to the new dyno alone.
	after := ok.Load()
	waitFor(t, "requests after the swap", func() bool { return ok.Load() >= after+20 })
	close(stop)
	wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Fatalf("%d requests failed, %d succeeded during the deploy\n%s", failed.Load(), ok.Load(), p.out)
	}
	t.Logf("%d requests during the deploy, none failed", ok.Load())
	out, _, _ := runDynobox(t, dir, "releases")
	if !strings.Contains(out, "Deploy b2") {
		t.Errorf("releases has no deploy of b2:\n%s", out)
	}
	stopApp(t, p)
}

func TestBuildErrorKeepsTheOldVersionServing(t *testing.T) {
	t.Parallel()
	p, dir, url := startGoApp(t, true)

	writeFile(t, filepath.Join(dir, "main.go"), goAppSource("v2")+"\nfunc broken( {\n")
	waitFor(t, "the build to fail", func() bool { return p.hasOutput("Build b2 failed") && p.hasOutput("the dynos keep running") })
	if got := get(url); got != "v1 " {
		t.Fatalf("after a failed build the app answers %q, want the old v1", got)
	}
	logs, _, _ := runDynobox(t, dir, "logs", "-n", "300")
	if !strings.Contains(logs, "app[build]: ") || !strings.Contains(logs, "main.go:") {
		t.Fatalf("the compiler's error is not in logs:\n%s", logs)
	}
	if strings.Count(collapseSpaces(p.out.String()), "heroku[web.1] | Starting process") != 1 {
		t.Fatalf("a dyno restarted after a failed build:\n%s", p.out)
	}

	writeFile(t, filepath.Join(dir, "main.go"), goAppSource("v3"))
	waitBody(t, p, url, "v3 ", time.Minute)
	builds, _, _ := runDynobox(t, dir, "builds")
	for _, want := range []string{"b1    succeeded", "b2    failed", "b3    succeeded"} {
		if !strings.Contains(builds, want) {
			t.Errorf("builds lacks %q:\n%s", want, builds)
		}
	}
	stopApp(t, p)
}

func TestRollbackReturnsToTheBuildAndConfig(t *testing.T) {
	t.Parallel()
	p, dir, url := startGoApp(t, false)
	var rels []struct {
		Version int    `json:"version"`
		BuildID string `json:"build_id"`
	}
	out, _, _ := runDynobox(t, dir, "releases", "--json")
	if err := json.Unmarshal([]byte(out), &rels); err != nil || len(rels) == 0 || rels[0].BuildID != "b1" {
		t.Fatalf("releases --json: %v %s", err, out)
	}
	first := rels[0].Version

	writeFile(t, filepath.Join(dir, "main.go"), goAppSource("v2"))
	if out, stderr, code := runDynobox(t, dir, "deploy"); code != 0 || !strings.Contains(out, "Deployed build b2") || !strings.Contains(out, "app[build]: -----> Build b2: Go") {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, stderr)
	}
	waitBody(t, p, url, "v2 ", time.Minute)
	if _, stderr, code := runDynobox(t, dir, "config:set", "MSG=hi"); code != 0 {
		t.Fatal(stderr)
	}
	waitBody(t, p, url, "v2 hi", time.Minute)

	if _, stderr, code := runDynobox(t, dir, "releases:rollback", fmt.Sprintf("v%d", first)); code != 0 {
		t.Fatalf("rollback: %s", stderr)
	}
	waitBody(t, p, url, "v1 ", time.Minute)
	out, _, _ = runDynobox(t, dir, "releases")
	if !strings.Contains(out, fmt.Sprintf("Rollback to v%d", first)) || !strings.Contains(out, "b1") {
		t.Fatalf("releases after the rollback:\n%s", out)
	}
	stopApp(t, p)
}

func TestDeployRunsTheReleasePhaseBeforeTheNewDynos(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile":   "release: sh release.sh\nworker: echo \"worker sees $(wc -l < releases.txt) releases\"; exec sleep 1000\n",
		"release.sh": "if [ -e fail ]; then echo migration failed; exit 3; fi\necho ran >> releases.txt\n",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--build", "echo compiling")
	p.waitOutput("| worker sees 1 releases\n")
	p.waitAPI(dir)

	writeFile(t, filepath.Join(dir, "fail"), "")
	out, stderr, code := runDynobox(t, dir, "deploy")
	if code != 1 || !strings.Contains(stderr, "release failed") || !strings.Contains(out, "migration failed") {
		t.Fatalf("deploy with a failing release command: exit %d\n%s\n%s", code, out, stderr)
	}
	if strings.Count(p.out.String(), "| worker sees") != 1 {
		t.Fatalf("the worker restarted on a failed release:\n%s", p.out)
	}
	rels, _, _ := runDynobox(t, dir, "releases")
	if !strings.Contains(rels, "(release command failed)") {
		t.Fatalf("releases does not show the failed release:\n%s", rels)
	}

	os.Remove(filepath.Join(dir, "fail"))
	if out, stderr, code := runDynobox(t, dir, "deploy"); code != 0 {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, stderr)
	}
	// The release command ran once more, and before the worker restarted.
	p.waitOutput("| worker sees 2 releases\n")
	if got, _ := os.ReadFile(filepath.Join(dir, "releases.txt")); string(got) != "ran\nran\n" {
		t.Fatalf("the release command ran %q", got)
	}
	stopApp(t, p)
}

func TestWatchDebouncesFollowsNewDirsAndSkipsIgnoredPaths(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile":   "worker: exec sleep 1000\n",
		".gitignore": "secret/\n",
		"a.txt":      "0",
		"s1.txt":     "0",
		"s2.txt":     "0",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--no-watch=false", "--build", "echo compiling")
	p.waitOutput("Watching " + dir)
	builds := func() int { return strings.Count(p.out.String(), ": command echo compiling") }
	if n := builds(); n != 1 {
		t.Fatalf("%d builds at start, want 1:\n%s", n, p.out)
	}
	// sentinel saves one of the app's own files and waits for the deploy
	// that names it: the watcher handles changes in order, so whatever
	// came before has made its deploys by then, or joined this one.
	sentinel := func(name string) {
		t.Helper()
		writeFile(t, filepath.Join(dir, name), "saved")
		waitFor(t, "the deploy of "+name, func() bool {
			out := p.out.String()
			i := strings.Index(out, "Changed: "+name)
			return i >= 0 && strings.Contains(out[i:], ": command echo compiling")
		})
	}

	// A file written into a directory made after the start deploys.
	os.MkdirAll(filepath.Join(dir, "lib", "deep"), 0o755)
	writeFile(t, filepath.Join(dir, "lib", "deep", "x.txt"), "x")
	waitFor(t, "a build for a file in a new directory", func() bool { return builds() == 2 })

	// 50 quick writes: one build. They are made while dynobox is stopped,
	// so they are one burst whatever the load (this test stalled past the
	// debounce would rightly make two); dynobox reads them all as it goes on.
	before := builds()
	p.whileStopped(func() {
		for i := 1; i <= 50; i++ {
			writeFile(t, filepath.Join(dir, "a.txt"), strconv.Itoa(i))
		}
	})
	waitFor(t, "a build after 50 writes", func() bool { return builds() == before+1 })
	sentinel("s1.txt")
	if n := builds(); n != before+2 {
		t.Fatalf("50 quick writes made %d builds, want 1:\n%s", n-before-1, p.out)
	}

	// Ignored paths trigger nothing, alone or with a save.
	before = builds()
	for _, f := range []string{"node_modules/m/index.js", "tmp/cache", "bin/tool", ".git/index", "secret/key", "app.log", "db.sqlite3", "a.txt.swp"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		writeFile(t, filepath.Join(dir, f), "x")
	}
	sentinel("s2.txt")
	if n := builds(); n != before+1 || !strings.Contains(p.out.String(), "Changed: s2.txt\n") {
		t.Fatalf("writes to ignored paths made %d builds or joined the save's:\n%s", n-before-1, p.out)
	}
	stopApp(t, p)
}
func TestEnvAndProcfileChangesReload(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: echo \"worker FOO=$FOO\"; exec sleep 1000\n",
		".env":     "FOO=1\n",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--no-watch=false")
	p.waitOutput("| worker FOO=1\n")
	p.waitOutput("Watching " + dir)

	writeFile(t, filepath.Join(dir, ".env"), "FOO=2\n")
	p.waitOutput("| worker FOO=2\n")

	writeFile(t, filepath.Join(dir, "Procfile"), "worker: echo \"worker FOO=$FOO\"; exec sleep 1000\nclock: echo clock up; exec sleep 1000\n")
	p.waitOutput("| clock up\n")
	writeFile(t, filepath.Join(dir, "Procfile"), "worker: echo \"new worker FOO=$FOO\"; exec sleep 1000\n")
	p.waitOutput("| new worker FOO=2\n")
	p.waitOutput("heroku[clock.1] | State changed from up to down")

	// A broken Procfile is reported with its line; the dynos keep running.
	writeFile(t, filepath.Join(dir, "Procfile"), "worker: echo \"new worker FOO=$FOO\"; exec sleep 1000\nthis is not a process\n")
	p.waitOutput("Not reloaded")
	p.waitOutput("Procfile:2")
	ps, _, _ := runDynobox(t, dir, "ps")
	if !strings.Contains(ps, "worker.1: up") || strings.Contains(ps, "clock") {
		t.Fatalf("ps after the reloads:\n%s", ps)
	}
	stopApp(t, p)
}

// A Python app is built into a virtualenv that its dynos, its release
// command and its one-off dynos run with, as on Heroku.
func TestPythonAppRunsInItsVirtualenv(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"requirements.txt": "# no dependencies: the build still makes the virtualenv\n",
		"Procfile":         "release: python -c 'import sys; print(\"release in\", sys.prefix)'\nworker: python -c 'import sys; print(\"worker in\", sys.prefix)'; exec sleep 1000\n",
	})
	state := filepath.Join(dir, ".dynobox")
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p.waitOutputWithin("release in "+filepath.Join(state, "venv"), 5*time.Minute) // a virtualenv build: slow on a loaded 2-core machine
	p.waitOutput("worker in " + filepath.Join(state, "venv"))
	p.waitAPI(dir)
	out, stderr, code := runDynobox(t, dir, "run", "echo $VIRTUAL_ENV")
	if code != 0 || out != filepath.Join(state, "venv")+"\n" {
		t.Fatalf("run: exit %d %q %s", code, out, stderr)
	}
	stopApp(t, p)
}

// Ctrl-C during the first build stops the build and dynobox, and leaves
// nothing running.
func TestInterruptDuringTheFirstBuild(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: echo started; exec sleep 1000\n"})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--build", "echo $$ > build.pid; exec sleep 1000")
	p.waitOutput("Running: sh -c")
	pids := readPIDs(t, filepath.Join(dir, "build.pid"), 1)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(); code != 1 || !strings.Contains(p.err.String(), "received SIGINT before the dynos started") || p.hasOutput("| started") {
		t.Fatalf("exit %d\n%s\n%s", code, p.out, p.err)
	}
	waitGone(t, pids, 5*time.Second)
}

// start -C with a relative path: the state directory inside the app is not
// watched, so what a build and the add-ons write there deploys nothing.
func TestRelativeAppDirDoesNotWatchTheStateDir(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "app")
	os.MkdirAll(dir, 0o755)
	// The worker writes into the state directory as an add-on would.
	writeFile(t, filepath.Join(dir, "Procfile"), "worker: while true; do date +%s%N > .dynobox/tick; sleep 0.1; done\n")
	writeFile(t, filepath.Join(dir, "a.txt"), "0")
	p := startDynobox(t, parent, "start", "-C", "app", "-p", strconv.Itoa(freePort(t)), "--no-watch=false", "--build", "echo compiling")
	p.waitOutput("Watching " + dir + " (1 directory)")
	waitFor(t, "the worker's ticks", func() bool { _, err := os.Stat(filepath.Join(dir, ".dynobox", "tick")); return err == nil })
	// A save, handled after whatever the ticks would have set off.
	writeFile(t, filepath.Join(dir, "a.txt"), "saved")
	p.waitOutput("Changed: a.txt")
	p.waitOutput("Build b2 succeeded")
	if n := strings.Count(p.out.String(), "-----> Build b"); n != 4 || strings.Count(p.out.String(), "Changed: ") != 1 { // b1 and b2, each "Build bN: …" and "Build bN succeeded"
		t.Fatalf("builds kept coming:\n%s", p.out)
	}
	stopApp(t, p)
}

// A failed build at start runs the current release when there is one, and
// the next save deploys; with none, nothing starts.
func TestFailedBuildAtStartRunsTheCurrentRelease(t *testing.T) {
	t.Parallel()
	p, dir, url := startGoApp(t, false)
	stopApp(t, p)

	writeFile(t, filepath.Join(dir, "main.go"), goAppSource("v2")+"\nfunc broken( {\n")
	port := url[len("http://127.0.0.1:") : len(url)-1]
	p = startDynobox(t, dir, "start", "-p", port, "--no-watch=false", "--boot-timeout", "120")
	p.waitOutput("Build failed: build b2")
	p.waitOutput("Starting the current release")
	waitBody(t, p, url, "v1 ", time.Minute)
	if strings.Contains(p.out.String(), "keep running the previous release") {
		t.Errorf("a failed build at start claims dynos were running:\n%s", p.out)
	}
	p.waitOutput("Watching " + dir)
	writeFile(t, filepath.Join(dir, "main.go"), goAppSource("v3"))
	waitBody(t, p, url, "v3 ", time.Minute)
	stopApp(t, p)

	// A new app whose first build fails has nothing to run.
	bad := goApp(t, "v1")
	writeFile(t, filepath.Join(bad, "main.go"), "package main\nfunc main( {\n")
	p = startDynobox(t, bad, "start", "-p", strconv.Itoa(freePort(t)))
	if code := p.wait(); code != 1 || !strings.Contains(p.err.String(), "build failed") || !strings.Contains(p.err.String(), "no dyno was started") {
		t.Fatalf("a first build that fails: exit %d\n%s\n%s", code, p.out, p.err)
	}
}
