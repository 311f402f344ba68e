package metrics

import (
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestWindowCountsAndPercentiles(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	r := NewAt(c.now)
	for i := 1; i <= 100; i++ {
		r.Observe(200, "", time.Duration(i)*time.Millisecond)
	}
	r.Observe(503, "H12", 30*time.Second)
	r.Observe(404, "", time.Millisecond)
	w := r.Last(time.Minute)
	if w.Requests != 102 || w.Classes["2xx"] != 100 || w.Classes["5xx"] != 1 || w.Classes["4xx"] != 1 || w.HCodes["H12"] != 1 {
		t.Fatalf("counts: %+v", w)
	}
	within := func(name string, got Millis, want float64) {
		if float64(got) < want || float64(got) > want*1.11 {
			t.Errorf("%s = %vms, want %v…+10%%", name, got, want)
		}
	}
	within("p50", w.P50, 51)
	within("p95", w.P95, 96)
	if w.P99 < 100 {
		t.Errorf("p99 = %v", w.P99)
	}
	if got := w.PerMinute(w.Classes["2xx"]); got != 100 {
		t.Errorf("per minute over a minute: %v", got)
	}
}

func TestWindowSlides(t *testing.T) {
	c := &clock{t: time.Unix(2_000_000, 0)}
	r := NewAt(c.now)
	r.Observe(200, "", 800*time.Millisecond)
	c.add(30 * time.Second)
	r.Observe(200, "", 10*time.Millisecond)
	if w := r.Last(10 * time.Second); w.Requests != 1 || w.P95 > 12 {
		t.Fatalf("last 10s: %+v", w)
	}
	if w := r.Last(time.Minute); w.Requests != 2 || w.P95 < 800 {
		t.Fatalf("last minute: %+v", w)
	}
	if w := r.Since(c.now()); w.Requests != 1 {
		t.Fatalf("since now: %+v", w)
	}
	c.add(Keep) // the ring wraps: old seconds are not counted again
	r.Observe(200, "", time.Millisecond)
	if w := r.Last(Keep); w.Requests != 1 {
		t.Fatalf("after Keep: %+v", w)
	}
	s := r.Series(time.Minute, 10*time.Second)
	if len(s) != 6 || s[5].Requests != 1 || s[0].Requests != 0 {
		t.Fatalf("series: %+v", s)
	}
}

func TestObserveConcurrent(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				r.Observe(200, "", time.Millisecond)
			}
		})
	}
	wg.Wait()
	if w := r.Last(time.Minute); w.Requests != 8000 {
		t.Fatalf("requests = %d", w.Requests)
	}
	var nilRec *Recorder
	nilRec.Observe(200, "", 0) // a router without metrics
}

func BenchmarkObserve(b *testing.B) {
	r := New()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Observe(200, "", 3*time.Millisecond)
		}
	})
}
