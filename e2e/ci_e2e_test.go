package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCI runs "dynobox ci" to completion: a first Postgres initdb on a busy
// machine takes up to a minute or two.
func runCI(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dynoboxBin, append([]string{"ci"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// ciApp is an app whose environments.test has an in-dyno Postgres, an env
// var, a test-setup that creates a table and a test that reads it (and
// leaves a background process behind, which must not survive the run).
func ciApp(t *testing.T, test string, extra string) string {
	testEnv := map[string]any{
		"addons": []string{"heroku-postgresql:in-dyno"},
		"env":    map[string]string{"GREETING": "hello ci"},
		"scripts": map[string]string{
			"test-setup": `psql "$DATABASE_URL" -qc "create table t(x int); insert into t values (40 + $CI_NODE_INDEX)"`,
			"test":       test,
		},
	}
	if extra != "" {
		if err := json.Unmarshal([]byte(extra), &testEnv); err != nil { // replaces extra's keys
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(map[string]any{"environments": map[string]any{"test": testEnv}})
	if err != nil {
		t.Fatal(err)
	}
	return writeApp(t, map[string]string{"app.json": string(data)})
}

// assertNothingLeft checks no process of the run and no add-on data
// remain. marker, when set, is a command line only this test's scripts
// start (each test its own: the tests run in parallel).
func assertNothingLeft(t *testing.T, dir, marker string) {
	t.Helper()
	if m, _ := filepath.Glob(filepath.Join(dir, ".dynobox", "ci-*")); len(m) > 0 {
		t.Errorf("test run data left behind: %v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, ".dynobox", "addons")); err == nil {
		t.Errorf("add-on data in the app's own state directory")
	}
	assertNoProcessLeft(t, dir, marker)
}

// assertNoProcessLeft checks no process runs in or on dir, or with marker
// in its command line.
func assertNoProcessLeft(t *testing.T, dir, marker string) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		s := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if strings.Contains(s, dir) || marker != "" && strings.Contains(s, marker) {
			t.Errorf("process %s still runs: %s", e.Name(), s)
		}
	}
}

func TestCIRunsTestEnvironmentWithThrowawayPostgres(t *testing.T) {
	t.Parallel()
	dir := ciApp(t, `sleep 3171 & echo "$GREETING $CI $CI_NODE_INDEX/$CI_NODE_TOTAL [$HEROKU_TEST_RUN_ID]"; psql "$DATABASE_URL" -Atc "select x from t"`, "")
	stdout, stderr, code := runCI(t, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	lines := strings.Split(stdout, "\n")
	if !strings.HasPrefix(lines[0], "hello ci true 0/1 [") || lines[1] != "40" {
		t.Fatalf("the test did not see its env, table and data:\n%s\n%s", stdout, stderr)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(lines[0], "hello ci true 0/1 ["), "]")
	if !strings.Contains(stdout, "Test run #1 succeeded in ") || !strings.Contains(stdout, "("+id+")") || !strings.Contains(stdout, "node.0: tests passed") {
		t.Fatalf("summary:\n%s", stdout)
	}
	assertNothingLeft(t, dir, "sleep 3171")

	// Recorded, as heroku ci lists runs: numbered, with status and duration.
	out, _, code := runDynobox(t, dir, "ci:list")
	if code != 0 || !strings.Contains(out, "#  Status") || !strings.Contains(out, "\n1  ✓ succeeded") {
		t.Fatalf("ci:list: exit %d\n%s", code, out)
	}
	out, _, code = runDynobox(t, dir, "ci:info", "1")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "Test run #1 succeeded") {
		t.Fatalf("ci:info 1: exit %d\n%s", code, out)
	}
	if _, stderr, code := runDynobox(t, dir, "ci:info", "7"); code != 2 || !strings.Contains(stderr, "no test run #7") {
		t.Fatalf("ci:info 7: exit %d\n%s", code, stderr)
	}
}

func TestCIFailingTestAndFailingSetup(t *testing.T) {
	t.Parallel()
	dir := ciApp(t, `psql "$DATABASE_URL" -Atc "select x from t"; printf '1..2\nok 1 - table\nnot ok 2 - greeting\n'; test "$GREETING" = "something else"`, "")
	stdout, stderr, code := runCI(t, dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "40\n") || !strings.Contains(stdout, " failed in ") || !strings.Contains(stdout, "node.0: tests failed (exit status 1)") ||
		!strings.Contains(stdout, "TAP: 1 passed, 1 failed, 0 skipped") {
		t.Fatalf("summary does not say the tests failed:\n%s", stdout)
	}
	assertNothingLeft(t, dir, "")
	// ci:info exits with the run's status.
	if out, _, code := runDynobox(t, dir, "ci:info"); code != 1 || !strings.Contains(out, "Test run #1 failed") {
		t.Fatalf("ci:info: exit %d, want 1\n%s", code, out)
	}

	// A failing test-setup is no test failure: the tests do not run.
	dir = ciApp(t, `echo TESTS RAN`, `{"scripts": {"test-setup": "echo setting up; exit 3", "test": "echo TESTS RAN"}}`)
	stdout, stderr, code = runCI(t, dir, "--json")
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, stdout, stderr)
	}
	var res struct {
		Status string
		Nodes  []struct{ Status, Phase string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if res.Status != "errored" || len(res.Nodes) != 1 || res.Nodes[0].Phase != "test-setup" {
		t.Fatalf("--json summary: %+v", res)
	}
	if strings.Contains(stderr, "TESTS RAN") || !strings.Contains(stderr, "setting up") {
		t.Fatalf("output:\n%s", stderr)
	}
	assertNothingLeft(t, dir, "")
}

func TestCIParallelNodesHaveTheirOwnDatabases(t *testing.T) {
	t.Parallel()
	// Each node's test-setup inserts 40+index; a shared database would
	// show two rows.
	dir := ciApp(t, `psql "$DATABASE_URL" -Atc "select count(*), max(x) from t"`, `{"formation": {"test": {"quantity": 2}}}`)
	stdout, stderr, code := runCI(t, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"node.0 | 1|40\n", "node.1 | 1|41\n", "node.0: tests passed", "node.1: tests passed"} {
		if !strings.Contains(stdout, want) {
			t.Fatalf("no %q in:\n%s", want, stdout)
		}
	}
	assertNothingLeft(t, dir, "")
}

func TestCIWithoutTestCommandNamesAppJSON(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"app.json": `{"environments": {"test": {"env": {"A": "b"}}}}`})
	_, stderr, code := runCI(t, dir)
	if code != 2 || !strings.Contains(stderr, "app.json") || !strings.Contains(stderr, `"scripts": {"test"`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

func TestCIInterruptedStopsEverything(t *testing.T) {
	t.Parallel()
	dir := ciApp(t, `echo TESTING; exec sleep 3173`, "")
	p := startDynobox(t, dir, "ci")
	p.waitOutputWithin("TESTING", 3*time.Minute)
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(); code != 130 {
		t.Fatalf("exit %d, want 130\n%s\n%s", code, p.out, p.err)
	}
	if !p.hasOutput("cancelled") {
		t.Fatalf("summary does not say the run was cancelled:\n%s", p.out)
	}
	assertNothingLeft(t, dir, "sleep 3173")
}

func TestCICommitTestsTheCommittedTree(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"app.json": `{"environments": {"test": {"scripts": {"test": "echo commit $HEROKU_TEST_RUN_COMMIT_VERSION on $HEROKU_TEST_RUN_BRANCH; test ! -e extra"}}}}`})
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.email=ci@example.com", "-c", "user.name=ci", "-c", "init.defaultBranch=main"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "app.json")
	git("commit", "-qm", "tests")
	head := git("rev-parse", "HEAD")
	// The work tree has a file the commit has not: the test fails there.
	os.WriteFile(filepath.Join(dir, "extra"), nil, 0o644)
	if stdout, stderr, code := runCI(t, dir); code != 1 {
		t.Fatalf("work tree: exit %d, want 1\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code := runCI(t, dir, "--commit", "HEAD")
	if code != 0 || !strings.HasPrefix(stdout, "commit "+head+" on main\n") {
		t.Fatalf("--commit HEAD: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".dynobox", "ci-*")); len(m) > 0 {
		t.Errorf("checkout left behind: %v", m)
	}
	if _, stderr, code := runCI(t, dir, "--commit", "no-such-ref"); code != 2 || !strings.Contains(stderr, "no-such-ref") {
		t.Fatalf("unknown ref: exit %d %s", code, stderr)
	}
	// ci:rerun runs #1 (a work tree run) again on its commit, as
	// heroku ci:rerun does: in a clean checkout, where it passes.
	out, stderr, code := runDynobox(t, dir, "ci:rerun", "1")
	if code != 0 || !strings.Contains(stderr, "Re-running test run #1 (commit "+head[:7]+")") || !strings.Contains(out, "Test run #3 succeeded") ||
		!strings.HasPrefix(out, "commit "+head+" on main\n") {
		t.Fatalf("ci:rerun 1: exit %d\n%s\n%s", code, out, stderr)
	}
	if out, _, code := runDynobox(t, dir, "ci:info", "1"); code != 1 {
		t.Fatalf("ci:info 1: exit %d, want 1\n%s", code, out)
	}
}

func TestCIRunsBesideARunningStartOfTheSameApp(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "worker: exec sleep 1000\n",
		"app.json": `{"addons": ["heroku-postgresql"], "environments": {"test": {
			"addons": ["heroku-postgresql:in-dyno"],
			"scripts": {"test-setup": "psql \"$DATABASE_URL\" -qc 'create table from_ci(x int)'", "test": "echo \"$DATABASE_URL\""}}}}`,
	})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(freePort(t)))
	p.waitOutputWithin("State changed from starting to up", 3*time.Minute)
	appURL, _, _ := runDynobox(t, dir, "config:get", "DATABASE_URL")
	stdout, stderr, code := runCI(t, dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	ciURL, _, _ := strings.Cut(stdout, "\n")
	if ciURL == "" || ciURL == strings.TrimSpace(appURL) {
		t.Fatalf("the test run used the app's database %q:\n%s", appURL, stdout)
	}
	out, _, _ := runDynobox(t, dir, "pg:psql", "-c", "select count(*) from pg_tables where tablename = 'from_ci'")
	if !strings.Contains(out, "0") {
		t.Fatalf("the test run's table is in the app's database:\n%s", out)
	}
	if !p.hasOutput("worker.1") || p.exited() {
		t.Fatalf("the running app was disturbed:\n%s", p.out)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".dynobox", "ci-*")); len(m) > 0 {
		t.Errorf("test run data left behind: %v", m)
	}
	stopApp(t, p)
	assertNoProcessLeft(t, dir, "")
}

func TestCIBuildsAndRunsTheLanguagesDefaultTests(t *testing.T) {
	t.Parallel()
	// No app.json: a Go app is built as a deploy would, then go test ./...
	dir := writeApp(t, map[string]string{
		"go.mod":       "module citest\n\ngo 1.21\n",
		"main.go":      "package main\n\nfunc main() {}\n\nfunc two() int { return 2 }\n",
		"main_test.go": "package main\n\nimport \"testing\"\n\nfunc TestTwo(t *testing.T) {\n\tif two() != 2 {\n\t\tt.Fatal(\"two\")\n\t}\n}\n",
	})
	before := treeDigest(t, dir)
	stdout, stderr, code := runCI(t, dir)
	if code != 0 || !strings.Contains(stdout, "running go test ./...") || !strings.Contains(stdout, "ok  \tcitest") ||
		!strings.Contains(stdout, "build (Go)") || !strings.Contains(stdout, "tests passed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Built and tested in a private copy: the app directory (but for its
	// state directory, where the run is recorded) is byte for byte as it was.
	if after := treeDigest(t, dir); after != before {
		t.Errorf("dynobox ci changed the app directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// A build that fails is no test failure: nothing runs.
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { syntax error }\n"), 0o644)
	stdout, stderr, code = runCI(t, dir)
	if code != 1 || !strings.Contains(stdout, "errored") || !strings.Contains(stdout, "build failed") || strings.Contains(stdout, "tests passed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	assertNothingLeft(t, dir, "")
}

// treeDigest lists every file, directory and symlink under dir but for
// .dynobox, with its mode, size and content hash.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == ".dynobox" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		fmt.Fprintf(&b, "%s %v %d %s\n", rel, info.Mode(), info.Size(), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCIRequiredEnvVarAndForeignBuildpackAreInputErrors(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"app.json": `{"environments": {"test": {
		"env": {"DYNOBOX_E2E_CI_API_KEY": {"required": true}, "SECRET_KEY_BASE": {"generator": "secret"}},
		"scripts": {"test": "echo key=$DYNOBOX_E2E_CI_API_KEY secret=${#SECRET_KEY_BASE}"}}}}`})
	_, stderr, code := runCI(t, dir)
	if code != 2 || !strings.Contains(stderr, "app.json environments.test") || !strings.Contains(stderr, `"DYNOBOX_E2E_CI_API_KEY"`) {
		t.Fatalf("missing required var: exit %d\n%s", code, stderr)
	}
	// Set in the environment of dynobox ci, as a CI secret is: it runs.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dynoboxBin, "ci")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DYNOBOX_E2E_CI_API_KEY=k1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "key=k1 secret=64") {
		t.Fatalf("with the var set: %v\n%s", err, out)
	}

	dir = writeApp(t, map[string]string{"app.json": `{"environments": {"test": {
		"buildpacks": [{"url": "heroku-community/apt"}], "scripts": {"test": "true"}}}}`})
	if _, stderr, code := runCI(t, dir); code != 2 || !strings.Contains(stderr, "buildpacks[0]") || !strings.Contains(stderr, "heroku-community/apt") {
		t.Fatalf("foreign buildpack: exit %d\n%s", code, stderr)
	}
}

func TestCINodeModulesCacheBetweenRuns(t *testing.T) {
	t.Parallel()
	// A local file: dependency: npm installs it without a registry.
	dir := writeApp(t, map[string]string{
		"package.json":       `{"name": "citest", "version": "1.0.0", "dependencies": {"greet": "file:./greet"}}`,
		"greet/package.json": `{"name": "greet", "version": "1.0.0", "main": "index.js"}`,
		"greet/index.js":     `exports.hi = "hi from greet";`,
		"app.json":           `{"environments": {"test": {"scripts": {"test": "node -e 'console.log(require(\"greet\").hi)'"}}}}`,
	})
	lock := exec.Command("npm", "install", "--package-lock-only", "--no-audit", "--no-fund")
	lock.Dir = dir
	if out, err := lock.CombinedOutput(); err != nil {
		t.Fatalf("npm install --package-lock-only: %v\n%s", err, out)
	}
	before := treeDigest(t, dir)
	stdout, stderr, code := runCI(t, dir)
	if code != 0 || !strings.Contains(stdout, "npm ci") || !strings.Contains(stdout, "hi from greet") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, err := os.Lstat(filepath.Join(dir, ".dynobox", "test-cache", "node_modules", "greet")); err != nil { // a symlink to ../greet
		t.Fatalf("node_modules not cached: %v", err)
	}
	// The second run finds node_modules in the cache: no install.
	stdout, stderr, code = runCI(t, dir)
	if code != 0 || !strings.Contains(stdout, "Dependencies unchanged") || !strings.Contains(stdout, "hi from greet") {
		t.Fatalf("second run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if after := treeDigest(t, dir); after != before {
		t.Errorf("dynobox ci changed the app directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	assertNothingLeft(t, dir, "")
}
