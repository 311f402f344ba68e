package runner

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ciRunsFile lists the app's finished test runs, one JSON object a line,
// oldest first, under the state directory.
const ciRunsFile = "test-runs.jsonl"

// MaxCIRuns is how many test runs the list keeps.
const MaxCIRuns = 50

// RecordCIRun appends res to the app's list of test runs, dropping the
// oldest beyond MaxCIRuns.
func RecordCIRun(stateDir *StateDir, res *CIResult) error {
	runs, err := CIRuns(stateDir)
	if err != nil {
		return err
	}
	runs = append(runs, *res)
	if len(runs) > MaxCIRuns {
		runs = runs[len(runs)-MaxCIRuns:]
	}
	path := stateDir.File(ciRunsFile)
	tmp := path + ".tmp." + res.ID // runs at once do not share it
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
