package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mustRun runs dynobox's command line in-process, as main does, and
// returns what it wrote and its exit status.
func mustRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), code
}

// writeApp creates an app directory with the given files.
func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHelp(t *testing.T) {
	t.Parallel()
	out, _, code := mustRun(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, verb := range []string{"start", "run", "check", "ps:scale", "config:set", "addons:create", "kafka:topics:tail", "version"} {
		if !strings.Contains(out, "\n  "+verb+" ") {
			t.Errorf("--help lists no %s:\n%s", verb, out)
		}
	}
	if !strings.Contains(out, "Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input files.") {
		t.Errorf("--help does not state the exit codes:\n%s", out)
	}

	out, _, code = mustRun(t, "help", "start")
	if code != 0 || !strings.HasPrefix(out, "Usage: dynobox start [flags] [TYPE[=N] ...]") {
		t.Fatalf("help start: exit %d\n%s", code, out)
	}
	for _, flag := range []string{"-p, --port PORT", "-f, --procfile PATH", "-e, --env FILE", "-t, --timeout SECONDS", "--boot-timeout SECONDS", "--exit-on-crash", "--log-format FORMAT", "--state-dir DIR", "(default 127.0.0.1)"} {
		if !strings.Contains(out, flag) {
			t.Errorf("help start lacks %q:\n%s", flag, out)
		}
	}
	// -h after a verb is its help too, on stdout, exit 0.
	if out2, _, code := mustRun(t, "start", "-h"); code != 0 || out2 != out {
		t.Errorf("start -h: exit %d, output differs from help start:\n%s", code, out2)
	}

	// No command: the help, on stderr, exit 2.
	out, errOut, code := mustRun(t)
	if code != 2 || out != "" || !strings.Contains(errOut, "Usage: dynobox COMMAND") {
		t.Errorf("no command: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}

	if out, _, code := mustRun(t, "version"); code != 0 || out != "dynobox dev\n" {
		t.Errorf("version: exit %d %q", code, out)
	}
}

// Bad usage is exit 2 with one line that says what is wrong, and nothing
// on stdout; nothing starts.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `dynobox: unknown command "frobnicate"; see "dynobox help"`},
		{[]string{"help", "frobnicate"}, `dynobox: no command "frobnicate"; see "dynobox help"`},
		{[]string{"start", "--port", "x"}, `dynobox: start: invalid value "x" for flag -port: "x" is not a port number (1-65535) (see "dynobox help start")`},
		{[]string{"start", "--frobnicate"}, `dynobox: start: flag provided but not defined: -frobnicate (see "dynobox help start")`},
		{[]string{"start", "--log-format", "json"}, `dynobox: --log-format "json": use compact or logplex`},
		{[]string{"start", "--bind", "example.com"}, `dynobox: --bind example.com: not an IP address; use e.g. 127.0.0.1 (this machine only), 0.0.0.0 or ::`},
		{[]string{"start", "--dashboard", "6006"}, `dynobox: --dashboard 6006: use HOST:PORT, e.g. 127.0.0.1:6006, or off`},
		{[]string{"start", "-t", "-1"}, `dynobox: start: invalid value "-1" for flag -t: must not be negative (see "dynobox help start")`},
		{[]string{"run"}, `dynobox: run: no command given; e.g. dynobox run -- go test ./...`},
		{[]string{"config:set", "FOO"}, `dynobox: "FOO" must be KEY=VALUE`},
		{[]string{"config:set"}, `dynobox: usage: dynobox config:set KEY=VALUE ...`},
		{[]string{"config:unset"}, `dynobox: usage: dynobox config:unset KEY ...`},
		{[]string{"config:get"}, `dynobox: usage: dynobox config:get KEY`},
		{[]string{"releases:rollback", "latest"}, `dynobox: "latest" is not a release; use vN as "dynobox releases" lists them`},
		{[]string{"ps:stop"}, `dynobox: ps:stop needs -p TYPE or -d DYNO (or a dyno name)`},
		{[]string{"ps:restart", "web", "worker"}, `dynobox: name at most one dyno or type`},
		{[]string{"logs", "--source", "router"}, `dynobox: --source "router": use app or heroku`},
		{[]string{"builds", "b1", "b2"}, `dynobox: usage: dynobox builds [ID]`},
		{[]string{"addons:create"}, `dynobox: usage: dynobox addons:create PLAN [--as NAME]`},
		{[]string{"addons:destroy"}, `dynobox: usage: dynobox addons:destroy NAME [--confirm NAME]`},
		{[]string{"addons:destroy", "heroku-redis", "--confirm", "other"}, `dynobox: this deletes heroku-redis and all its data; confirm with --confirm heroku-redis`},
		{[]string{"kafka:topics:write", "events"}, `dynobox: usage: dynobox kafka:topics:write TOPIC MESSAGE`},
	} {
		out, errOut, code := mustRun(t, append(c.args, "-C", dir)...)
		if code != 2 || out != "" || errOut != c.want+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".dynobox")); err == nil {
		t.Error("a usage error created the state directory")
	}
}

