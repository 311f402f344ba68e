package runner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
)

// ciRunsFile lists the app's finished test runs, one JSON object a line,
// oldest first, under the state directory; ciRunsLock, beside it, is the
// flock every writer holds while it reads, numbers and rewrites the list,
// so that runs finishing at once (parallel "dynobox ci", other
// processes) neither lose a record nor share a number.
const (
	ciRunsFile = "test-runs.jsonl"
	ciRunsLock = "test-runs.lock"
)

// MaxCIRuns is how many test runs the list keeps.
const MaxCIRuns = 50

// RecordCIRun numbers res (#1, #2, … per state directory, as Heroku CI
// numbers a pipeline's runs: one more than the last recorded) and appends
// it to the app's list of test runs, dropping the oldest beyond MaxCIRuns.
func RecordCIRun(stateDir *StateDir, res *CIResult) error {
	lf, err := os.OpenFile(stateDir.File(ciRunsLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("test runs lock: %w", err)
	}
	defer lf.Close() // releases the lock
	if err := proc.Lock(lf); err != nil {
		return fmt.Errorf("test runs lock: %w", err)
	}
	runs, err := CIRuns(stateDir)
	if err != nil {
		return err
	}
	res.Number = 1
	if len(runs) > 0 {
		res.Number = runs[len(runs)-1].Number + 1
	}
	runs = append(runs, *res)
	if len(runs) > MaxCIRuns {
		runs = runs[len(runs)-MaxCIRuns:]
	}
	path := stateDir.File(ciRunsFile)
	tmp := path + ".tmp" // the lock makes it this writer's alone
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, r := range runs {
		line, _ := json.Marshal(r)
		w.Write(append(line, '\n'))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// FindCIRun is recorded run number n (n <= 0: the last run), nil when
// the list does not hold it.
func FindCIRun(stateDir *StateDir, n int) (*CIResult, error) {
	runs, err := CIRuns(stateDir)
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	if n <= 0 {
		return &runs[len(runs)-1], nil
	}
	for i := range runs {
		if runs[i].Number == n {
			return &runs[i], nil
		}
	}
	return nil, nil
}

// CIRuns lists the app's recorded test runs, oldest first.
func CIRuns(stateDir *StateDir) ([]CIResult, error) {
	f, err := os.Open(stateDir.File(ciRunsFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []CIResult
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r CIResult
		if json.Unmarshal(sc.Bytes(), &r) == nil { // a torn line is skipped
			runs = append(runs, r)
		}
	}
	return runs, sc.Err()
}

// ciOwnerFile, in a run's directory, holds the pid of the dynobox running
// it, so that a later run can tell the directory of a killed one.
const ciOwnerFile = "owner.pid"

// makeCIDir makes a test run's private directory under the state
// directory, owned by this process, after removing those of runs whose
// dynobox died (kill -9: its watchdog stopped the processes, but not the
// data). prefix is "ci-" plus what names the directory.
func makeCIDir(stateDir *StateDir, prefix string) (string, error) {
	old, _ := filepath.Glob(stateDir.File("ci-*"))
	for _, d := range old {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d, ciOwnerFile))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		switch {
		case err != nil && time.Since(fi.ModTime()) < time.Minute:
			// A run that is starting has not written its owner yet.
		case pid > 0 && syscall.Kill(pid, 0) == nil:
			// Alive.
		default:
			os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp(stateDir.Path, prefix)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, ciOwnerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// MakeCISourceDir is makeCIDir for a --commit checkout.
func MakeCISourceDir(stateDir *StateDir) (string, error) { return makeCIDir(stateDir, "ci-src-") }

// CIRuns lists the test runs recorded in the app's state directory, for
// the dashboard's Tests panel while the app runs.
func (c *Controller) CIRuns() ([]CIResult, error) {
	return CIRuns(&StateDir{Path: c.StateDir})
}
