package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/testutil"
	"github.com/dynobox/dynobox/web/platform"
)

// End-to-end tests of the Platform API with the real heroku CLI (npm
// heroku, pinned in testdata/herokucli; .ci/run installs it): each command
// runs unchanged against a running dynobox, and its effect is checked
// through dynobox's own verbs.

// herokuCLI returns the pinned heroku CLI, failing in CI (and skipping
// elsewhere) when it is not installed.
func herokuCLI(t *testing.T) string {
	t.Helper()
	bin, _ := filepath.Abs(filepath.Join("testdata", "herokucli", "node_modules", ".bin", "heroku"))
	_, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		msg := "the heroku CLI is not installed (cd e2e/testdata/herokucli && npm ci): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run this test: " + msg)
		}
		t.Skip(msg)
	}
	return bin
}

// herokuEnv is the environment the CLI runs in: no update checks, no
// telemetry, no colour, a home of its own (no ~/.netrc of the machine's).
func herokuEnv(t *testing.T, host, key string) []string {
	return append(os.Environ(), "HEROKU_HOST="+host, "HEROKU_API_KEY="+key, "HEROKU_DISABLE_AUTOUPDATE=1",
		"DISABLE_TELEMETRY=true", "NO_COLOR=1", "FORCE_COLOR=0", "HOME="+t.TempDir(), "HEROKU_APP=")
}

// portOf is the port of a URL with an explicit port.
func portOf(t *testing.T, u *url.URL) int {
	t.Helper()
	n, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("no port in %s", u)
	}
	return n
}

