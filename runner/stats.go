package runner

import (
	"context"
	"math"
	"os"
	"sync"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
)

// Sampling of each dyno's CPU and memory, for the dashboard's charts:
// every StatsInterval, StatsCount samples kept (five minutes).
const (
	StatsInterval = 2 * time.Second
	StatsCount    = 150
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// Linux fixes it at 100 for user space on every architecture.
const clockTicks = 100

var pageSize = uint64(os.Getpagesize())

// Stats is each dyno's CPU and memory over the last few minutes (the
// dashboard's GET /api/dash/stats).
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

// sampler keeps each dyno's CPU and memory over the last few minutes. A
// dyno is its process group (its PID is the group's id), so its figures
// are the sums over every process of the group: sh -c wrappers, workers
// forked by a server, and so on.
type sampler struct {
	interval time.Duration
	keep     int
	dynos    func() []DynoInfo

	mu     sync.Mutex
	times  []time.Time        // oldest first
	series map[string]*series // by dyno name
	ticks  map[int]uint64     // CPU ticks per pid at the last sample
	last   time.Time          // when the last sample was taken
	now    func() time.Time   // for tests
	read   func() []proc.Info // for tests
}

// series are a dyno's samples, aligned with sampler.times; -1 is a
// sample taken while the dyno had no process.
type series struct {
	cpu []float64 // percent of one core
	mem []float64 // resident bytes
}

// newSampler samples the dynos that dynos lists; it starts nothing.
func newSampler(interval time.Duration, keep int, dynos func() []DynoInfo) *sampler {
	return &sampler{interval: interval, keep: keep, dynos: dynos, series: map[string]*series{}, ticks: map[int]uint64{},
		now: time.Now, read: proc.List}
}

// Run samples at once and then every interval until ctx ends.
func (s *sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sample(s.dynos())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sample reads every process once and adds one sample per dyno.
func (s *sampler) sample(dynos []DynoInfo) {
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
		name, ok := groups[p.PGID]
		if !ok {
			continue
		}
		sm := sums[name]
		if sm == nil {
			sm = &sum{}
			sums[name] = sm
		}
		sm.present = true
		sm.rss += p.RSSPages * pageSize
		ticks[p.PID] = p.Ticks
		if prev, ok := s.ticks[p.PID]; ok && prev <= p.Ticks {
			sm.ticks += p.Ticks - prev
		} else if !ok {
			sm.ticks += p.Ticks // started since the last sample
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

// snapshot copies the samples; a nil sampler (none runs) has none.
func (s *sampler) snapshot() Stats {
	if s == nil {
		return Stats{IntervalSeconds: StatsInterval.Seconds(), Times: []int64{}, Dynos: map[string]DynoSeries{}}
	}
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