// check prints the formation with its ports; bad input files are exit 2
// with every problem at its file and line.
func TestCheck(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "web: ./server\nworker: ./work\nrelease: ./migrate\n",
		".env":     "PORT=7100\n",
	})
	out, errOut, code := mustRun(t, "check", "-C", dir, "--build", "none")
	if code != 2 {
		t.Fatalf("check --build (a start flag): exit %d, want 2; stderr %q", code, errOut)
	}
	out, errOut, code = mustRun(t, "check", "-C", dir, "web=2")
	if code != 0 || errOut != "" {
		t.Fatalf("check: exit %d, stderr:\n%s", code, errOut)
	}
	// The dynos' ports are the next free ones after the router's.
	for _, want := range []string{`Procfile ` + regexp.QuoteMeta(filepath.Join(dir, "Procfile")) + `\n`, `release \./migrate \(once per new release, before its dynos\)\n`,
		`\n  router  :7100  → the web dynos\n`, `\n  web\.1   :71\d\d  \./server\n`, `\n  web\.2   :71\d\d  \./server\n`, `\n  not started: worker\n`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("check lacks %s:\n%s", want, out)
		}
	}

	bad := writeApp(t, map[string]string{"Procfile": "web: ./server\nworker\n"})
	out, errOut, code = mustRun(t, "check", "-C", bad)
	if code != 2 || out != "" || !strings.Contains(errOut, "dynobox: "+filepath.Join(bad, "Procfile")+":2: ") {
		t.Errorf("bad Procfile: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	out, errOut, code = mustRun(t, "check", "-C", dir, "clock=1")
	if code != 2 || !strings.Contains(errOut, `dynobox: unknown process type "clock" in formation; the Procfile has: web, worker, release`) {
		t.Errorf("unknown type: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// With no dynobox running, config:set records a release for the next
// start, and config, config:get and releases answer from the saved state,
// saying so on stderr.
func TestConfigAndReleasesOnAStoppedApp(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: ./work\n",
		".env":     "FROM_FILE=1\n",
	})
	out, errOut, code := mustRun(t, "releases", "--json", "-C", dir)
	if code != 0 || strings.TrimSpace(out) != "[]" || !strings.Contains(errOut, "the app is stopped") {
		t.Fatalf("releases --json of a new app: exit %d %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".dynobox")); err == nil {
		t.Fatal("reading a never-started app created .dynobox")
	}

	out, errOut, code = mustRun(t, "config:set", "FOO=bar baz", "-C", dir)
	if code != 0 || !strings.HasPrefix(out, "Setting FOO... done, v") || !strings.Contains(out, "FOO: bar baz") {
		t.Fatalf("config:set: exit %d\n%s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, `is recorded and the next "dynobox start" runs it`) {
		t.Errorf("config:set on a stopped app does not say so: %q", errOut)
	}
	if out, _, code := mustRun(t, "config:get", "FOO", "-C", dir); code != 0 || out != "bar baz\n" {
		t.Errorf("config:get FOO: exit %d %q", code, out)
	}
	if out, _, code := mustRun(t, "config:get", "NOPE", "-C", dir); code != 0 || out != "\n" {
		t.Errorf("config:get of an unset var: exit %d %q, want an empty line", code, out)
	}
	out, _, code = mustRun(t, "config", "-C", dir)
	if code != 0 || !strings.Contains(out, "=== "+filepath.Base(dir)+" Config Vars") || !strings.Contains(out, "FOO:       bar baz") || !strings.Contains(out, "FROM_FILE: 1") {
		t.Errorf("config: exit %d\n%s", code, out)
	}
	if out, _, code := mustRun(t, "config", "--shell", "-C", dir); code != 0 || !strings.Contains(out, "FOO='bar baz'\n") {
		t.Errorf("config --shell: exit %d\n%s", code, out)
	}
	out, _, code = mustRun(t, "releases", "-C", dir)
	if code != 0 || !strings.Contains(out, "=== "+filepath.Base(dir)+" Releases") || !strings.Contains(out, "Set FOO config vars") {
		t.Errorf("releases: exit %d\n%s", code, out)
	}
}
