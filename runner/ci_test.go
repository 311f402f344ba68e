package runner

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dynobox/dynobox/runner/build"
)

func writeCIApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadTestEnvReadsEnvironmentsTest(t *testing.T) {
	dir := writeCIApp(t, map[string]string{"app.json": `{
		"addons": ["heroku-redis"],
		"env": {"TOP": {"required": true}},
		"environments": {"test": {
			"addons": ["heroku-postgresql:in-dyno", {"plan": "heroku-redis:in-dyno", "as": "CACHE"}],
			"env": {"RAILS_ENV": "test"},
			"formation": {"test": {"quantity": 3}},
			"scripts": {"test-setup": "make db", "test": "make test"}}}}`})
	te, err := LoadTestEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The top-level addons and env are the app's, not the test run's.
	if len(te.Addons) != 2 || te.Addons[0].Plan != "heroku-postgresql:in-dyno" || te.Addons[1].As != "CACHE" {
		t.Errorf("addons %+v", te.Addons)
	}
	if len(te.Env) != 1 || te.Env["RAILS_ENV"] != "test" {
		t.Errorf("env %v", te.Env)
	}
	if te.Setup != "make db" || te.Test != "make test" || te.Nodes != 3 || te.Defaulted {
		t.Errorf("%+v", te)
	}
}

func TestLoadTestEnvDefaultsPerLanguage(t *testing.T) {
	for _, c := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"go.mod": "module x\n"}, "go test ./..."},
		{map[string]string{"package.json": "{}", "app.json": `{"environments": {"test": {}}}`}, "npm test"},
		{map[string]string{"Gemfile": "", "spec/a_spec.rb": ""}, "bundle exec rspec"},
		{map[string]string{"Gemfile": ""}, "bundle exec rake test"},
		{map[string]string{"pom.xml": "<project/>"}, "mvn -B test"},
		{map[string]string{"pom.xml": "<project/>", "mvnw": "#!/bin/sh\n"}, "./mvnw -B test"},
		{map[string]string{"build.gradle": "", "gradlew": "#!/bin/sh\n"}, "./gradlew test"},
		{map[string]string{"build.sbt": ""}, "sbt test"},
		{map[string]string{"project.clj": ""}, "lein test"},
	} {
		te, err := LoadTestEnv(writeCIApp(t, c.files))
		if err != nil || te.Test != c.want || !te.Defaulted || te.Nodes != 1 {
			t.Errorf("%v: %+v, %v; want %q", c.files, te, err, c.want)
		}
	}
}

func TestLoadTestEnvWithoutTestCommandIsInputError(t *testing.T) {
	for _, files := range []map[string]string{
		{"requirements.txt": ""},
		{"app.json": `{"environments": {"test": {"scripts": {"test-setup": "x"}}}}`},
		{"app.json": `{"environments": {"test": {"addons": ["heroku-mysql"], "scripts": {"test": "x"}}}}`},
	} {
		_, err := LoadTestEnv(writeCIApp(t, files))
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), "app.json") {
			t.Errorf("%v: %v, want an InputError naming app.json", files, err)
		}
	}
}

func TestPrefixWriterPrefixesWholeLines(t *testing.T) {
	var b bytes.Buffer
	w := newPrefixWriter(&b, 1)
	w.Write([]byte("a\nb"))
	w.Write([]byte("c\nd"))
	flushPrefix(w)
	if got := b.String(); got != "node.1 | a\nnode.1 | bc\nnode.1 | d\n" {
		t.Fatalf("%q", got)
	}
}

func TestTAPCounterCountsTopLevelTestLines(t *testing.T) {
	var out bytes.Buffer
	c := &tapCounter{w: &out}
	in := "TAP version 13\n1..6\nok 1 - a\nnot ok 2 - b\n    not ok 1 - subtest\nok 3 # SKIP no db\nnot ok 4 # TODO later\nok 5\r\nnot o"
	c.Write([]byte(in[:20]))
	c.Write([]byte(in[20:]))
	c.Write([]byte("k 6\nnot a test line\n"))
	if c.count != (TAPCount{Passed: 2, Failed: 2, Skipped: 1}) || !c.seen {
		t.Fatalf("%+v", c.count)
	}
	if out.String() != in+"k 6\nnot a test line\n" {
		t.Fatalf("output changed: %q", out.String())
	}
	plain := &tapCounter{w: &out}
	plain.Write([]byte("PASS\nok  \tgithub.com/x\t0.1s\n"))
	if plain.seen {
		t.Fatal("go test's output taken for TAP")
	}
}

