package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Heroku's classic buildpack API: local buildpacks named in app.json run
// bin/detect, bin/compile and bin/release; the release's default process
// types run when there is no Procfile.

// writeBuildpackDir makes an executable-script buildpack.
func writeBuildpackDir(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildpackDefaultProcessTypesServeWeb(t *testing.T) {
	t.Parallel()
	// The first buildpack, a git repository on disk named at a tag,
	// exports a variable the second one's compile sees.
	first := writeBuildpackDir(t, map[string]string{
		"bin/detect":  "#!/bin/sh\necho Exporter\n",
		"bin/compile": "#!/bin/sh\necho '       exporting FROM_FIRST'\n",
		"export":      "export FROM_FIRST=passed-along\n",
	})
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", first},
		{"-C", first, "add", "-A"},
		{"-C", first, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "bp"},
		{"-C", first, "tag", "v1"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	second := writeBuildpackDir(t, map[string]string{
		"bin/detect": "#!/bin/sh\n[ -f \"$1/site.txt\" ] && echo Tiny\n",
		"bin/compile": "#!/bin/sh\nset -e\nmkdir -p \"$1/public\"\n" +
			"echo \"greeting=$(cat \"$3/GREETING\") from_first=$FROM_FIRST site=$(cat \"$1/site.txt\")\" > \"$1/public/index.html\"\n" +
			"echo '       wrote public/index.html'\n",
		"bin/release": "#!/bin/sh\ncat <<'EOF'\n---\naddons: []\ndefault_process_types:\n  web: cd public && exec python3 -m http.server $PORT --bind 127.0.0.1\n" +
			"config_vars:\n  TINY_DEFAULT: from-release\nEOF\n",
	})
	dir := writeApp(t, map[string]string{
		"site.txt": "tiny",
		"app.json": `{"buildpacks":[{"url":"file://` + first + `#v1"},{"url":"` + second + `"}],` +
			`"env":{"GREETING":{"value":"hello-config"}}}`,
	})
	port := freePort(t)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port))
	p.waitOutput("State changed from starting to up")
	for _, want := range []string{"-----> Exporter app detected", "-----> Tiny app detected", "wrote public/index.html",
		"-----> Discovering process types", "Default types for buildpack -> web"} {
		if !p.hasOutput(want) {
			t.Errorf("build log lacks %q:\n%s", want, p.out)
		}
	}
	if got := httpGet(t, port); !strings.Contains(got, "greeting=hello-config from_first=passed-along site=tiny") {
		t.Fatalf("web served %q\n%s", got, p.out)
	}
	stopApp(t, p)
	out, stderr, code := runDynobox(t, dir, "run", "echo tiny=$TINY_DEFAULT")
	if code != 0 || out != "tiny=from-release\n" {
		t.Fatalf("release config_vars in a one-off: %q %s exit %d", out, stderr, code)
	}
}

func TestBuildpacksVerbs(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{".buildpacks": "heroku/python\n"})
	bp := writeBuildpackDir(t, map[string]string{"bin/compile": "#!/bin/sh\n"})
	run := func(want int, args ...string) string {
		t.Helper()
		out, stderr, code := runDynobox(t, dir, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, stderr)
		}
		return out + stderr
	}
	name := filepath.Base(dir)
	if got := run(0, "buildpacks"); got != "=== "+name+" Buildpack URL\n\nheroku/python\n" {
		t.Fatalf("from .buildpacks: %q", got)
	}
	run(0, "buildpacks:set", "heroku/nodejs")
	run(0, "buildpacks:add", "-i", "1", bp)
	if got := run(0, "buildpacks"); got != "=== "+name+" Buildpack URLs\n\n1. "+bp+"\n2. heroku/nodejs\n" {
		t.Fatalf("after set and add: %q", got)
	}
	if got := run(2, "buildpacks:add", "https://github.com/someone/buildpack.git"); !strings.Contains(got, "needs the network") {
		t.Fatalf("network buildpack: %q", got)
	}
	run(2, "buildpacks:remove", "-i", "5")
	if got := run(0, "buildpacks:remove", "heroku/nodejs"); !strings.Contains(got, "Buildpack removed. Next release on "+name+" will use "+bp+".") {
		t.Fatalf("remove: %q", got)
	}
	run(0, "buildpacks:clear")
	if got := run(0, "buildpacks"); !strings.Contains(got, "heroku/python") {
		t.Fatalf("after clear, .buildpacks counts again: %q", got)
	}
}

// A version pin the installed toolchain does not meet is named in the
// build log, with the version that builds the app instead.
func TestPinMismatchIsNamedInTheBuildLog(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"go.mod":   "module pinned\n\n// +heroku goVersion go1.10\ngo 1.21\n",
		"main.go":  "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"pinned app ran\") }\n",
		"Procfile": "worker: pinned; exec sleep 1000\n",
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p.waitOutput("pinned app ran")
	if !p.hasOutput("Version mismatch: the app asks for go 1.10 (go.mod's // +heroku goVersion); go 1.") {
		t.Fatalf("no mismatch line:\n%s", p.out)
	}
	stopApp(t, p)
}

