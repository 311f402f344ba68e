package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A push to a stopped app runs its release command inside the push, with
// the app's add-ons started for it, as Heroku runs the release phase
// against the app's add-ons: what it writes to Postgres is there at the
// next start, and a failing release command rejects the push.

const pushReleaseScript = `#!/bin/sh
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE TABLE IF NOT EXISTS pushes(sha text); INSERT INTO pushes VALUES ('$HEROKU_SLUG_COMMIT')"
echo "release of $HEROKU_SLUG_COMMIT recorded"
`

const pushWorkerScript = `#!/bin/sh
echo "worker sees [$(psql "$DATABASE_URL" -Atc "SELECT string_agg(sha, ',') FROM pushes")] running $HEROKU_SLUG_COMMIT"
exec sleep 1000
`

func TestGitPushToAStoppedAppRunsItsReleaseCommandWithItsAddons(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"app.json":   `{"addons": ["heroku-postgresql"]}`,
		"release.sh": pushReleaseScript,
		"worker.sh":  pushWorkerScript,
		"Procfile":   "release: sh release.sh\nworker: sh worker.sh\n",
	})
	gitIn(t, dir, "init", "-q", "-b", "main")
	v1 := commitAll(t, dir, "v1")
	if _, stderr, code := runDynobox(t, dir, "git:remote"); code != 0 {
		t.Fatalf("git:remote: %s", stderr)
	}
	// A broken work-tree Procfile does not block the push: the slug's counts.
	writeFile(t, filepath.Join(dir, "Procfile"), "this is not a Procfile\n")
	out, code := gitRun(t, dir, "push", "dynobox", "main")
	if code != 0 || !strings.Contains(out, "release of "+v1+" recorded") || !strings.Contains(out, "the next dynobox start runs v2") {
		t.Fatalf("git push: exit %d\n%s", code, out)
	}

	// A failing release command rejects the push; the release is recorded
	// as failed and the next start runs the one before, without retrying it.
	writeFile(t, filepath.Join(dir, "release.sh"), "echo migration failed; exit 3\n")
	gitIn(t, dir, "commit", "-q", "-m", "v2", "release.sh") // the broken work-tree Procfile stays uncommitted
	out, code = gitRun(t, dir, "push", "dynobox", "main")
	if code == 0 || !strings.Contains(out, "migration failed") || !strings.Contains(out, "status 3") || !strings.Contains(out, "Push rejected") {
		t.Fatalf("git push with a failing release command: exit %d\n%s", code, out)
	}
	if got := gitIn(t, dir, "ls-remote", "dynobox", "main"); !strings.HasPrefix(got, v1) {
		t.Fatalf("the rejected push moved the remote's main: %s", got)
	}

	// The start runs the pushed release's Procfile; the broken one in the
	// work tree is a warning.
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)), "--dashboard", "off")
	p.waitOutput("| worker sees [" + v1 + "] running " + v1 + "\n")
	if !strings.Contains(p.out.String()+p.err.String(), "the work tree's Procfile is not used") {
		t.Fatalf("no warning about the work tree's Procfile:\n%s\n%s", p.out, p.err)
	}
	if p.hasOutput("migration failed") || p.hasOutput("heroku[release.") {
		t.Fatalf("the start ran a release command again:\n%s", p.out)
	}
	stopApp(t, p)
	rels, _, _ := runDynobox(t, dir, "releases")
	if releaseOf(t, rels, "Deploy "+v1[:7]) != "v2" {
		t.Fatalf("releases:\n%s", rels)
	}
}
