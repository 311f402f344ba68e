package runner

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/build"
)

// TestEnv is app.json's environments.test, as Heroku CI reads it.
type TestEnv struct {
	Addons    []addons.Spec
	Env       map[string]string
	Setup     string // scripts.test-setup ("" for none)
	Test      string // scripts.test, else the language's default
	Nodes     int    // formation.test.quantity (parallel nodes), at least 1
	Defaulted bool   // Test is the detected language's default
	// Build is the language of environments.test.buildpacks (the last
	// one dynobox builds); nil: detected from the app's files.
	Build *build.Plan
}

// LoadTestEnv reads appDir/app.json's environments.test. Without
// scripts.test, Heroku CI's default for the detected language applies
// where there is one; else it is an InputError naming app.json.
func LoadTestEnv(appDir string) (*TestEnv, error) {
	path := filepath.Join(appDir, "app.json")
	var raw []byte
	if aj, err := procfile.ReadAppJSON(path); err == nil {
		raw = aj.Environments["test"]
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, &InputError{err}
	}
	te := &TestEnv{Env: map[string]string{}, Nodes: 1}
	if len(raw) > 0 {
		// environments.test has app.json's own shape: parse it as one.
		sub, err := procfile.ParseAppJSON(path+" environments.test", raw)
		if err != nil {
			return nil, &InputError{err}
		}
		taken := map[string]bool{}
		for i, a := range sub.Addons {
			spec := addons.Spec{Plan: a.Plan, As: a.As}
			if p, ok := a.Options["plaintext"].(bool); ok {
				spec.Plaintext = p
			}
			if err := spec.Validate(); err != nil {
				return nil, &InputError{fmt.Errorf("%s environments.test addons[%d]: %w", path, i, err)}
			}
			taken[spec.Name(taken)] = true
			te.Addons = append(te.Addons, spec)
		}
		// As app.json's env anywhere: a var dynobox's environment has
		// wins (that is how a CI secret comes in), a missing one takes
		// its value or a fresh generator:"secret", a missing required
		// one is an error.
		env, err := sub.ResolveEnv(envMap(os.Environ()), nil)
		if err != nil {
			return nil, &InputError{ciEnvHint(err)}
		}
		te.Env = env
		te.Setup = sub.Scripts["test-setup"]
		te.Test = sub.Scripts["test"]
		if f, ok := sub.Formation["test"]; ok && f.Quantity > 1 {
			te.Nodes = f.Quantity
		}
		for i, bp := range sub.Buildpacks {
			k, ok := build.BuiltinKind(bp.URL)
			if !ok {
				return nil, &InputError{fmt.Errorf("%s environments.test buildpacks[%d]: dynobox cannot run the buildpack %q: it builds with its own heroku/go, heroku/nodejs, heroku/python, heroku/ruby, heroku/java, heroku/gradle, heroku/scala, heroku/clojure and heroku/php; remove the others from environments.test.buildpacks (or install what they add on this machine)", path, i, bp.URL)}
			}
			te.Build = &build.Plan{Kind: k} // the last language wins
		}
	}
	if te.Test == "" {
		plan, err := te.plan(appDir)
		if err != nil {
			return nil, err
		}
		te.Test = defaultTestCommand(appDir, plan.Kind)
		if te.Test == "" {
			lang := plan.String()
			if plan.Kind == build.None {
				lang = "no language detected"
			}
			return nil, &InputError{fmt.Errorf(`%s: no test command: add "environments": {"test": {"scripts": {"test": "COMMAND"}}} (dynobox knows no default test command for this app: %s)`, path, lang)}
		}
		te.Defaulted = true
	}
	return te, nil
}

// plan is how the run builds the app in appDir.
func (te *TestEnv) plan(appDir string) (build.Plan, error) {
	if te.Build != nil {
		return *te.Build, nil
	}
	return build.Detect(appDir)
}

// ciEnvHint turns ResolveEnv's "set it in .env" (dynobox ci reads no
// .env: the test environment is app.json's) into how to set a var for
// a test run.
func ciEnvHint(err error) error {
	var list procfile.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	out := make(procfile.ErrorList, len(list))
	for i, p := range list {
		p.Msg = strings.Replace(p.Msg, "; set it in .env", "; give it a value in environments.test.env, or set it in the environment of dynobox ci", 1)
		out[i] = p
	}
	return out
}

// defaultTestCommand is the test command Heroku CI's buildpack for kind
// runs when app.json names none ("" when it has none).
func defaultTestCommand(appDir string, kind build.Kind) string {
	switch kind {
	case build.Go:
		return "go test ./..."
	case build.Node:
		return "npm test"
	case build.Ruby:
		if fi, err := os.Stat(filepath.Join(appDir, "spec")); err == nil && fi.IsDir() {
			return "bundle exec rspec"
		}
		return "bundle exec rake test"
	case build.Java: // Heroku's Java buildpack's bin/test
		return wrapperOr(appDir, "mvnw", "mvn") + " -B test"
	case build.Gradle:
		return wrapperOr(appDir, "gradlew", "gradle") + " test"
	case build.Scala:
		return wrapperOr(appDir, "sbt", "sbt") + " test"
	case build.Clojure:
		return "lein test"
	}
	return ""
}

