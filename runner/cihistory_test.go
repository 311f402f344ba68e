package runner

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// TestRecordCIRunUnderManyConcurrentWriters records runs from 120
// goroutines and 20 processes at once: every record gets its own number,
// none is lost (the list keeps the last MaxCIRuns) and none is torn.
func TestRecordCIRunUnderManyConcurrentWriters(t *testing.T) {
	sd, err := OpenStateDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, procs = 120, 20
	numbers := make(chan int, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &CIResult{ID: fmt.Sprintf("g%d", i), Status: CISucceeded}
			if err := RecordCIRun(sd, res); err != nil {
				t.Error(err)
				return
			}
			numbers <- res.Number
		}()
	}
	var errs []error
	var mu sync.Mutex
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestRecordCIRunHelperProcess$")
			cmd.Env = append(os.Environ(), "DYNOBOX_TEST_RECORD_CI="+sd.Path, fmt.Sprintf("DYNOBOX_TEST_RECORD_ID=p%d", i))
			if out, err := cmd.CombinedOutput(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%v: %s", err, out))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(numbers)
	for _, err := range errs {
		t.Error(err)
	}
	seen := map[int]bool{}
	for n := range numbers {
		if seen[n] {
			t.Errorf("number %d given twice", n)
		}
		seen[n] = true
	}
	runs, err := CIRuns(sd)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != MaxCIRuns {
		t.Fatalf("the list holds %d runs, want %d", len(runs), MaxCIRuns)
	}
	for i, r := range runs { // the last MaxCIRuns numbers, in order
		if want := goroutines + procs - MaxCIRuns + 1 + i; r.Number != want {
			t.Fatalf("runs[%d] is #%d, want #%d", i, r.Number, want)
		}
	}
	last, err := FindCIRun(sd, 0)
	if err != nil || last == nil || last.Number != goroutines+procs {
		t.Fatalf("FindCIRun(0) = %+v, %v; want #%d", last, err, goroutines+procs)
	}
	if r, _ := FindCIRun(sd, 1); r != nil {
		t.Fatalf("FindCIRun(1) = #%d: run #1 should have been dropped", r.Number)
	}
}

// TestRecordCIRunHelperProcess is one writer process of the test above.
func TestRecordCIRunHelperProcess(t *testing.T) {
	path := os.Getenv("DYNOBOX_TEST_RECORD_CI")
	if path == "" {
		return // not started as a helper
	}
	sd, err := OpenStateDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := RecordCIRun(sd, &CIResult{ID: os.Getenv("DYNOBOX_TEST_RECORD_ID"), Status: CIFailed}); err != nil {
		t.Fatal(err)
	}
}
