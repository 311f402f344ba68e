package build

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// Where a slug build installs dependencies, relative to the slug's root, as
// Heroku's buildpacks do under /app.
const (
	SlugVenv   = ".heroku/python" // the Python virtualenv
	SlugBundle = "vendor/bundle"  // Bundler's gems
)

// SlugEnv adds what a slug build installed in dir (a slug or a copy of it)
// to env: its virtualenv first on PATH, as VIRTUAL_ENV; its gems as
// Heroku's Ruby buildpack sets them, GEM_PATH at vendor/bundle/ruby/X.Y.Z
// and bin/, the binstubs and the gems' executables first on PATH (the
// slug's .bundle/config tells bundle exec the rest). The config vars of
// the slug's release (a buildpack's bin/release, a built-in's runtime
// defaults) are added where env does not set them, as ReleaseEnv does for
// a work-tree build.
func SlugEnv(env []string, dir string) []string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	env = ReleaseEnv(env, filepath.Join(dir, ".dynobox"))
	venv := filepath.Join(dir, SlugVenv)
	if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err == nil {
		bin := filepath.Join(venv, "bin")
		env = setenv(setenv(env, "VIRTUAL_ENV", venv), "PATH", bin+string(os.PathListSeparator)+getenv(env, "PATH"))
	}
	if gems, _ := filepath.Glob(filepath.Join(dir, SlugBundle, "ruby", "*")); len(gems) > 0 {
		gemPath := gems[len(gems)-1] // one Ruby per slug; the newest if several
		path := strings.Join([]string{filepath.Join(dir, "bin"), filepath.Join(dir, SlugBundle, "bin"), filepath.Join(gemPath, "bin"), getenv(env, "PATH")}, string(os.PathListSeparator))
		env = setenv(setenv(env, "GEM_PATH", gemPath), "PATH", path)
	}
	return env
}

// relocateScripts makes the scripts pip wrote into venv/bin (gunicorn,
// flask, pip itself) run the python next to them rather than the one at
// the absolute path they were built with: each dyno runs its own copy of
// the slug, elsewhere. Their first line, #!VENV/bin/python, becomes a
// /bin/sh trampoline that Python reads as a string literal (pip's own form
// for long paths, made relative).
func relocateScripts(venv string) error {
	bin := filepath.Join(venv, "bin")
	entries, err := os.ReadDir(bin)
	if err != nil {
		return err
	}
	abs := []byte(bin + "/")
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(bin, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out, ok := relocated(data, abs)
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, out, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// relocated rewrites a script whose interpreter is under bin (ending in
// /): a #!BIN/python line, or pip's /bin/sh form that execs "BIN/python".
func relocated(data, bin []byte) ([]byte, bool) {
	first, rest, _ := bytes.Cut(data, []byte("\n"))
	if interp, ok := bytes.CutPrefix(first, append([]byte("#!"), bin...)); ok && len(bytes.Fields(interp)) == 1 {
		tramp := "#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/" + string(interp) + "\" \"$0\" \"$@\"\n' '''\n"
		return append([]byte(tramp), rest...), true
	}
	old := append([]byte(`'''exec' "`), bin...)
	if string(first) == "#!/bin/sh" && bytes.Contains(data, old) {
		return bytes.Replace(data, old, []byte(`'''exec' "$(dirname -- "$0")/`), 1), true
	}
	return data, false
}
