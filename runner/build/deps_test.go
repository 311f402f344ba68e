package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The dependency tests need npm, python3 with venv and bundle, which CI
// installs (nodejs npm python3 python3-venv ruby-bundler); none of them
// reaches a registry: no dependencies are declared.

func TestNodeBuild(t *testing.T) {
	slow(t, "a real npm install and build")
	need(t, "npm")
	app := t.TempDir()
	writeFiles(t, app, map[string]string{
		"package.json": `{"name": "shop", "version": "1.0.0", "private": true,
  "scripts": {"build": "node -e \"require('fs').writeFileSync('built.txt', process.env.GREETING)\""}}`,
	})
	env := append(os.Environ(), "GREETING=from config")
	plan, _ := Detect(app)
	_, logs := mustBuild(t, app, plan, Options{Env: env})
	for _, want := range []string{"-----> Running: npm install --no-audit --no-fund", "-----> Running: npm run build"} {
		if !strings.Contains(logs.text(), want) {
			t.Errorf("first build should log %q:\n%s", want, logs.text())
		}
	}
	if data, _ := os.ReadFile(filepath.Join(app, "built.txt")); string(data) != "from config" {
		t.Fatalf("build script wrote %q, want the app's env", data)
	}

	// Nothing changed: no install; the build script runs every time.
	_, logs = mustBuild(t, app, plan, Options{Env: env})
	if !strings.Contains(logs.text(), "Dependencies unchanged: skipping npm ci") || strings.Contains(logs.text(), "Running: npm ci") {
		t.Errorf("second build should skip the install:\n%s", logs.text())
	}
	if !strings.Contains(logs.text(), "Running: npm run build") {
		t.Errorf("second build should run the build script:\n%s", logs.text())
	}

	// A new manifest: npm ci (the lockfile exists now); heroku-postbuild
	// wins over build.
	writeFiles(t, app, map[string]string{
		"package.json": `{"name": "shop", "version": "1.0.1", "private": true,
  "scripts": {"build": "exit 1", "heroku-postbuild": "node -e \"require('fs').writeFileSync('built.txt', 'postbuild')\""}}`,
	})
	_, logs = mustBuild(t, app, plan, Options{Env: env})
	if !strings.Contains(logs.text(), "Running: npm ci") || !strings.Contains(logs.text(), "Running: npm run heroku-postbuild") {
		t.Errorf("third build should npm ci and run heroku-postbuild:\n%s", logs.text())
	}
	if data, _ := os.ReadFile(filepath.Join(app, "built.txt")); string(data) != "postbuild" {
		t.Fatalf("built.txt = %q", data)
	}

	// A failing script fails the build, naming it.
	writeFiles(t, app, map[string]string{"package.json": `{"name": "shop", "scripts": {"build": "exit 4"}}`})
	_, err, _ := build(t, app, plan, Options{Env: env})
	if err == nil || !strings.Contains(err.Error(), "npm run build: exit status 4") {
		t.Fatalf("err = %v", err)
	}
}

func TestPythonBuild(t *testing.T) {
	slow(t, "a real venv and pip install")
	need(t, "python3")
	app := t.TempDir()
	state := t.TempDir()
	writeFiles(t, app, map[string]string{"requirements.txt": "# no dependencies\n", "app.py": "print('hi')\n"})
	plan, _ := Detect(app)
	_, logs := mustBuild(t, app, plan, Options{StateDir: state})
	for _, want := range []string{"Running: python3 -m venv", "Running: pip install -r requirements.txt"} {
		if !strings.Contains(logs.text(), want) {
			t.Errorf("first build should log %q:\n%s", want, logs.text())
		}
	}
	if _, err := os.Stat(filepath.Join(VenvBin(state), "python")); err != nil {
		t.Fatalf("no virtualenv: %v", err)
	}
	_, logs = mustBuild(t, app, plan, Options{StateDir: state})
	if !strings.Contains(logs.text(), "Requirements unchanged") || strings.Contains(logs.text(), "Running:") {
		t.Errorf("second build should do nothing:\n%s", logs.text())
	}
	writeFiles(t, app, map[string]string{"requirements.txt": "# still none, but changed\n"})
	_, logs = mustBuild(t, app, plan, Options{StateDir: state})
	if !strings.Contains(logs.text(), "Running: pip install -r requirements.txt") || strings.Contains(logs.text(), "venv") {
		t.Errorf("a changed requirements.txt should reinstall into the same venv:\n%s", logs.text())
	}
}

func TestRubyBuild(t *testing.T) {
	slow(t, "a real bundle install")
	need(t, "bundle")
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"Gemfile": "source \"https://rubygems.org\"\n"})
	plan, _ := Detect(app)
	_, logs := mustBuild(t, app, plan, Options{})
	if !strings.Contains(logs.text(), "Running: bundle install") {
		t.Errorf("first build should bundle install:\n%s", logs.text())
	}
	if _, err := os.Stat(filepath.Join(app, "Gemfile.lock")); err != nil {
		t.Fatal(err)
	}
	// bundle install wrote Gemfile.lock; that alone is no reason to reinstall.
	_, logs = mustBuild(t, app, plan, Options{})
	if !strings.Contains(logs.text(), "Gemfile.lock unchanged") {
		t.Errorf("second build should skip bundle install:\n%s", logs.text())
	}
}
