package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// The Procfile's release command: once per new release, before any dyno
// boots on it; a failure stops the release.

func TestReleasePhaseRunsOncePerRelease(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "release: echo \"release ran with FOO=$FOO\" >> releases.log\nworker: echo \"worker sees $(wc -l < releases.log) releases, FOO=$FOO\"; exec sleep 1000\n",
	})
	port := strconv.Itoa(freePort(t))
	p := startDynobox(t, dir, "start", "-p", port, "--dashboard", "off")
	p.waitOutput("| worker sees 1 releases, FOO=\n")
	if !p.hasOutput("heroku[release.") || !p.hasOutput("State changed from up to complete") {
		t.Fatalf("no release dyno in the log:\n%s", p.out)
	}
	stopApp(t, p)

	// A restart of dynobox is no new release: the command does not run again.
	p = startDynobox(t, dir, "start", "-p", port, "--dashboard", "off")
	p.waitOutput("| worker sees 1 releases, FOO=\n")
	out, stderr, code := runDynobox(t, dir, "config:set", "FOO=bar")
	if code != 0 {
		t.Fatalf("config:set: %s %s", out, stderr)
	}
	// The new release's command ran, with the new env, before the worker restarted.
	p.waitOutput("| worker sees 2 releases, FOO=bar\n")
	stopApp(t, p)
	rel, _, _ := runDynobox(t, dir, "run", "cat releases.log")
	if rel != "release ran with FOO=\nrelease ran with FOO=bar\n" {
		t.Fatalf("releases.log: %q", rel)
	}
}

func TestFailingReleasePhaseBlocksTheRelease(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "release: if [ \"$FOO\" = bad ]; then echo migration failed; exit 3; fi\nworker: echo \"worker FOO=$FOO\"; exec sleep 1000\n",
	})
	port := strconv.Itoa(freePort(t))
	p := startDynobox(t, dir, "start", "-p", port, "--dashboard", "off")
	p.waitOutput("| worker FOO=\n")
	_, stderr, code := runDynobox(t, dir, "config:set", "FOO=bad")
	if code == 0 || !strings.Contains(stderr, "release command") || !strings.Contains(stderr, "status 3") {
		t.Fatalf("config:set with a failing release: exit %d %s", code, stderr)
	}
	p.waitOutput("| migration failed")
	if strings.Count(p.out.String(), "| worker FOO=") != 1 {
		t.Fatalf("the worker restarted on a failed release:\n%s", p.out)
	}
	if got, _, _ := runDynobox(t, dir, "config:get", "FOO"); got != "\n" {
		t.Fatalf("the failed release's config stayed: FOO=%q", got)
	}
	stopApp(t, p)

	// A release phase that fails at start starts no dyno.
	bad := writeApp(t, map[string]string{"Procfile": "release: exit 9\nworker: echo started; exec sleep 1000\n"})
	p = startDynobox(t, bad, "start", "-p", strconv.Itoa(freePort(t)), "--dashboard", "off")
	if code := p.wait(); code != 1 || !strings.Contains(p.err.String(), "status 9") || p.hasOutput("| started") {
		t.Fatalf("failing release at start: exit %d\n%s\n%s", code, p.out, p.err)
	}
}
