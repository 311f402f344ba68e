package build

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRelease(t *testing.T) {
	r, err := ParseRelease(`---
# a comment
addons:
  - heroku-postgresql:mini
  - "heroku-redis"
config_vars:
  PATH: "/app/bin:$PATH"
  GREETING: 'it''s # not a comment'
default_process_types:
  web: bin/server --port $PORT # comment
  worker: "bin/worker"
`)
	if err != nil {
		t.Fatal(err)
	}
	want := Release{
		ProcessTypes: map[string]string{"web": "bin/server --port $PORT", "worker": "bin/worker"},
		Addons:       []string{"heroku-postgresql:mini", "heroku-redis"},
		ConfigVars:   map[string]string{"PATH": "/app/bin:$PATH", "GREETING": "it's # not a comment"},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %#v\nwant %#v", r, want)
	}
	r, err = ParseRelease("addons: []\ndefault_process_types: {}\n")
	if err != nil || len(r.Addons) != 0 || len(r.ProcessTypes) != 0 {
		t.Fatalf("empty inline: %#v %v", r, err)
	}
	for _, bad := range []string{"web bin/server\n", "  web: x\n", "default_process_types: web\n", "default_process_types:\n  - web\n"} {
		if _, err := ParseRelease(bad); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ParseRelease(%q) = %v, want an error naming the line", bad, err)
		}
	}
}

func TestBuildpackListPrecedence(t *testing.T) {
	app := t.TempDir()
	if urls, _, err := BuildpackList(app); err != nil || urls != nil {
		t.Fatalf("none: %v %v", urls, err)
	}
	writeFiles(t, app, map[string]string{".buildpacks": "# mine\n./bp1\n\n./bp2\n"})
	urls, src, err := BuildpackList(app)
	if err != nil || src != ".buildpacks" || !reflect.DeepEqual(urls, []string{"./bp1", "./bp2"}) {
		t.Fatalf(".buildpacks: %v %q %v", urls, src, err)
	}
	writeFiles(t, app, map[string]string{"app.json": `{"buildpacks":[{"url":"heroku/go"}]}`})
	if urls, src, _ = BuildpackList(app); src != "app.json" || !reflect.DeepEqual(urls, []string{"heroku/go"}) {
		t.Fatalf("app.json: %v %q", urls, src)
	}
	if err := SaveBuildpackList(app, []string{"heroku/python"}); err != nil {
		t.Fatal(err)
	}
	if urls, src, _ = BuildpackList(app); src != BuildpacksFile || !reflect.DeepEqual(urls, []string{"heroku/python"}) {
		t.Fatalf("set: %v %q", urls, src)
	}
	if plan, err := Detect(app); err != nil || plan.Kind != Buildpacks {
		t.Fatalf("Detect = %v %v", plan, err)
	}
	SaveBuildpackList(app, nil)
	if _, src, _ = BuildpackList(app); src != "app.json" {
		t.Fatalf("cleared: %q", src)
	}
}

func TestCheckBuildpack(t *testing.T) {
	app := t.TempDir()
	for _, url := range []string{"heroku/go", "https://github.com/heroku/heroku-buildpack-nodejs", app} {
		if err := CheckBuildpack(app, url); err != nil {
			t.Errorf("%s: %v", url, err)
		}
	}
	for _, url := range []string{"https://example.com/bp.tgz", "someone/custom", "git@github.com:a/b.git"} {
		if err := CheckBuildpack(app, url); !errors.Is(err, ErrNeedsNetwork) {
			t.Errorf("%s: %v, want ErrNeedsNetwork", url, err)
		}
	}
}

