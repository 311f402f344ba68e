package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/dynobox/dynobox/runner"
)

// ciListCommand lists the last test runs as "heroku ci" lists a
// pipeline's: one row a run, newest first.
func ciListCommand() *command {
	c := newCommand("ci:list", "", "List the app's last test runs (dynobox ci): number, status, branch, commit, duration.", "")
	var af appFlags
	af.register(c.flags, false)
	asJSON := c.flags.Bool("json", false, "print the runs as JSON")
	c.run = func(c *command, args []string) error {
		if len(args) > 0 {
			return usagef("ci:list: unexpected argument %q", args[0])
		}
		stateDir, err := runner.OpenStateDir(af.stateDirPath())
		if err != nil {
			return err
		}
		runs, err := runner.CIRuns(stateDir)
		if err != nil {
			return err
		}
		if *asJSON {
			if runs == nil {
				runs = []runner.CIResult{}
			}
			return c.printJSON(runs)
		}
		if len(runs) == 0 {
			fmt.Fprintln(c.stdout, "No test runs yet: run dynobox ci")
			return nil
		}
		fmt.Fprintln(c.stdout, "=== Showing latest test runs")
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tStatus\tBranch\tCommit\tDuration\tStarted")
		for i := len(runs) - 1; i >= 0 && i >= len(runs)-10; i-- {
			r := runs[i]
			fmt.Fprintf(tw, "%d\t%s %s\t%s\t%s\t%s\t%s\n", r.Number, ciMark(r.Status), r.Status,
				orDash(r.Branch), orDash(shortCommit(r.Commit)), dur(r.Duration), r.Started.Local().Format("2006-01-02 15:04:05"))
		}
		return tw.Flush()
	}
	return c
}

// ciInfoCommand shows one run as its summary did, and exits with its
// status, so that a script can ask how the last run went.
func ciInfoCommand() *command {
	c := newCommand("ci:info", "[N]", "Show test run #N (default: the last) and exit with its status.", "")
	var af appFlags
	af.register(c.flags, false)
	asJSON := c.flags.Bool("json", false, "print the run as JSON")
	c.run = func(c *command, args []string) error {
		r, err := findCIRun(&af, "ci:info", args)
		if err != nil {
			return err
		}
		if *asJSON {
			if err := c.printJSON(r); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(c.stdout, "=== Test run #%d\n", r.Number)
			fmt.Fprintf(c.stdout, "Command: %s\nStarted: %s", r.Command, r.Started.Local().Format("2006-01-02 15:04:05"))
			if r.FromCommit {
				fmt.Fprintf(c.stdout, " (clean checkout of %s)", shortCommit(r.Commit))
			}
			fmt.Fprintln(c.stdout)
			writeCISummary(c.stdout, r)
		}
		return status(r.Exit)
	}
	return c
}

// ciRerunCommand runs the tests again for the commit run #N tested, as
// "heroku ci:rerun" does: in a clean checkout of that commit when the
// run recorded one, else (no git) the work tree.
func ciRerunCommand() *command {
	c := newCommand("ci:rerun", "[N]", "Run the tests of run #N (default: the last) again, on the same commit.", "")
	var af appFlags
	af.register(c.flags, false)
	asJSON := c.flags.Bool("json", false, "print the summary as JSON on stdout (the scripts' output goes to stderr)")
	c.run = func(c *command, args []string) error {
		r, err := findCIRun(&af, "ci:rerun", args)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "-----> Re-running test run #%d", r.Number)
		if r.Commit != "" {
			fmt.Fprintf(c.stderr, " (commit %s)", shortCommit(r.Commit))
		}
		fmt.Fprintln(c.stderr)
		return runCI(c, &af, r.Commit, r.Branch, *asJSON)
	}
	return c
}

// findCIRun is the run args name ("N", or none for the last); a missing
// one is an input error.
func findCIRun(af *appFlags, verb string, args []string) (*runner.CIResult, error) {
	n := 0
	switch len(args) {
	case 0:
	case 1:
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 1 {
			return nil, usagef("%s: %q is not a test run number (1, 2, …; see dynobox ci:list)", verb, args[0])
		}
	default:
		return nil, usagef("%s: unexpected argument %q", verb, args[1])
	}
	stateDir, err := runner.OpenStateDir(af.stateDirPath())
	if err != nil {
		return nil, err
	}
	r, err := runner.FindCIRun(stateDir, n)
	if err != nil {
		return nil, err
	}
	if r == nil {
		if n == 0 {
			return nil, usagef("%s: no test runs yet: run dynobox ci", verb)
		}
		return nil, usagef("%s: no test run #%d (the last %d are kept; see dynobox ci:list)", verb, n, runner.MaxCIRuns)
	}
	return r, nil
}

func ciMark(status string) string {
	switch status {
	case runner.CISucceeded:
		return "✓"
	case runner.CIFailed, runner.CIErrored:
		return "✗"
	}
	return "-"
}

func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
