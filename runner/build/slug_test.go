package build

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeWheel writes a wheel of package hello with a console script, hello,
// that prints where its module lives: installing it needs no index.
func writeWheel(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := zip.NewWriter(f)
	files := map[string]string{
		"hello/__init__.py":                    "def main():\n    print('hello from ' + __file__)\n",
		"hello-1.0.dist-info/METADATA":         "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\n",
		"hello-1.0.dist-info/WHEEL":            "Wheel-Version: 1.0\nGenerator: dynobox-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
		"hello-1.0.dist-info/entry_points.txt": "[console_scripts]\nhello = hello:main\n",
	}
	var record []string
	for name, data := range files {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
		record = append(record, name+",,")
	}
	w, _ := z.Create("hello-1.0.dist-info/RECORD")
	w.Write([]byte(strings.Join(append(record, "hello-1.0.dist-info/RECORD,,"), "\n") + "\n"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPythonSlugBuildIsSelfContained(t *testing.T) {
	slow(t, "a real venv and pip install")
	need(t, "python3")
	app := filepath.Join(t.TempDir(), "build-1")
	state := t.TempDir()
	writeFiles(t, app, map[string]string{"requirements.txt": "./hello-1.0-py3-none-any.whl\n"})
	writeWheel(t, filepath.Join(app, "hello-1.0-py3-none-any.whl"))
	plan, _ := Detect(app)
	_, logs := mustBuild(t, app, plan, Options{StateDir: state, Slug: true})
	if !strings.Contains(logs.text(), "Running: python3 -m venv "+SlugVenv) {
		t.Errorf("the virtualenv should be made in the slug:\n%s", logs.text())
	}
	for _, p := range []string{filepath.Join(state, "venv"), filepath.Join(state, "deps", string(Python))} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a slug build left %s in the state directory", p)
		}
	}

	// A dyno runs a copy of the slug elsewhere; the build directory is gone.
	dyno := filepath.Join(t.TempDir(), "web.1-x")
	if err := os.Rename(app, dyno); err != nil {
		t.Fatal(err)
	}
	env := SlugEnv(os.Environ(), dyno)
	for _, command := range []string{"hello", "python -c 'import hello; hello.main()'"} {
		cmd := exec.Command("/bin/sh", "-c", command)
		cmd.Dir, cmd.Env = dyno, env
		out, err := cmd.CombinedOutput()
		if want := "hello from " + filepath.Join(dyno, SlugVenv, "lib"); err != nil || !strings.HasPrefix(string(out), want) {
			t.Errorf("%s in a copy of the slug: %v %q, want %q…", command, err, out, want)
		}
	}
	if got := getenv(env, "VIRTUAL_ENV"); got != filepath.Join(dyno, SlugVenv) {
		t.Errorf("VIRTUAL_ENV = %q", got)
	}
}

func TestRubySlugBuildKeepsGemsInTheSlug(t *testing.T) {
	slow(t, "a real bundle install")
	need(t, "bundle")
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"Gemfile": "source \"https://rubygems.org\"\n"})
	plan, _ := Detect(app)
	for i := 0; i < 2; i++ { // the second build installs again: a slug starts clean
		_, logs := mustBuild(t, app, plan, Options{StateDir: t.TempDir(), Slug: true})
		if !strings.Contains(logs.text(), "Running: bundle install") {
			t.Errorf("build %d should bundle install:\n%s", i+1, logs.text())
		}
	}
	cmd := exec.Command("bundle", "config", "get", "path")
	cmd.Dir = app
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"`+SlugBundle+`"`) || !strings.Contains(string(out), filepath.Join(app, ".bundle", "config")) {
		t.Fatalf("bundle config get path in the slug: %v\n%s", err, out)
	}
}

func TestRelocatedScripts(t *testing.T) {
	bin := []byte("/build/.heroku/python/bin/")
	for _, tc := range []struct{ in, want string }{
		{"#!/build/.heroku/python/bin/python3\nimport sys\n", "#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python3\" \"$0\" \"$@\"\n' '''\nimport sys\n"},
		{"#!/bin/sh\n'''exec' \"/build/.heroku/python/bin/python\" \"$0\" \"$@\"\n' '''\nimport sys\n", "#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python\" \"$0\" \"$@\"\n' '''\nimport sys\n"},
		{"#!/usr/bin/env python3\n", ""},
		{"# activate: VIRTUAL_ENV=/build/.heroku/python\n", ""},
	} {
		got, ok := relocated([]byte(tc.in), bin)
		if !ok && tc.want != "" || ok && string(got) != tc.want {
			t.Errorf("relocated(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}
