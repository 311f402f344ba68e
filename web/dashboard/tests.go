package dashboard

import (
	"net/http"

	"github.com/dynobox/dynobox/runner"
)

// testRuns is what the Tests panel needs of the app: the test runs
// "dynobox ci" recorded in its state directory. An App without it (a
// fake) shows no runs.
type testRuns interface {
	CIRuns() ([]runner.CIResult, error)
}

var _ testRuns = (*runner.Controller)(nil)

// maxTestRuns is how many runs the panel shows, newest first.
const maxTestRuns = 10

// serveTests answers the last test runs, newest first, as "dynobox
// ci:list" lists them. A run records no config var values, only its
// command, status, timings and error text.
func (d *Dashboard) serveTests(w http.ResponseWriter, r *http.Request) {
	runs := []runner.CIResult{}
	if tr, ok := d.app.(testRuns); ok {
		all, err := tr.CIRuns()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorReply{err.Error()})
			return
		}
		for i := len(all) - 1; i >= 0 && len(runs) < maxTestRuns; i-- {
			runs = append(runs, all[i])
		}
	}
	writeJSON(w, http.StatusOK, runs)
}
