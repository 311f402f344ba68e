package runner

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
)

func TestSamplerSumsProcessGroups(t *testing.T) {
	s := newSampler(2*time.Second, 3, nil)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	mib := 1 << 20 / pageSize // pages
	procs := []proc.Info{
		{PID: 10, PGID: 10, Ticks: 100, RSSPages: mib},
		{PID: 11, PGID: 10, Ticks: 50, RSSPages: 2 * mib}, // a child in web.1's group
		{PID: 20, PGID: 20, Ticks: 0, RSSPages: 4 * mib},
		{PID: 99, PGID: 99, Ticks: 9999, RSSPages: 1024 * mib}, // not a dyno
	}
	s.read = func() []proc.Info { return procs }
	dynos := []DynoInfo{{Name: "web.1", PID: 10}, {Name: "worker.1", PID: 20}}
	s.sample(dynos)
	st := s.snapshot()
	if w := st.Dynos["web.1"]; w.CPU[0] != -1 || w.Memory[0] != 3<<20 {
		t.Fatalf("first sample of web.1: %+v (no CPU yet, memory summed over the group)", w)
	}
	// Two seconds later web.1's group used 100 ticks: one second of CPU, 50%.
	now = now.Add(2 * time.Second)
	procs[0].Ticks, procs[1].Ticks = 160, 90
	procs = append(procs, proc.Info{PID: 12, PGID: 10, Ticks: 0, RSSPages: mib})
	s.sample(dynos)
	st = s.snapshot()
	if w := st.Dynos["web.1"]; w.CPU[1] != 50 || w.Memory[1] != 4<<20 {
		t.Errorf("second sample of web.1: %+v, want 50%% and 4 MiB", w)
	}
	if w := st.Dynos["worker.1"]; w.CPU[1] != 0 {
		t.Errorf("worker.1: %+v", w)
	}
	// worker.1 crashed (no pid), clock.1 appeared, and samples roll over.
	now = now.Add(2 * time.Second)
	dynos = []DynoInfo{{Name: "web.1", PID: 10}, {Name: "worker.1"}, {Name: "clock.1", PID: 20}}
	s.sample(dynos)
	now = now.Add(2 * time.Second)
	s.sample(dynos[:2])
	st = s.snapshot()
	if len(st.Times) != 3 || st.Times[2] != now.UnixMilli() {
		t.Fatalf("times %v: want the last 3", st.Times)
	}
	if w := st.Dynos["worker.1"]; len(w.CPU) != 3 || w.CPU[1] != -1 || w.Memory[2] != -1 {
		t.Errorf("worker.1 without a process: %+v, want gaps (-1)", w)
	}
	if _, ok := st.Dynos["clock.1"]; ok {
		t.Error("clock.1 was scaled away but is still charted")
	}
	if w := st.Dynos["web.1"]; len(w.CPU) != 3 || len(w.Memory) != 3 {
		t.Errorf("web.1: %+v, want 3 samples", w)
	}
}

// Run measures the dynos it is given from the real /proc: a dyno's
// process group gets a series with its memory.
func TestSamplerMeasuresTheDynos(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	s := newSampler(10*time.Millisecond, 5, func() []DynoInfo {
		return []DynoInfo{{Name: "worker.1", PID: cmd.Process.Pid}}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for deadline := time.Now().Add(wait); ; time.Sleep(10 * time.Millisecond) {
		st := s.snapshot()
		if sr, ok := st.Dynos["worker.1"]; ok && len(sr.Memory) > 0 && sr.Memory[len(sr.Memory)-1] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no memory sampled for worker.1 (pid %d): %+v", cmd.Process.Pid, st)
		}
	}
}

// Without a dashboard nothing samples, and Stats still answers.
func TestControllerStatsWithoutSampler(t *testing.T) {
	st := (&Controller{}).Stats()
	if st.Dynos == nil || st.Times == nil || st.IntervalSeconds != StatsInterval.Seconds() {
		t.Fatalf("Stats() = %+v, want an empty series (no nil maps: the page reads them)", st)
	}
}
