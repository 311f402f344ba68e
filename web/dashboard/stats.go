package dashboard

import (
	"context"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
	"github.com/dynobox/dynobox/runner"
)

// Sampling of CPU and memory: every SampleInterval, SampleCount samples
// kept (five minutes).
const (
	SampleInterval = 2 * time.Second
	SampleCount    = 150
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// Linux fixes it at 100 for user space on every architecture.
const clockTicks = 100

// sampler keeps each dyno's CPU and memory over the last few minutes. A
// dyno is its process group (its PID is the group's id), so its figures
// are the sums over every process of the group: sh -c wrappers, workers
// forked by a server, and so on.
type sampler struct {
	interval time.Duration
	keep     int

	mu     sync.Mutex
	times  []time.Time         // oldest first
	series map[string]*series  // by dyno name
	ticks  map[int]uint64      // CPU ticks per pid at the last sample
	last   time.Time           // when the last sample was taken
	now    func() time.Time    // for tests
	read   func() []procSample // for tests
}

// series are a dyno's samples, aligned with sampler.times; -1 is a
// sample taken while the dyno had no process.
type series struct {
	cpu []float64 // percent of one core
	mem []float64 // resident bytes
}

func newSampler(interval time.Duration, keep int) *sampler {
	return &sampler{interval: interval, keep: keep, series: map[string]*series{}, ticks: map[int]uint64{},
		now: time.Now, read: readProcs}
}

func (s *sampler) run(ctx context.Context, dynos func() []runner.DynoInfo) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sample(dynos())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// procSample is one process's figures from /proc/PID/stat.
type procSample struct {
	pid, pgid int
	ticks     uint64 // utime + stime
	rss       uint64 // bytes
}

// sample reads every process once and adds one sample per dyno.
func (s *sampler) sample(dynos []runner.DynoInfo) {
	groups := map[int]string{} // pgid → dyno name
	for _, d := range dynos {
		if d.PID > 0 {
			groups[d.PID] = d.Name
		}
	}
	type sum struct {
		ticks   uint64
		rss     uint64
		present bool
	}
	sums := map[string]*sum{}
	procs := s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	first := s.last.IsZero()
	elapsed := now.Sub(s.last).Seconds()
	ticks := map[int]uint64{}
	for _, p := range procs {
		name, ok := groups[p.pgid]
		if !ok {
			continue
		}
		sm := sums[name]
		if sm == nil {
			sm = &sum{}
			sums[name] = sm
		}
		sm.present = true
		sm.rss += p.rss
		ticks[p.pid] = p.ticks
		if prev, ok := s.ticks[p.pid]; ok && prev <= p.ticks {
			sm.ticks += p.ticks - prev
		} else if !ok {
			sm.ticks += p.ticks // started since the last sample
		}
	}
	s.ticks = ticks
	s.last = now

	s.times = append(s.times, now)
	drop := len(s.times) - s.keep
	if drop > 0 {
		s.times = append(s.times[:0], s.times[drop:]...)
	}
	seen := map[string]bool{}
	for _, d := range dynos {
		seen[d.Name] = true
		sr := s.series[d.Name]
		if sr == nil {
			sr = &series{}
			s.series[d.Name] = sr
		}
		cpu, mem := -1.0, -1.0
		if sm := sums[d.Name]; sm != nil && sm.present {
			mem = float64(sm.rss)
			if !first && elapsed > 0 {
				cpu = math.Round(float64(sm.ticks)/clockTicks/elapsed*1000) / 10
			}
		}
		sr.cpu = append(sr.cpu, cpu)
		sr.mem = append(sr.mem, mem)
	}
	for name, sr := range s.series {
		if !seen[name] { // scaled away: forget it
			delete(s.series, name)
			continue
		}
		// Pad a newer dyno's series to the common length, trim the oldest.
		for len(sr.cpu) < len(s.times) {
			sr.cpu = append([]float64{-1}, sr.cpu...)
			sr.mem = append([]float64{-1}, sr.mem...)
		}
		if d := len(sr.cpu) - len(s.times); d > 0 {
			sr.cpu = append(sr.cpu[:0], sr.cpu[d:]...)
			sr.mem = append(sr.mem[:0], sr.mem[d:]...)
		}
	}
}

// Stats is the reply of GET /api/dash/stats.
type Stats struct {
	IntervalSeconds float64               `json:"interval_seconds"`
	Times           []int64               `json:"times"` // Unix milliseconds, oldest first
	Dynos           map[string]DynoSeries `json:"dynos"`
}

// DynoSeries is one dyno's samples, aligned with Stats.Times; -1 marks a
// sample taken while it had no process.
type DynoSeries struct {
	CPU    []float64 `json:"cpu"`    // percent of one core
	Memory []float64 `json:"memory"` // resident bytes
}

func (s *sampler) snapshot() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{IntervalSeconds: s.interval.Seconds(), Times: make([]int64, len(s.times)), Dynos: map[string]DynoSeries{}}
	for i, t := range s.times {
		st.Times[i] = t.UnixMilli()
	}
	for name, sr := range s.series {
		st.Dynos[name] = DynoSeries{CPU: append([]float64(nil), sr.cpu...), Memory: append([]float64(nil), sr.mem...)}
	}
	return st
}

func (d *Dashboard) serveStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, d.stats.snapshot())
}

var pageSize = uint64(os.Getpagesize())

// readProcs reads /proc/*/stat. Processes that vanish meanwhile are skipped.
func readProcs() []procSample {
	dir, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := dir.Readdirnames(-1)
	dir.Close()
	out := make([]procSample, 0, len(names))
	buf := make([]byte, 0, 1024)
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		buf, err = readFileInto("/proc/"+n+"/stat", buf[:0])
		if err != nil {
			continue
		}
		if p, ok := parseStat(pid, buf); ok {
			out = append(out, p)
		}
	}
	return out
}

func readFileInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil || n == 0 {
			return buf, nil
		}
	}
}

// parseStat reads /proc/PID/stat with internal/proc's parser.
func parseStat(pid int, data []byte) (procSample, bool) {
	st, ok := proc.ParseStat(pid, data)
	return procSample{pid: pid, pgid: st.PGID, ticks: st.Ticks, rss: st.RSSPages * pageSize}, ok
}
