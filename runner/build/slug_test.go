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

// gemFile builds a one-file gem NAME 1.0.0 with an executable NAME that
// prints "NAME gem", and returns the .gem's path: gems a test installs
// offline, from the app's vendor/cache.
func gemFile(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"lib/" + name + ".rb": "module M_" + name + "; def self.hi; \"" + name + " gem\"; end; end\n",
		"exe/" + name:         "#!/usr/bin/env ruby\nrequire \"" + name + "\"\nputs M_" + name + ".hi\n",
		name + ".gemspec": `Gem::Specification.new do |s|
  s.name = "` + name + `"; s.version = "1.0.0"; s.summary = "test"; s.authors = ["t"]
  s.files = ["lib/` + name + `.rb", "exe/` + name + `"]; s.bindir = "exe"; s.executables = ["` + name + `"]
end
`,
	})
	cmd := exec.Command("gem", "build", name+".gemspec")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gem build: %v\n%s", err, out)
	}
	return filepath.Join(dir, name+"-1.0.0.gem")
}

func TestRubySlugBuildKeepsGemsInTheSlug(t *testing.T) {
	slow(t, "a real bundle install")
	need(t, "bundle")
	need(t, "gem")
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"Gemfile": "source \"https://rubygems.org\"\ngem \"hello\"\ngroup :development do\n  gem \"devtool\"\nend\n"})
	for _, g := range []string{gemFile(t, "hello"), gemFile(t, "devtool")} {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, app, map[string]string{"vendor/cache/" + filepath.Base(g): string(data)})
	}
	// The app's Gemfile.lock, resolved offline from vendor/cache.
	scratch := t.TempDir()
	lock := exec.Command("bundle", "install", "--local", "--quiet")
	lock.Dir = app
	lock.Env = append(os.Environ(), "BUNDLE_PATH="+scratch, "BUNDLE_APP_CONFIG="+scratch)
	if out, err := lock.CombinedOutput(); err != nil {
		t.Fatalf("bundle install --local: %v\n%s", err, out)
	}
	source := t.TempDir() // each build starts from a clean export of it
	if out, err := exec.Command("cp", "-a", app+"/.", source).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	stateDir := t.TempDir()
	for i, want := range []string{"Installing hello 1.0.0", "Using hello 1.0.0"} { // the second from the gem cache
		os.RemoveAll(app)
		if out, err := exec.Command("cp", "-a", source, app).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		_, logs := mustBuild(t, app, Plan{Kind: Ruby}, Options{StateDir: stateDir, Slug: true})
		if !strings.Contains(logs.text(), "Running: bundle install") || !strings.Contains(logs.text(), want) || !strings.Contains(logs.text(), "Running: bundle clean") {
			t.Errorf("build %d: want %q:\n%s", i+1, want, logs.text())
		}
	}
	if _, err := os.Stat(filepath.Join(stateDir, "push", "cache", "bundle", "ruby")); err != nil {
		t.Errorf("no gem cache: %v", err)
	}
	cfg, _ := os.ReadFile(filepath.Join(app, ".bundle", "config"))
	for _, want := range []string{`BUNDLE_DEPLOYMENT: "true"`, `BUNDLE_PATH: "vendor/bundle"`, `BUNDLE_WITHOUT: "development:test"`, `BUNDLE_BIN: "vendor/bundle/bin"`} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf(".bundle/config lacks %s:\n%s", want, cfg)
		}
	}
	if devtool, _ := filepath.Glob(filepath.Join(app, SlugBundle, "ruby", "*", "gems", "devtool-*")); len(devtool) != 0 {
		t.Errorf("the development group was installed: %v", devtool)
	}

	// A dyno runs a copy of the slug elsewhere; the build directory is gone.
	dyno := filepath.Join(t.TempDir(), "web.1-x")
	if err := os.Rename(app, dyno); err != nil {
		t.Fatal(err)
	}
	env := SlugEnv(os.Environ(), dyno)
	for _, command := range []string{"hello", "bundle exec hello", "ruby -e 'require \"hello\"; puts M_hello.hi'"} {
		cmd := exec.Command("/bin/sh", "-c", command)
		cmd.Dir, cmd.Env = dyno, env
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "hello gem\n" {
			t.Errorf("%s in a copy of the slug: %v %q", command, err, out)
		}
	}
	if got, want := getenv(env, "GEM_PATH"), filepath.Join(dyno, SlugBundle, "ruby"); !strings.HasPrefix(got, want) {
		t.Errorf("GEM_PATH = %q, want %s/X.Y.Z", got, want)
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

// A pushed slug's dynos get its release's config vars (bin/release,
// NODE_ENV) where the app's own config does not set them.
func TestSlugEnvAddsTheSlugsReleaseConfigVars(t *testing.T) {
	t.Parallel()
	dyno := t.TempDir()
	if err := saveRelease(dyno, "", Release{ConfigVars: map[string]string{"NODE_ENV": "production", "FROM_BUILDPACK": "yes"}}); err != nil {
		t.Fatal(err)
	}
	env := SlugEnv([]string{"PATH=/bin", "NODE_ENV=development"}, dyno)
	if got := getenv(env, "FROM_BUILDPACK"); got != "yes" {
		t.Errorf("FROM_BUILDPACK = %q, want the release's yes", got)
	}
	if got := getenv(env, "NODE_ENV"); got != "development" {
		t.Errorf("NODE_ENV = %q: the app's own config var must win", got)
	}
	if got := getenv(SlugEnv([]string{"PATH=/bin"}, t.TempDir()), "FROM_BUILDPACK"); got != "" {
		t.Errorf("a slug without a release got FROM_BUILDPACK=%q", got)
	}
}