// wrapperOr is the project's own wrapper script (./mvnw) when it has one,
// else the installed tool.
func wrapperOr(appDir, wrapper, tool string) string {
	if fi, err := os.Stat(filepath.Join(appDir, wrapper)); err == nil && fi.Mode().IsRegular() {
		return "./" + wrapper
	}
	return tool
}

// CI statuses, as Heroku CI names a test run's.
const (
	CISucceeded = "succeeded"
	CIFailed    = "failed"
	CIErrored   = "errored"   // the build, an add-on or test-setup failed: no test verdict
	CICancelled = "cancelled" // interrupted (ctx cancelled)
)

// CIRun is one "dynobox ci" run: the app built from its work tree, then on
// each node fresh throwaway add-ons, test-setup and test.
type CIRun struct {
	AppDir   string
	StateDir *StateDir
	Session  string
	Test     *TestEnv
	// Branch and Commit describe AppDir for HEROKU_TEST_RUN_*; with
	// Commit empty, AppDir's git work tree says.
	Branch, Commit string
	// Stdout and Stderr receive the build's and the scripts' output; with
	// more than one node each line carries its node's prefix.
	Stdout, Stderr io.Writer
}

// CINode is how one node's run went.
type CINode struct {
	Index    int           `json:"index"`
	Status   string        `json:"status"`
	Phase    string        `json:"phase,omitempty"` // what errored: "addons" or "test-setup"
	Exit     int           `json:"exit_status"`
	Setup    time.Duration `json:"setup_duration"`
	Test     time.Duration `json:"test_duration"`
	Duration time.Duration `json:"duration"`
	Error    string        `json:"error,omitempty"`
	TAP      *TAPCount     `json:"tap,omitempty"` // when the test printed TAP
}

// CIResult is a finished test run.
type CIResult struct {
	Number   int           `json:"number"` // #N, given when the run is recorded
	ID       string        `json:"id"`
	Branch   string        `json:"branch,omitempty"`
	Commit   string        `json:"commit_version,omitempty"`
	Command  string        `json:"command"`
	Status   string        `json:"status"`
	Phase    string        `json:"phase,omitempty"` // "build" when the build failed
	Error    string        `json:"error,omitempty"`
	Exit     int           `json:"exit_status"`
	Started  time.Time     `json:"started_at"`
	Built    string        `json:"build,omitempty"` // what was built ("Go"); "" for nothing
	Build    time.Duration `json:"build_duration"`
	Duration time.Duration `json:"duration"`
	Nodes    []CINode      `json:"nodes"`
	// FromCommit says the run tested Commit's clean checkout (--commit),
	// not the work tree.
	FromCommit bool `json:"from_commit,omitempty"`
}

// Run builds the app and runs the nodes at once, each with its own add-ons
// under a private directory that is deleted afterwards, whatever happened.
// Failures of the run itself are in the result, not the error: the error
// is for what stopped dynobox from running it at all.
func (r *CIRun) Run(ctx context.Context) (*CIResult, error) {
	res := &CIResult{ID: newRunID(), Started: time.Now(), Command: r.Test.Test}
	res.Branch, res.Commit, res.FromCommit = r.Branch, r.Commit, r.Commit != ""
	if r.Commit == "" {
		res.Branch = gitOutput(r.AppDir, "rev-parse", "--abbrev-ref", "HEAD")
		res.Commit = gitOutput(r.AppDir, "rev-parse", "HEAD")
	}
	dir, err := makeCIDir(r.StateDir, "ci-"+res.ID[:8]+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	defer func() { res.Duration = time.Since(res.Started) }()

	out := &lockedWriter{w: r.Stdout, mu: new(sync.Mutex)}
	errw := &lockedWriter{w: r.Stderr, mu: out.mu}
	base := ComposeEnv(nil, r.Test.Env, nil)
	base = append(base, "CI=true", "HEROKU_TEST_RUN_ID="+res.ID,
		"HEROKU_TEST_RUN_BRANCH="+res.Branch, "HEROKU_TEST_RUN_COMMIT_VERSION="+res.Commit)

	// The build, once for every node: they share its tree. That is a
	// private copy of the work tree (a --commit checkout is already one),
	// so that neither the build nor the tests write into the app.
	src := r.AppDir
	if !res.FromCommit {
		src = filepath.Join(dir, "src")
		if err := os.Mkdir(src, 0o700); err != nil {
			return nil, err
		}
		if err := copyWorkTree(r.AppDir, src, r.StateDir.Path); err != nil {
			return nil, fmt.Errorf("copy the work tree for the test run: %w", err)
		}
	}
	plan, err := r.Test.plan(src)
	if err != nil {
		return nil, err
	}
	if plan.Kind == build.Node {
		restoreTestCache(r.StateDir, src, dir)
		defer saveTestCache(r.StateDir, src, dir)
	}
	if plan.Kind != build.None {
		res.Built = plan.String()
		bres, err := build.Run(ctx, plan, build.Options{
			AppDir: src, StateDir: dir, Keep: 1,
			Env: append(base[:len(base):len(base)], SessionVar+"="+r.Session),
			Log: func(line string) { fmt.Fprintln(out, line) },
		})
		res.Build = bres.Duration
		if err != nil {
			res.Status, res.Phase, res.Error, res.Exit = CIErrored, "build", err.Error(), 1
			if ctx.Err() != nil {
				res.Status, res.Exit = CICancelled, cancelledExit
			}
			return res, nil
		}
	}

	res.Nodes = make([]CINode, r.Test.Nodes)
	var wg sync.WaitGroup
	for i := range res.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var o, e io.Writer = out, errw
			if r.Test.Nodes > 1 {
				o, e = newPrefixWriter(out, i), newPrefixWriter(errw, i)
			}
			res.Nodes[i] = r.runNode(ctx, i, src, filepath.Join(dir, "node-"+strconv.Itoa(i)), base, o, e)
			flushPrefix(o)
			flushPrefix(e)
		}()
	}
	wg.Wait()
	res.Status = CISucceeded
	for _, n := range res.Nodes {
		switch {
		case n.Status == CICancelled:
			res.Status = CICancelled
		case n.Status == CIErrored && res.Status != CICancelled:
			res.Status = CIErrored
		case n.Status == CIFailed && res.Status == CISucceeded:
			res.Status = CIFailed
		}
		if res.Exit == 0 && n.Exit != 0 {
			res.Exit = n.Exit
		}
	}
	return res, nil
}

