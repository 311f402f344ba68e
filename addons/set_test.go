package addons

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeAddon records its starts and stops; startErr fails its Start.
type fakeAddon struct {
	name     string
	startErr error
	stopErr  error
	hang     bool // its start never ends before ctx does

	mu      sync.Mutex
	started int
	stopped int
}

func (f *fakeAddon) Name() string { return f.name }
func (f *fakeAddon) Plan() string { return "fake:" + f.name }
func (f *fakeAddon) Addr() string { return "127.0.0.1:1" }
func (f *fakeAddon) Env() map[string]string {
	return map[string]string{strings.ToUpper(f.name) + "_URL": "fake://"}
}
func (f *fakeAddon) Run(ctx context.Context, ready func()) error {
	f.mu.Lock()
	if f.startErr != nil {
		f.mu.Unlock()
		return f.startErr
	}
	if f.hang {
		f.mu.Unlock()
		<-ctx.Done()
		return ctx.Err()
	}
	f.started++
	f.mu.Unlock()
	ready()
	<-ctx.Done()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped++
	return f.stopErr
}
func (f *fakeAddon) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started, f.stopped
}

// runSet runs set until the returned stop, after Ready (or fails the test
// with Run's start error).
func runSet(t *testing.T, set *Set) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- set.Run(ctx) }()
	select {
	case <-set.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run = %v before Ready", err)
	}
	return func() error { cancel(); return <-done }
}

// TestSetRunStopsAddedAddons: an add-on added while the set runs — also to
// a set that started empty, as an app without add-ons — is stopped when
// Run ends, and an Add after that is refused.
func TestSetRunStopsAddedAddons(t *testing.T) {
	t.Parallel()
	for _, initial := range [][]Addon{nil, {&fakeAddon{name: "a"}}} {
		set := NewSet(initial...)
		stop := runSet(t, set)
		added := &fakeAddon{name: "b"}
		if err := set.Add(t.Context(), added); err != nil {
			t.Fatal(err)
		}
		if got := set.Env()["B_URL"]; got != "fake://" {
			t.Fatalf("Env after Add: B_URL = %q", got)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		for _, a := range append(initial, added) {
			if started, stopped := a.(*fakeAddon).counts(); started != 1 || stopped != 1 {
				t.Errorf("%s: started %d, stopped %d; want 1, 1", a.Name(), started, stopped)
			}
		}
		if err := set.Add(t.Context(), &fakeAddon{name: "c"}); err == nil {
			t.Error("Add after Run ended succeeded")
		}
	}
}

// TestSetRunStartFailure: one add-on failing to start ends Run with its
// name and cause, stops those that started, and Ready stays open.
func TestSetRunStartFailure(t *testing.T) {
	t.Parallel()
	ok := &fakeAddon{name: "ok"}
	bad := &fakeAddon{name: "bad", startErr: errors.New("no binary")}
	set := NewSet(ok, bad)
	err := set.Run(t.Context())
	if err == nil || err.Error() != "add-on bad: no binary" {
		t.Fatalf("Run = %v", err)
	}
	if _, stopped := ok.counts(); stopped != 1 {
		t.Errorf("started add-on stopped %d times, want 1", stopped)
	}
	select {
	case <-set.Ready():
		t.Error("Ready closed after a failed start")
	default:
	}
}

// TestSetRunReportsStopErrors: Run's error names each add-on whose stop
// failed, so `dynobox start` and `dynobox run` exit non-zero.
func TestSetRunReportsStopErrors(t *testing.T) {
	t.Parallel()
	set := NewSet(&fakeAddon{name: "a", stopErr: errors.New("final save failed")}, &fakeAddon{name: "b"})
	err := runSet(t, set)()
	if err == nil || err.Error() != "stop a: final save failed" {
		t.Fatalf("Run = %v", err)
	}
}

// TestSetRemoveStopsTheAddon: Remove ends the add-on's run at once; Run's
// stop does not stop it again.
func TestSetRemoveStopsTheAddon(t *testing.T) {
	t.Parallel()
	a, b := &fakeAddon{name: "a"}, &fakeAddon{name: "b"}
	set := NewSet(a, b)
	stop := runSet(t, set)
	if _, err := set.Remove(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, stopped := a.counts(); stopped != 1 {
		t.Fatalf("removed add-on stopped %d times, want 1", stopped)
	}
	if got := len(set.List()); got != 1 {
		t.Fatalf("List has %d add-ons after Remove, want 1", got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, stopped := a.counts(); stopped != 1 {
		t.Errorf("removed add-on stopped %d times, want 1", stopped)
	}
	if _, stopped := b.counts(); stopped != 1 {
		t.Errorf("kept add-on stopped %d times, want 1", stopped)
	}
}

// TestSetRunCancelledDuringStart: ctx ending while an add-on starts ends
// Run with the cause, and what started is stopped.
func TestSetRunCancelledDuringStart(t *testing.T) {
	t.Parallel()
	ok := &fakeAddon{name: "ok"}
	set := NewSet(ok, &fakeAddon{name: "slow", hang: true})
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- set.Run(ctx) }()
	for { // until ok is up: then only slow holds the start
		if started, _ := ok.counts(); started == 1 {
			break
		}
		runtime.Gosched()
	}
	cause := errors.New("interrupted")
	cancel(cause)
	if err := <-done; !errors.Is(err, cause) {
		t.Fatalf("Run = %v, want the cause", err)
	}
	if _, stopped := ok.counts(); stopped != 1 {
		t.Errorf("started add-on stopped %d times, want 1", stopped)
	}
}