func TestRealHerokuCLIDrivesDynobox(t *testing.T) {
	t.Parallel()
	cli := herokuCLI(t)
	p, dir, verb := runningApp(t, map[string]string{
		"app.json": `{"name": "clidemo", "addons": ["heroku-redis:mini"]}`,
		// The worker prints what the test writes to marker, every 200 ms.
		"Procfile": "web: " + helperCommand(t) + "\nworker: while true; do cat marker 2>/dev/null; sleep 0.2; done\n",
	})
	p.waitOutput("State changed from starting to up")

	// info gives the two variables, as JSON and as export lines.
	out, _, code := verb("info", "--json")
	var info struct {
		Router      string                         `json:"router_url"`
		PlatformAPI struct{ URL, Key, App string } `json:"platform_api"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.PlatformAPI.URL == "" || info.PlatformAPI.Key == "" || info.PlatformAPI.App != "clidemo" {
		t.Fatalf("info --json: %d %s", code, out)
	}
	api := info.PlatformAPI
	if out, _, _ := verb("info"); !strings.Contains(out, "export HEROKU_HOST="+api.URL+"\n") || !strings.Contains(out, "export HEROKU_API_KEY="+api.Key+"\n") {
		t.Fatalf("info does not print the export lines:\n%s", out)
	}
	// freePort reserved public+1001, so the API is there and HEROKU_HOST
	// is the one a user pastes again after a restart.
	if r, err := url.Parse(info.Router); err != nil || api.URL != "http://127.0.0.1:"+strconv.Itoa(portOf(t, r)+platform.PortOffset) {
		t.Fatalf("the Platform API is at %s, want the router's port (%s) + %d", api.URL, info.Router, platform.PortOffset)
	}
	fi, err := os.Stat(filepath.Join(dir, ".dynobox", "platform-api.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v %v, want 0600", fi, err)
	}
	env := herokuEnv(t, api.URL, api.Key)
	heroku := func(args ...string) (string, string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, args...)
		cmd.Dir, cmd.Env = dir, env
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		if err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), cmd.ProcessState.ExitCode()
	}
	ok := func(args ...string) string {
		t.Helper()
		out, errOut, code := heroku(args...)
		if code != 0 {
			t.Fatalf("heroku %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	psJSON := func() (ps struct {
		Formation map[string]int
		Dynos     []struct{ Name, State string }
	}) {
		out, _, _ := verb("ps", "--json")
		json.Unmarshal([]byte(out), &ps)
		return ps
	}

	// The wrong key: the CLI says so.
	cmd := exec.Command(cli, "ps", "-a", "clidemo")
	cmd.Env = herokuEnv(t, api.URL, "wrong")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "invalid") {
		t.Fatalf("wrong key: %v\n%s", err, b)
	}
	// Another app's name: Heroku's not found.
	if out, errOut, code := heroku("ps", "-a", "other"); code == 0 || !strings.Contains(errOut, "Couldn't find that app") {
		t.Fatalf("ps -a other: %d\n%s\n%s", code, out, errOut)
	}

	if out := ok("auth:whoami"); !strings.Contains(out, "developer@dynobox.local") {
		t.Fatalf("whoami: %s", out)
	}
	if out := ok("apps"); !strings.Contains(out, "clidemo") {
		t.Fatalf("apps: %s", out)
	}
	if out := ok("apps:info", "-a", "clidemo"); !strings.Contains(out, info.Router) {
		t.Fatalf("apps:info shows no web URL %s:\n%s", info.Router, out)
	}
	router, _ := url.Parse(info.Router)
	if out := ok("domains", "-a", "clidemo"); !strings.Contains(out, router.Host) {
		t.Fatalf("domains shows no %s:\n%s", router.Host, out)
	}
	if out := ok("ps", "-a", "clidemo"); !strings.Contains(out, "web.1: up") || !strings.Contains(out, "worker.1: up") {
		t.Fatalf("ps: %s", out)
	}

	// ps:scale scales.
	ok("ps:scale", "worker=2", "-a", "clidemo")
	waitFor(t, "worker=2 through the CLI", func() bool { return psJSON().Formation["worker"] == 2 })
	if out := ok("ps:scale", "-a", "clidemo"); !strings.Contains(out, "worker=2:Basic") {
		t.Fatalf("ps:scale: %s", out)
	}

	// config:set is a release and a restart: the web dyno greets anew.
	port, _ := strconv.Atoi(router.Port())
	if out := ok("config:set", "GREETING=hola", "-a", "clidemo"); !strings.Contains(out, "GREETING") {
		t.Fatalf("config:set: %s", out)
	}
	if out, _, _ := verb("config", "--json"); !strings.Contains(out, `"GREETING": "hola"`) {
		t.Fatalf("dynobox config after config:set: %s", out)
	}
	// The release config:set made is dynobox's newest: vN.
	out, _, _ = verb("releases", "--json")
	var rels []struct {
		Version     int
		Description string
	}
	if json.Unmarshal([]byte(out), &rels) != nil || len(rels) == 0 || !strings.Contains(rels[0].Description, "GREETING") {
		t.Fatalf("dynobox releases after config:set: %s", out)
	}
	vN := "v" + strconv.Itoa(rels[0].Version)
	vNext := "v" + strconv.Itoa(rels[0].Version+1)
	waitFor(t, "the web dyno restarted with GREETING", func() bool { return strings.Contains(httpGet(t, port), "greeting=hola") })
	if out := ok("config:get", "GREETING", "-a", "clidemo"); out != "hola\n" {
		t.Fatalf("config:get: %q", out)
	}
	if out := ok("config", "-a", "clidemo"); !strings.Contains(out, "GREETING") {
		t.Fatalf("config: %s", out)
	}
	ok("config:unset", "GREETING", "-a", "clidemo")
	if out, _, _ := verb("config", "--json"); strings.Contains(out, "GREETING") {
		t.Fatalf("dynobox config after config:unset: %s", out)
	}

	// releases, releases:info, releases:rollback.
	out = ok("releases", "-a", "clidemo")
	if !strings.Contains(out, "Current: "+vNext) || !strings.Contains(out, vN+" ") || !strings.Contains(out, "Unset GREETING") {
		t.Fatalf("releases (want current %s after %s): %s", vNext, vN, out)
	}
	if out := ok("releases:info", vN, "-a", "clidemo"); !strings.Contains(out, "Release "+vN) || !strings.Contains(out, "GREETING: hola") {
		t.Fatalf("releases:info %s: %s", vN, out)
	}
	ok("releases:rollback", vN, "-a", "clidemo")
	if out, _, _ := verb("config", "--json"); !strings.Contains(out, `"GREETING": "hola"`) {
		t.Fatalf("dynobox config after rollback to %s: %s", vN, out)
	}

	// ps:restart and ps:stop act on the dynos dynobox runs.
	ok("ps:restart", "-p", "web", "-a", "clidemo")
	if out, _, _ := verb("logs", "-n", "200"); !strings.Contains(out, "Restarting") && !strings.Contains(out, "SIGTERM") {
		t.Fatalf("no restart in the log after ps:restart:\n%s", out)
	}
	ok("ps:stop", "-d", "worker.2", "-a", "clidemo")
	waitFor(t, "worker.2 stopped", func() bool {
		for _, d := range psJSON().Dynos {
			if d.Name == "worker.2" {
				return d.State != "up" && d.State != "starting"
			}
		}
		return true
	})

	// The add-ons dynobox runs, as Heroku lists them.
	if out := ok("addons", "-a", "clidemo"); !strings.Contains(out, "heroku-redis") || !strings.Contains(out, "as REDIS") {
		t.Fatalf("addons: %s", out)
	}
	if out := ok("addons:info", "REDIS", "-a", "clidemo"); !strings.Contains(out, "heroku-redis:mini") || !strings.Contains(out, "clidemo::REDIS") {
		t.Fatalf("addons:info REDIS: %s", out)
	}
	if out, _, _ := verb("addons"); !strings.Contains(out, "heroku-redis") {
		t.Fatalf("dynobox addons: %s", out)
	}

	// logs, and logs --tail shows a line a dyno prints from now on.
	if out := ok("logs", "-n", "300", "-a", "clidemo"); !strings.Contains(out, "heroku[web.1]: State changed from starting to up") {
		t.Fatalf("logs: %s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tail := exec.CommandContext(ctx, cli, "logs", "--tail", "-p", "worker", "-a", "clidemo")
	tail.Env = env
	tailOut := &testutil.Buffer{}
	tail.Stdout, tail.Stderr = tailOut, tailOut
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { tail.Process.Kill(); tail.Wait() }()
	waitFor(t, "logs --tail to connect", func() bool { return strings.Contains(tailOut.String(), "worker.") })
	os.WriteFile(filepath.Join(dir, "marker"), []byte("marker-from-the-test\n"), 0o644)
	waitFor(t, "the worker's line in logs --tail", func() bool {
		return strings.Contains(tailOut.String(), "app[worker.1]: marker-from-the-test")
	})

	// run:detached: a one-off dyno with the app's config vars, its output
	// in the log.
	out = ok("run:detached", "echo detached-$GREETING-$DYNO", "-a", "clidemo")
	m := regexp.MustCompile(`run\.\d{4}`).FindString(out)
	if m == "" {
		t.Fatalf("run:detached names no dyno: %s", out)
	}
	waitFor(t, "the one-off dyno's output in dynobox logs", func() bool {
		out, _, _ := verb("logs", "-n", "500")
		return strings.Contains(out, "app["+m+"]: detached-hola-"+m) && strings.Contains(out, "heroku["+m+"]: Process exited with status 0")
	})

	// ps:stop run.NNNN stops a detached one-off dyno that would run on.
	out = ok("run:detached", "echo long-running; exec sleep 1000", "-a", "clidemo")
	long := regexp.MustCompile(`run\.\d{4}`).FindString(out)
	if long == "" {
		t.Fatalf("run:detached names no dyno: %s", out)
	}
	waitFor(t, "the long one-off dyno in heroku ps", func() bool {
		out, _, _ := heroku("ps", "-a", "clidemo")
		return strings.Contains(out, long)
	})
	ok("ps:stop", long, "-a", "clidemo")
	waitFor(t, "the one-off dyno stopped by ps:stop", func() bool {
		out, _, _ := verb("logs", "-n", "500")
		return strings.Contains(out, "heroku["+long+"]: Stopping all processes with SIGTERM") &&
			strings.Contains(out, "heroku["+long+"]: Process exited with status 143")
	})
	waitFor(t, "heroku ps without the stopped one-off dyno", func() bool {
		out, _, code := heroku("ps", "-a", "clidemo")
		return code == 0 && !strings.Contains(out, long)
	})

	// What dynobox does not do is said, in Heroku's error shape.
	if out, errOut, code := heroku("run", "echo hi", "-a", "clidemo"); code == 0 || !strings.Contains(errOut, "dynobox run") {
		t.Fatalf("run (attached): %d\n%s\n%s", code, out, errOut)
	}
	if out, errOut, code := heroku("maintenance:on", "-a", "clidemo"); code == 0 || !strings.Contains(errOut, "does not support") {
		t.Fatalf("maintenance:on: %d\n%s\n%s", code, out, errOut)
	}

	// dynobox heroku runs the CLI with the variables and the app set.
	cmd = exec.Command(dynoboxBin, "heroku", "ps")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DYNOBOX_HEROKU_CLI="+cli, "HOME="+t.TempDir(), "NO_COLOR=1")
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "web.1: up") {
		t.Fatalf("dynobox heroku ps: %v\n%s", err, b)
	}
}