// A push builds with the buildpacks buildpacks:set chose, and the pushed
// release runs their default process types.
func TestGitPushUsesBuildpacksSet(t *testing.T) {
	t.Parallel()
	bp := writeBuildpackDir(t, map[string]string{
		"bin/detect":  "#!/bin/sh\necho Pushed\n",
		"bin/compile": "#!/bin/sh\nmkdir -p \"$1/public\" && echo \"pushed site $(cat \"$1/site.txt\")\" > \"$1/public/index.html\"\n",
		"bin/release": "#!/bin/sh\nprintf 'default_process_types:\\n  web: cd public && exec python3 -m http.server $PORT --bind 127.0.0.1\\n'\n",
	})
	dir := writeApp(t, map[string]string{"site.txt": "v1"})
	pushableWithBuildpack(t, dir, bp)
	out, code := gitRun(t, dir, "push", "box", "main")
	if code != 0 || !strings.Contains(out, "Pushed app detected") || !strings.Contains(out, "Default types for buildpack -> web") {
		t.Fatalf("git push: exit %d\n%s", code, out)
	}
	port := freePort(t)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port))
	waitPrefix(t, p, "http://127.0.0.1:"+strconv.Itoa(port)+"/", "pushed site v1")
	stopApp(t, p)
}

// A buildpack's bin/release `addons` are provisioned before the release,
// as on Heroku: the web dyno of the first release already has REDIS_URL;
// the add-on is the app's from then on (listed, and kept on the next start).
func TestBuildpackReleaseAddonsAreProvisioned(t *testing.T) {
	t.Parallel()
	bp := redisReleaseBuildpack(t)
	dir := writeApp(t, map[string]string{"app.json": `{"buildpacks":[{"url":"` + bp + `"}]}`})
	port := freePort(t)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port))
	p.waitOutput("State changed from starting to up")
	if !p.hasOutput("Provisioning heroku-redis:mini, named by the buildpack's release") {
		t.Errorf("no provisioning line:\n%s", p.out)
	}
	if got := httpGet(t, port); !strings.Contains(got, "redis-url-scheme=redis") {
		t.Fatalf("web served %q\n%s", got, p.out)
	}
	stopApp(t, p)
	out, stderr, code := runDynobox(t, dir, "addons")
	if code != 0 || !strings.Contains(out, "heroku-redis") {
		t.Fatalf("addons after the first release: exit %d\n%s%s", code, out, stderr)
	}
}

// A pushed slug's release add-ons are provisioned too: a push to a
// stopped app records them, and the next start's web dyno has REDIS_URL.
func TestGitPushProvisionsTheReleaseAddons(t *testing.T) {
	t.Parallel()
	bp := redisReleaseBuildpack(t)
	dir := writeApp(t, map[string]string{"site.txt": "v1"})
	pushableWithBuildpack(t, dir, bp)
	out, code := gitRun(t, dir, "push", "box", "main")
	if code != 0 || !strings.Contains(out, "Provisioning heroku-redis:mini, named by the buildpack's release") {
		t.Fatalf("git push: exit %d\n%s", code, out)
	}
	if out, stderr, code := runDynobox(t, dir, "addons"); code != 0 || !strings.Contains(out, "heroku-redis") {
		t.Fatalf("addons after the push: exit %d\n%s%s", code, out, stderr)
	}
	port := freePort(t)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port))
	waitPrefix(t, p, "http://127.0.0.1:"+strconv.Itoa(port)+"/", "redis-url-scheme=redis")
	stopApp(t, p)
}

// redisReleaseBuildpack is a buildpack whose release names heroku-redis
// and whose web serves the scheme of the REDIS_URL it got.
func redisReleaseBuildpack(t *testing.T) string {
	return writeBuildpackDir(t, map[string]string{
		"bin/detect":  "#!/bin/sh\necho WithRedis\n",
		"bin/compile": "#!/bin/sh\nmkdir -p \"$1/public\"\n",
		"bin/release": "#!/bin/sh\ncat <<'EOF'\n---\naddons:\n  - heroku-redis:mini\ndefault_process_types:\n" +
			"  web: echo \"redis-url-scheme=${REDIS_URL%%:*}\" > public/index.html && cd public && exec python3 -m http.server $PORT --bind 127.0.0.1\nEOF\n",
	})
}

// pushableWithBuildpack makes dir a git repository with one commit, its
// buildpack set to bp and a git remote "box" to push to.
func pushableWithBuildpack(t *testing.T, dir, bp string) {
	t.Helper()
	gitIn(t, dir, "init", "-q", "-b", "main")
	commitAll(t, dir, "v1")
	if out, stderr, code := runDynobox(t, dir, "buildpacks:set", bp); code != 0 {
		t.Fatalf("buildpacks:set: %s %s", out, stderr)
	}
	if _, stderr, code := runDynobox(t, dir, "git:remote", "-r", "box"); code != 0 {
		t.Fatalf("git:remote: %s", stderr)
	}
}
