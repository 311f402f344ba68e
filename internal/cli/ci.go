package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/runner"
)

func ciCommands() []*command {
	return []*command{ciCommand(), ciListCommand(), ciInfoCommand(), ciRerunCommand()}
}

func ciCommand() *command {
	c := newCommand("ci", "", "Run the app's tests as Heroku CI does, from app.json environments.test.", `
Reads app.json's "environments": {"test": ...} as Heroku CI does: its
addons (all throwaway here, :in-dyno plans included), env, scripts
"test-setup" and "test" (default: the detected language's, e.g. npm test,
go test ./...) and formation.test.quantity (parallel nodes, each with its
own add-ons; output lines carry "node.N | ").

The work tree is built as a deploy builds it (--commit REF: the commit's
tree, checked out clean into a directory deleted afterwards); then on each node fresh
add-ons start on their own ports, with their data in a private directory
(a running "dynobox start" of the app keeps its own), test-setup runs and
then test, with CI=true, HEROKU_TEST_RUN_ID, HEROKU_TEST_RUN_BRANCH,
HEROKU_TEST_RUN_COMMIT_VERSION, CI_NODE_TOTAL and CI_NODE_INDEX. The
scripts see environments.test.env and the add-ons' config vars, not the
app's .env or config vars. Afterwards the add-ons stop and their data is
deleted. A summary follows (--json: as JSON on stdout, the scripts'
output then going to stderr); the run is recorded for "dynobox ci:info".

Exit status: the tests' (the first failing node's); a failed build,
add-on or test-setup exits non-zero too and is reported as such.`)
	var af appFlags
	af.register(c.flags, false)
	asJSON := c.flags.Bool("json", false, "print the summary as JSON on stdout (the scripts' output goes to stderr)")
	commit := c.flags.String("commit", "", "test the committed tree of git `REF` in a clean checkout, not the work tree")
	c.run = func(c *command, args []string) error {
		if len(args) > 0 {
			return usagef("ci: unexpected argument %q", args[0])
		}
		return runCI(c, &af, *commit, "", *asJSON)
	}
	return c
}

// runCI is one test run of the app af names: its work tree, or with
// commit the clean checkout of that git ref (on branch, when the ref is
// a hash that names none: a rerun's). It records the run, prints the
// summary and returns the tests' status.
func runCI(c *command, af *appFlags, commit, branch string, asJSON bool) error {
	appDir, err := runner.AppDir(af.dir)
	if err != nil {
		return usagef("app directory: %v", err)
	}
	stateDir, err := runner.OpenStateDir(af.stateDirPath())
	if err != nil {
		return err
	}
	srcDir, commitHash := appDir, ""
	if commit != "" {
		tmp, err := runner.MakeCISourceDir(stateDir)
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		srcDir = filepath.Join(tmp, "src")
		if err := os.Mkdir(srcDir, 0o700); err != nil {
			return err
		}
		var refBranch string
		if commitHash, refBranch, err = runner.CheckoutCommit(appDir, commit, srcDir); err != nil {
			return err
		}
		if refBranch != "" {
			branch = refBranch
		}
	}
	te, err := runner.LoadTestEnv(srcDir)
	if err != nil {
		return err
	}
	session, unwatch, err := watchedSession()
	if err != nil {
		return err
	}
	defer unwatch()

	out := c.stdout
	if asJSON {
		out = c.stderr
	}
	if te.Defaulted {
		fmt.Fprintf(out, "-----> No scripts.test in app.json environments.test: running %s\n", te.Test)
	}
	run := &runner.CIRun{AppDir: srcDir, StateDir: stateDir, Session: session, Test: te,
		Branch: branch, Commit: commitHash, Stdout: out, Stderr: c.stderr}
	// Ctrl-C ends the run, not dynobox: the add-ons stop and their data
	// goes, as after any run. The scripts hear it too (from the one-off
	// dyno, which passes it on).
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	res, err := run.Run(ctx)
	if err != nil {
		return err
	}
	if err := runner.RecordCIRun(stateDir, res); err != nil {
		fmt.Fprintf(c.stderr, "dynobox: record the test run: %v\n", err)
	}
	if asJSON {
		c.printJSON(res)
	} else {
		writeCISummary(c.stdout, res)
	}
	return status(res.Exit)
}

// writeCISummary ends a test run's output: its verdict, then each node's.
func writeCISummary(w io.Writer, r *runner.CIResult) {
	fmt.Fprintf(w, "\n=====> Test run #%d %s in %s (%s)\n", r.Number, r.Status, dur(r.Duration), r.ID)
	if r.Status == runner.CICancelled {
		fmt.Fprintln(w, "       interrupted: the add-ons were stopped and their data deleted")
	}
	if r.Branch != "" {
		fmt.Fprintf(w, "       branch %s, commit %s\n", r.Branch, r.Commit)
	}
	if r.Phase == "build" {
		fmt.Fprintf(w, "       build failed after %s: %s; no test ran\n", dur(r.Build), r.Error)
		return
	}
	if r.Built != "" {
		fmt.Fprintf(w, "       build (%s) %s\n", r.Built, dur(r.Build))
	}
	for _, n := range r.Nodes {
		fmt.Fprintf(w, "       node.%d: ", n.Index)
		switch {
		case n.Status == runner.CICancelled:
			fmt.Fprintf(w, "cancelled after %s\n", dur(n.Duration))
		case n.Phase == "addons":
			fmt.Fprintf(w, "add-ons failed to start: %s; no test ran\n", n.Error)
		case n.Phase == "test-setup":
			fmt.Fprintf(w, "test-setup failed (exit status %d) after %s; no test ran\n", n.Exit, dur(n.Setup))
		default:
			verdict := "tests passed"
			if n.Status == runner.CIFailed {
				verdict = fmt.Sprintf("tests failed (exit status %d)", n.Exit)
			}
			fmt.Fprintf(w, "%s in %s (test-setup %s, test %s)\n", verdict, dur(n.Duration), dur(n.Setup), dur(n.Test))
			if n.TAP != nil {
				fmt.Fprintf(w, "               TAP: %d passed, %d failed, %d skipped\n", n.TAP.Passed, n.TAP.Failed, n.TAP.Skipped)
			}
		}
	}
}

func dur(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