func TestMakeCIDirRemovesDirectoriesOfDeadRuns(t *testing.T) {
	sd, err := OpenStateDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for name, owner := range map[string]int{"ci-dead": dead.Process.Pid, "ci-live": os.Getpid()} {
		os.MkdirAll(filepath.Join(sd.Path, name, "node-0"), 0o700)
		os.WriteFile(filepath.Join(sd.Path, name, ciOwnerFile), []byte(strconv.Itoa(owner)), 0o600)
	}
	os.MkdirAll(filepath.Join(sd.Path, "ci-starting"), 0o700) // no owner yet, but new
	dir, err := makeCIDir(sd, "ci-x-")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"ci-dead": false, "ci-live": true, "ci-starting": true, filepath.Base(dir): true} {
		if _, err := os.Stat(filepath.Join(sd.Path, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
}

func TestLoadTestEnvBuildpacksChooseTheLanguage(t *testing.T) {
	// A Go module with a package.json (assets) detects as Node.js; the
	// test environment's buildpacks say Go.
	dir := writeCIApp(t, map[string]string{"go.mod": "module x\n", "package.json": "{}",
		"app.json": `{"environments": {"test": {"buildpacks": [{"url": "heroku/nodejs"}, {"url": "https://github.com/heroku/heroku-buildpack-go"}]}}}`})
	te, err := LoadTestEnv(dir)
	if err != nil || te.Build == nil || te.Build.Kind != build.Go || te.Test != "go test ./..." {
		t.Fatalf("%+v %v", te, err)
	}
	for url, want := range map[string]build.Kind{"heroku/nodejs": build.Node, "https://github.com/heroku/heroku-buildpack-ruby.git": build.Ruby,
		"heroku/python": build.Python, "heroku/go": build.Go, "heroku/java": build.Java, "https://github.com/heroku/heroku-buildpack-apt": ""} {
		if got, _ := build.BuiltinKind(url); got != want {
			t.Errorf("%s: %q, want %q", url, got, want)
		}
	}
	// A buildpack dynobox does not have is an input error naming it.
	dir = writeCIApp(t, map[string]string{"go.mod": "module x\n",
		"app.json": `{"environments": {"test": {"buildpacks": [{"url": "heroku/go"}, {"url": "https://github.com/heroku/heroku-buildpack-apt"}]}}}`})
	_, err = LoadTestEnv(dir)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "app.json environments.test buildpacks[1]") || !strings.Contains(err.Error(), "heroku-buildpack-apt") {
		t.Fatalf("unknown buildpack: %v", err)
	}
}

func TestLoadTestEnvResolvesEnvAsAppJSONDoes(t *testing.T) {
	t.Setenv("DYNOBOX_CI_FROM_OS", "from os")
	dir := writeCIApp(t, map[string]string{"app.json": `{"environments": {"test": {
		"env": {"PLAIN": "v", "SECRET_KEY_BASE": {"generator": "secret"},
			"DYNOBOX_CI_FROM_OS": {"required": true}, "OPTIONAL": {"required": false}},
		"scripts": {"test": "true"}}}}`})
	te, err := LoadTestEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	if te.Env["PLAIN"] != "v" || len(te.Env["SECRET_KEY_BASE"]) != 64 {
		t.Errorf("env %v", te.Env)
	}
	if _, ok := te.Env["DYNOBOX_CI_FROM_OS"]; ok { // the environment's value stays
		t.Errorf("env %v", te.Env)
	}
	if env := envMap(ComposeEnv(nil, te.Env, nil)); env["DYNOBOX_CI_FROM_OS"] != "from os" {
		t.Errorf("the test would see DYNOBOX_CI_FROM_OS=%q", env["DYNOBOX_CI_FROM_OS"])
	}

	// A required var that nothing sets: exit 2, naming app.json and the var.
	dir = writeCIApp(t, map[string]string{"app.json": `{"environments": {"test": {
		"env": {"DYNOBOX_CI_UNSET_VAR": {"required": true, "description": "the key"}}, "scripts": {"test": "true"}}}}`})
	_, err = LoadTestEnv(dir)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "app.json environments.test") ||
		!strings.Contains(err.Error(), `"DYNOBOX_CI_UNSET_VAR"`) || strings.Contains(err.Error(), "set it in .env") {
		t.Fatalf("missing required var: %v", err)
	}
}

func TestCopyWorkTreeAndTestCache(t *testing.T) {
	app := writeCIApp(t, map[string]string{"a/b.txt": "b", "run.sh": "#!/bin/sh\n", ".git/HEAD": "x",
		"node_modules/m/index.js": "m", ".dynobox/state": "s", "a/node_modules/keep.js": "k"})
	os.Chmod(filepath.Join(app, "run.sh"), 0o755)
	os.Symlink("a/b.txt", filepath.Join(app, "link"))
	sd, err := OpenStateDir(filepath.Join(app, ".dynobox"))
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if err := copyWorkTree(app, dest, sd.Path); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a/b.txt": true, "run.sh": true, "link": true, "a/node_modules/keep.js": true,
		".git": false, "node_modules": false, ".dynobox": false} {
		if _, err := os.Lstat(filepath.Join(dest, name)); (err == nil) != want {
			t.Errorf("%s copied: %v, want %v", name, err == nil, want)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dest, "run.sh")); fi == nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode not kept: %v", fi)
	}
	if l, _ := os.Readlink(filepath.Join(dest, "link")); l != "a/b.txt" {
		t.Errorf("symlink %q", l)
	}

	// node_modules and its stamp go to the cache after a run and come
	// back for the next.
	buildState := t.TempDir()
	os.MkdirAll(filepath.Join(dest, "node_modules", "m"), 0o755)
	os.MkdirAll(filepath.Join(buildState, "deps"), 0o700)
	os.WriteFile(filepath.Join(buildState, nodeStamp), []byte("stamp"), 0o600)
	saveTestCache(sd, dest, buildState)
	if _, err := os.Stat(filepath.Join(sd.Path, ciTestCache, "node_modules", "m")); err != nil {
		t.Fatalf("not cached: %v", err)
	}
	next, nextState := t.TempDir(), t.TempDir()
	restoreTestCache(sd, next, nextState)
	if _, err := os.Stat(filepath.Join(next, "node_modules", "m")); err != nil {
		t.Fatalf("not restored: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(nextState, nodeStamp)); string(data) != "stamp" {
		t.Fatalf("stamp %q", data)
	}
}