// runNode starts node index's add-ons under dir, runs test-setup and then
// test in the built tree src, and stops the add-ons.
func (r *CIRun) runNode(ctx context.Context, index int, src, dir string, base []string, stdout, stderr io.Writer) (n CINode) {
	n = CINode{Index: index, Status: CIErrored, Exit: 1}
	start := time.Now()
	defer func() {
		n.Duration = time.Since(start)
		if ctx.Err() != nil { // whatever failed, it was the interrupt
			n.Status, n.Exit = CICancelled, cancelledExit
		}
	}()
	env := base[:len(base):len(base)]
	env = append(env, "CI_NODE_TOTAL="+strconv.Itoa(r.Test.Nodes), "CI_NODE_INDEX="+strconv.Itoa(index))

	specs := r.Test.Addons
	if len(specs) > 0 {
		taken := map[string]bool{}
		names := make([]string, len(specs))
		for i, s := range specs {
			names[i] = s.Name(taken)
			taken[names[i]] = true
		}
		set, err := BuildAddons(specs, names, dir, true, r.Session, func(string, string) {})
		if err != nil {
			n.Phase, n.Error = "addons", err.Error()
			return n
		}
		stop, err := startAddons(ctx, set)
		if err != nil {
			n.Phase, n.Error = "addons", err.Error()
			return n
		}
		defer stop()
		m := envMap(env)
		for k, v := range set.Env() {
			m[k] = v
		}
		env = sortedEnv(m)
	}
	env = build.RuntimeEnv(env, filepath.Dir(dir))

	devnull, err := os.Open(os.DevNull) // a test run has no input
	if err != nil {
		n.Error = err.Error()
		return n
	}
	defer devnull.Close()
	run := func(command string, stdout io.Writer) (int, time.Duration, error) {
		t := time.Now()
		outw, wait1, err := pipeTo(stdout)
		if err != nil {
			return 1, 0, err
		}
		errw, wait2, err := pipeTo(stderr)
		if err != nil {
			outw.Close()
			wait1()
			return 1, 0, err
		}
		o := &OneOff{AppDir: src, Env: env, Args: []string{command}, Session: r.Session,
			Stdin: devnull, Stdout: outw, Stderr: errw}
		code, err := 0, o.Run(ctx)
		var exit *ExitError
		if errors.As(err, &exit) {
			code, err = exit.Status, nil
		}
		outw.Close()
		errw.Close()
		wait1()
		wait2()
		return code, time.Since(t), err
	}
	if r.Test.Setup != "" {
		code, d, err := run(r.Test.Setup, stdout)
		n.Setup = d
		if err != nil || code != 0 || ctx.Err() != nil {
			n.Phase, n.Exit = "test-setup", max(code, 1)
			if err != nil {
				n.Error = err.Error()
			}
			return n
		}
	}
	tap := &tapCounter{w: stdout}
	code, d, err := run(r.Test.Test, tap)
	n.Test, n.Exit = d, code
	if tap.seen {
		n.TAP = &tap.count
	}
	if err != nil {
		n.Error, n.Exit = err.Error(), max(code, 1)
	}
	n.Status = CISucceeded
	if n.Exit != 0 {
		n.Status = CIFailed
	}
	return n
}

// cancelledExit is an interrupted run's exit status, as a shell's after
// Ctrl-C.
const cancelledExit = 130

// newRunID is a random UUID (version 4), as Heroku's test run ids are.
func newRunID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// gitOutput is git's one-line answer in dir, "" when dir is not a work tree.
func gitOutput(dir string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