// writeBuildpack makes a classic buildpack in dir from its scripts.
func writeBuildpack(t *testing.T, dir string, scripts map[string]string) {
	t.Helper()
	for name, body := range scripts {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o755)
		if name == "export" {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBuildpacksClassicAPI(t *testing.T) {
	app, bps := t.TempDir(), t.TempDir()
	first, second := filepath.Join(bps, "first"), filepath.Join(bps, "second")
	writeBuildpack(t, first, map[string]string{
		"bin/detect":  "#!/bin/sh\n[ -f \"$1/hello.txt\" ] && echo First\n",
		"bin/compile": "#!/bin/sh\nset -e\necho \"compiling with GREETING=$(cat \"$3/GREETING\")\"\nmkdir -p \"$1/bin\" \"$2\"\necho run >> \"$2/runs\"\nprintf '#!/bin/sh\\necho hi\\n' > \"$1/bin/hi\"\nchmod +x \"$1/bin/hi\"\n",
		"bin/release": "#!/bin/sh\ncat <<YAML\n---\nconfig_vars:\n  FIRST: one\ndefault_process_types:\n  web: bin/hi\n  worker: bin/hi worker\nYAML\n",
		"export":      "export FROM_FIRST=passed\n",
	})
	writeBuildpack(t, second, map[string]string{
		"bin/detect":  "#!/bin/sh\necho Second\n",
		"bin/compile": "#!/bin/sh\necho \"second sees FROM_FIRST=$FROM_FIRST\"\n[ \"$FROM_FIRST\" = passed ]\n",
		"bin/release": "#!/bin/sh\nprintf 'default_process_types:\\n  web: bin/hi web\\n'\n",
	})
	// The second buildpack as a git repository on disk, named at a ref.
	repo := filepath.Join(bps, "second.git")
	for _, args := range [][]string{
		{"init", "-q", "-b", "main", second},
		{"-C", second, "add", "-A"},
		{"-C", second, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "bp"},
		{"-C", second, "tag", "v1"},
		{"clone", "-q", "--bare", second, repo},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	writeFiles(t, app, map[string]string{"hello.txt": "x"})
	plan := Plan{Kind: Buildpacks, Buildpacks: []string{first, "file://" + repo + "#v1"}}
	_, err, logs := build(t, app, plan, Options{Env: []string{"PATH=" + os.Getenv("PATH"), "GREETING=hello"}})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs.text())
	}
	text := logs.text()
	for _, want := range []string{"-----> First app detected", "compiling with GREETING=hello", "-----> Second app detected",
		"second sees FROM_FIRST=passed", "-----> Discovering process types", "Default types for buildpack -> web, worker"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	rel := LoadRelease(filepath.Join(app, ".dynobox"))
	if rel.ProcessTypes["web"] != "bin/hi web" || rel.ProcessTypes["worker"] != "bin/hi worker" || rel.ConfigVars["FIRST"] != "one" {
		t.Errorf("release = %#v", rel)
	}
	if !isFile(filepath.Join(app, "bin", "hi")) {
		t.Error("compile's output is missing")
	}
	// CACHE_DIR persists across builds.
	if _, err, logs = build(t, app, plan, Options{Env: []string{"PATH=" + os.Getenv("PATH"), "GREETING=again"}}); err != nil {
		t.Fatalf("%v\n%s", err, logs.text())
	}
	m, _ := filepath.Glob(filepath.Join(app, ".dynobox", "buildpack-cache", "*", "runs"))
	if raw, _ := os.ReadFile(m[0]); string(raw) != "run\nrun\n" {
		t.Errorf("cache runs = %q", raw)
	}
	// A buildpack that does not detect fails the build naming it.
	os.Remove(filepath.Join(app, "hello.txt"))
	if _, err, _ = build(t, app, plan, Options{}); err == nil || !strings.Contains(err.Error(), "not compatible with buildpack "+first) {
		t.Errorf("detect failure: %v", err)
	}
	// A network buildpack fails with what to do.
	if _, err, _ = build(t, app, Plan{Kind: Buildpacks, Buildpacks: []string{"https://example.com/bp.tgz"}}, Options{}); !errors.Is(err, ErrNeedsNetwork) {
		t.Errorf("network: %v", err)
	}
}

// ENV_DIR holds the app's config vars, not dynobox's own environment.
func TestEnvDirHoldsTheConfigVars(t *testing.T) {
	t.Parallel()
	app, bp := t.TempDir(), t.TempDir()
	writeBuildpack(t, bp, map[string]string{
		"bin/compile": "#!/bin/sh\necho \"env-dir: $(ls \"$3\" | tr '\\n' ' ')\"\necho \"greeting: $(cat \"$3/GREETING\")\"\n",
	})
	_, logs := mustBuild(t, app, Plan{Kind: Buildpacks, Buildpacks: []string{bp}}, Options{
		StateDir:   t.TempDir(),
		Env:        []string{"PATH=" + os.Getenv("PATH"), "HOME=/root", "GREETING=hi"},
		ConfigVars: map[string]string{"GREETING": "hi", "DATABASE_URL": "postgres://x"},
	})
	if !strings.Contains(logs.text(), "env-dir: DATABASE_URL GREETING \n") || !strings.Contains(logs.text(), "greeting: hi") {
		t.Errorf("ENV_DIR is not the config vars:\n%s", logs.text())
	}
}
