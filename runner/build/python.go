package build

import (
	"context"
	"os"
	"path/filepath"
)

// VenvBin is the bin directory of the app's virtualenv, to put first on
// the PATH of Python dynos.
func VenvBin(stateDir string) string { return filepath.Join(stateDir, "venv", "bin") }

// RuntimeEnv adds what a build installed for the app's processes to env:
// the virtualenv (VIRTUAL_ENV, its bin first on PATH) once a Python build
// made one, as Heroku's Python buildpack puts its Python first on PATH;
// the JAVA_OPTS default once a JVM build ran (java.go).
func RuntimeEnv(env []string, stateDir string) []string {
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	env = jvmRuntimeEnv(env, stateDir)
	venv := filepath.Join(stateDir, "venv")
	if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err != nil {
		return env
	}
	return setenv(setenv(env, "VIRTUAL_ENV", venv), "PATH", VenvBin(stateDir)+string(os.PathListSeparator)+getenv(env, "PATH"))
}

// pythonManifests are what an install depends on.
var pythonManifests = []string{"requirements.txt", "pyproject.toml", "setup.py", "setup.cfg"}

// pythonBuild makes a virtualenv in the state directory (once) and installs
// requirements.txt into it, or else the project itself (pyproject.toml or
// setup.py, editable, so code edits need no reinstall), when those files
// changed since the last successful install.
//
// A slug build makes the virtualenv inside the slug, at .heroku/python,
// installs the project itself non-editable (an editable install points at
// the build directory), and makes the virtualenv's scripts relocatable.
func (b *builder) pythonBuild(ctx context.Context) error {
	venv := filepath.Join(b.stateDir, "venv")
	if b.slug {
		venv = filepath.Join(b.appDir, SlugVenv)
	}
	python := filepath.Join(venv, "bin", "python")

	fresh := false
	if _, err := os.Stat(python); err != nil {
		s := b.step("python3 -m venv "+b.rel(venv), "python3", "-m", "venv", venv)
		if err := b.exec(ctx, s); err != nil {
			return err
		}
		fresh = true
	}

	pip := []string{python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"}
	var install []string
	var label string
	switch {
	case b.exists("requirements.txt"):
		install, label = append(pip, "-r", "requirements.txt"), "pip install -r requirements.txt"
	case b.exists("pyproject.toml") || b.exists("setup.py"):
		install, label = append(pip, "-e", "."), "pip install -e ."
		if b.slug {
			install, label = append(pip, "."), "pip install ."
		}
	default:
		b.out.line("-----> No requirements.txt, pyproject.toml or setup.py: nothing to install")
		return nil
	}
	// The interpreter is part of the stamp: a new Python needs a reinstall.
	py, _ := lookPath("python3", b.env)
	if real, err := filepath.EvalSymlinks(py); err == nil {
		py = real
	}
	stamp := b.stampOf([]string{py}, pythonManifests...)
	if !fresh && b.stampMatches(Python, stamp) {
		b.out.line("-----> Requirements unchanged: skipping " + label)
		return nil
	}
	s := b.step(label, install...)
	s.env = RuntimeEnv(b.env, b.stateDir)
	if b.slug {
		s.env = SlugEnv(b.env, b.appDir)
	}
	if err := b.exec(ctx, s); err != nil {
		return err
	}
	if b.slug {
		return relocateScripts(venv)
	}
	return b.saveStamp(Python, stamp)
}

func (b *builder) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(b.appDir, rel))
	return err == nil
}

// rel shortens a path under the app directory for the log.
func (b *builder) rel(p string) string {
	if r, err := filepath.Rel(b.appDir, p); err == nil && filepath.IsLocal(r) {
		return r
	}
	return p
}
