package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dynobox/dynobox/internal/testutil"
)

// End-to-end tests of the verbs on a stopped app: they answer from the
// state database, as Heroku's CLI answers whatever the dynos do, and say
// that the app is stopped on stderr, so --json output stays JSON.

const stoppedNote = "the app is stopped (no dynobox is running for "

// stoppedVerb runs a verb with no dynobox running and checks that it
// succeeds and says the app is stopped.
func stoppedVerb(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, stderr, code := runDynobox(t, dir, args...)
	if code != 0 || !strings.Contains(stderr, stoppedNote+dir+")") {
		t.Fatalf("%v on a stopped app: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, stderr)
	}
	return out
}

func TestVerbsWorkOnAStoppedApp(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: echo \"worker FOO=$FOO\"; exec sleep 1000\nrelease: echo \"release phase FOO=$FOO\"\n",
		".env":     "FROM_FILE=1\n",
	})
	// Never started: nothing to show yet, and no state directory made for it.
	if out := stoppedVerb(t, dir, "releases", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("releases --json of a new app: %q", out)
	}
	if out := stoppedVerb(t, dir, "releases"); !strings.Contains(out, "No releases yet") {
		t.Fatalf("releases of a new app: %q", out)
	}
	stoppedVerb(t, dir, "logs")
	if _, err := os.Stat(filepath.Join(dir, ".dynobox")); err == nil {
		t.Fatal("reading a never-started app created .dynobox")
	}

	build := []string{"--build", "echo compiling the app"}
	p := startDynobox(t, dir, append([]string{"start", "-p", strconv.Itoa(freePort(t))}, build...)...)
	p.waitOutput("| worker FOO=\n")
	stopApp(t, p)

	// releases, builds and logs: what the run left.
	out := stoppedVerb(t, dir, "releases")
	for _, want := range []string{"=== " + filepath.Base(dir) + " Releases - Current: v2", "v2   Deploy b1", "v1   Initial release"} {
		if !strings.Contains(out, want) {
			t.Errorf("releases lacks %q:\n%s", want, out)
		}
	}
	if out := stoppedVerb(t, dir, "builds"); !strings.Contains(out, "b1    succeeded command") {
		t.Errorf("builds:\n%s", out)
	}
	if out := stoppedVerb(t, dir, "builds", "b1"); !strings.Contains(out, "compiling the app") {
		t.Errorf("builds b1:\n%s", out)
	}
	if out := stoppedVerb(t, dir, "ps"); !strings.Contains(out, "the app is stopped") {
		t.Errorf("ps:\n%s", out)
	}
	out = stoppedVerb(t, dir, "logs", "-n", "1500")
	for _, want := range []string{"app[build]: compiling the app", "app[worker.1]: worker FOO=", "heroku[worker.1]: State changed from up to down"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lacks %q:\n%s", want, out)
		}
	}
	if out := stoppedVerb(t, dir, "logs", "-p", "worker", "-s", "app"); strings.TrimSpace(out) == "" || strings.Contains(out, "build") {
		t.Errorf("logs -p worker -s app:\n%s", out)
	}

	// config:set is a release that the next start runs.
	if out := stoppedVerb(t, dir, "config:set", "FOO=bar"); !strings.Contains(out, "Setting FOO... done, v3") {
		t.Fatalf("config:set: %q", out)
	}
	stoppedVerb(t, dir, "config:set", "GONE=1")
	stoppedVerb(t, dir, "config:unset", "GONE")
	if out := stoppedVerb(t, dir, "config:get", "FOO"); out != "bar\n" {
		t.Fatalf("config:get FOO = %q", out)
	}
	out = stoppedVerb(t, dir, "config")
	if !strings.Contains(out, "FOO:       bar") || !strings.Contains(out, "FROM_FILE: 1") || strings.Contains(out, "GONE") {
		t.Fatalf("config:\n%s", out)
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(stoppedVerb(t, dir, "config", "--json")), &vars); err != nil || vars["FOO"] != "bar" {
		t.Fatalf("config --json: %v %v", vars, err)
	}
	if _, stderr, code := runDynobox(t, dir, "config:set", "PORT=1"); code != 2 || !strings.Contains(stderr, "PORT") {
		t.Fatalf("config:set PORT on a stopped app: exit %d %s", code, stderr)
	}
	if _, stderr, code := runDynobox(t, dir, "config:unset", "NEVER_SET"); code != 2 || !strings.Contains(stderr, "NEVER_SET is not a config var") {
		t.Fatalf("config:unset of an unset var: exit %d %s", code, stderr)
	}
	if out := stoppedVerb(t, dir, "releases"); !strings.Contains(out, "v5   Unset GONE config vars") || !strings.Contains(out, "v3   Set FOO config vars") {
		t.Fatalf("releases after config:set:\n%s", out)
	}
	if out := stoppedVerb(t, dir, "logs"); !strings.Contains(out, "app[api]: Set FOO config vars") {
		t.Fatalf("logs lack the config change:\n%s", out)
	}

	// info and addons.
	var info struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Release int    `json:"release"`
		Dynos   []any  `json:"dynos"`
	}
	if err := json.Unmarshal([]byte(stoppedVerb(t, dir, "info", "--json")), &info); err != nil ||
		info.State != "stopped" || info.Release != 5 || info.Name != filepath.Base(dir) || info.Dynos == nil {
		t.Fatalf("info --json: %+v %v", info, err)
	}
	if out := stoppedVerb(t, dir, "info"); !strings.Contains(out, "State   stopped") || !strings.Contains(out, "Release v5") {
		t.Fatalf("info:\n%s", out)
	}
	if out := stoppedVerb(t, dir, "addons"); !strings.Contains(out, "No add-ons") {
		t.Fatalf("addons:\n%s", out)
	}

	// logs --tail on the stopped app prints the saved lines, then waits
	// for a start and follows it.
	tail := exec.Command(dynoboxBin, "logs", "--tail", "-n", "1", "-p", "worker")
	tail.Dir = dir
	var tailOut, tailErr testutil.Buffer
	tail.Stdout, tail.Stderr = &tailOut, &tailErr
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tail.Process.Kill(); tail.Wait() }()
	waitFor(t, "logs --tail to wait", func() bool { return strings.Contains(tailErr.String(), "waiting for it to start") })
	// Standard output and error are two pipes: the saved line, written
	// first, may still be on its way.
	waitFor(t, "the saved line", func() bool { return strings.Contains(tailOut.String(), "\n") })
	if out := tailOut.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "heroku[worker.1]: State changed from up to down") {
		t.Errorf("logs --tail -n 1 on a stopped app printed:\n%s", out)
	}

	// The next start runs with the change: its release phase and its dynos.
	p = startDynobox(t, dir, append([]string{"start", "-p", strconv.Itoa(freePort(t))}, build...)...)
	p.waitOutput("| worker FOO=bar\n")
	if !p.hasOutput("| release phase FOO=bar\n") {
		t.Errorf("the release phase did not see FOO=bar:\n%s", p.out)
	}
	waitFor(t, "the waiting tail to follow the start", func() bool { return strings.Contains(tailOut.String(), "app[worker.1]: worker FOO=bar") })
	if n := strings.Count(tailOut.String(), "heroku[worker.1]: State changed from up to down"); n != 1 {
		t.Errorf("the tail printed the saved line %d times:\n%s", n, tailOut.String())
	}
	if _, stderr, _ := runDynobox(t, dir, "config:get", "FOO"); strings.Contains(stderr, "stopped") {
		t.Errorf("config:get with dynobox running says stopped: %s", stderr)
	}
	stopApp(t, p)
}

// A start that fails can be read back: its build output and the error
// are in the saved log, the failed build in builds.
func TestFailedStartCanBeReadBack(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"Procfile": "worker: exec sleep 1000\n"})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--build", "echo 'main.go:3: undefined: foo'; exit 1")
	if code := p.wait(); code != 1 {
		t.Fatalf("start with a failing build: exit %d", code)
	}
	out := stoppedVerb(t, dir, "logs")
	for _, want := range []string{"app[build]: main.go:3: undefined: foo", "Build failed", "heroku[dynobox]: build failed: build b1: ", "no dyno was started"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if out := stoppedVerb(t, dir, "builds"); !strings.Contains(out, "b1    failed") {
		t.Errorf("builds:\n%s", out)
	}
	if out := stoppedVerb(t, dir, "ps"); !strings.Contains(out, "=== Build b1 failed") {
		t.Errorf("ps after a failed start:\n%s", out)
	}
	if out := stoppedVerb(t, dir, "info"); !strings.Contains(out, "Build   b1 failed") {
		t.Errorf("info after a failed start:\n%s", out)
	}
}

// Restarts — by hand or after a crash — make no build and no release, as
// on Heroku; ps counts crash restarts only.
func TestRestartsMakeNoBuildNorRelease(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "crashed")
	p, _, verb := runningApp(t, map[string]string{
		"Procfile": "web: " + helperCommand(t) + "\nworker: if [ ! -e " + marker + " ]; then touch " + marker + "; exit 3; fi; exec sleep 1000\n",
	}, "--build", "echo compiling")
	waitFor(t, "worker.1 up after its crash", func() bool {
		for _, d := range ps(t, verb).Dynos {
			if d.Name == "worker.1" && d.State == "up" && d.Restarts == 1 {
				return true
			}
		}
		return false
	})
	waitFor(t, "web.1 up", func() bool { return upCount(ps(t, verb), "web") == 1 })
	count := func(args ...string) int {
		out, _, _ := verb(append(args, "--json")...)
		var list []any
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("%v --json: %v\n%s", args, err, out)
		}
		return len(list)
	}
	releases, builds := count("releases"), count("builds")
	if releases != 2 || builds != 1 {
		t.Fatalf("after the start: %d releases, %d builds; want 2 and 1", releases, builds)
	}
	webPID := ps(t, verb).Dynos[0].PID
	if _, stderr, code := verb("ps:restart"); code != 0 {
		t.Fatalf("ps:restart: %s", stderr)
	}
	waitFor(t, "web.1 replaced", func() bool {
		d := ps(t, verb).Dynos
		return upCount(ps(t, verb), "web") == 1 && len(d) == 2 && d[0].PID != webPID
	})
	for _, d := range ps(t, verb).Dynos {
		want := map[string]int{"web.1": 0, "worker.1": 1}[d.Name]
		if d.Restarts != want {
			t.Errorf("%s restarts=%d after ps:restart, want %d (crash restarts only)", d.Name, d.Restarts, want)
		}
	}
	if r, b := count("releases"), count("builds"); r != releases || b != builds {
		t.Errorf("restarts made releases or builds: %d releases, %d builds; want %d and %d", r, b, releases, builds)
	}
	stopApp(t, p)
}
