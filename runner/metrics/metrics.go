// Package metrics keeps the router's numbers for the last few minutes, as
// Heroku Metrics' router panel shows them: requests by status class,
// response-time percentiles and H-codes. The router reports every request
// through Observe; the autoscaler, the API and the dashboard read windows
// of it through Snapshot.
//
// It keeps one bucket per second in a ring (Keep of them): a window is the
// sum of its seconds, so any window up to Keep costs the same to read, and
// Observe costs one lock and a few additions — it runs on every request.
// Response times go into a log-scaled histogram (buckets 10% apart), so
// percentiles are exact to within 10%, which is what a p95 target needs.
package metrics

import (
	"math"
	"sort"
	"sync"
	"time"
)

// Keep is how far back the recorder remembers: the longest window.
const Keep = 10 * time.Minute

const (
	seconds = int(Keep / time.Second)
	// Histogram bins: bin i holds times in [base·growth^(i-1), base·growth^i);
	// bin 0 is everything under base (1 ms); the last, everything above ~6 min.
	bins   = 130
	base   = float64(time.Millisecond)
	growth = 1.1
	maxH   = 100 // H-codes are H10…H99
)

var logGrowth = math.Log(growth)

// bucket is one second of requests.
type bucket struct {
	sec     int64 // Unix second this bucket counts; another: stale
	classes [5]uint32
	hcodes  [maxH]uint32
	hist    [bins]uint32
	total   time.Duration // summed response times, for the mean
}

// Recorder counts requests per second; its zero value is not usable: New.
type Recorder struct {
	mu  sync.Mutex
	now func() time.Time
	buf []bucket
}

// New makes an empty recorder on the wall clock.
func New() *Recorder { return NewAt(time.Now) }

// NewAt makes a recorder on a clock of the caller's (tests).
func NewAt(now func() time.Time) *Recorder {
	return &Recorder{now: now, buf: make([]bucket, seconds)}
}

// Observe records one request: its status, its Heroku H-code ("H12", ""
// for none) and how long it took, from arrival to the end of the answer.
func (r *Recorder) Observe(status int, code string, d time.Duration) {
	if r == nil {
		return
	}
	bin := binOf(d)
	h := hIndex(code)
	r.mu.Lock()
	b := r.at(r.now().Unix())
	if c := status/100 - 1; c >= 0 && c < len(b.classes) {
		b.classes[c]++
	}
	if h > 0 {
		b.hcodes[h]++
	}
	b.hist[bin]++
	b.total += d
	r.mu.Unlock()
}

// at is the bucket of second sec, cleared if it held an older second.
func (r *Recorder) at(sec int64) *bucket {
	b := &r.buf[sec%int64(seconds)]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	return b
}

func binOf(d time.Duration) int {
	if float64(d) < base {
		return 0
	}
	i := 1 + int(math.Log(float64(d)/base)/logGrowth)
	return min(i, bins-1)
}

// upper is the upper bound of bin i: what a percentile falling in it reports.
func upper(i int) time.Duration { return time.Duration(base * math.Pow(growth, float64(i))) }

func hIndex(code string) int {
	if len(code) != 3 || code[0] != 'H' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return 0
	}
	return int(code[1]-'0')*10 + int(code[2]-'0')
}

// Window is what the router saw over a stretch of time.
type Window struct {
	Start    time.Time `json:"start"`
	Duration Seconds   `json:"seconds"`
	Requests int       `json:"requests"`
	// Classes counts requests by status class: "2xx" → n.
	Classes map[string]int `json:"classes"`
	// HCodes counts router errors: "H12" → n.
	HCodes map[string]int `json:"hcodes"`
	P50    Millis         `json:"p50_ms"`
	P95    Millis         `json:"p95_ms"`
	P99    Millis         `json:"p99_ms"`
	Mean   Millis         `json:"mean_ms"`
}

// PerMinute is n over the window scaled to one minute.
func (w Window) PerMinute(n int) float64 {
	if w.Duration <= 0 {
		return 0
	}
	return float64(n) * 60 / float64(w.Duration)
}

// RPS is the window's throughput in requests per second.
func (w Window) RPS() float64 { return w.PerMinute(w.Requests) / 60 }

// Seconds is a duration that JSON shows as seconds.
type Seconds float64

// Millis is a duration that JSON shows as milliseconds.
type Millis float64

// D is m as a time.Duration.
func (m Millis) D() time.Duration { return time.Duration(float64(m) * float64(time.Millisecond)) }

func millis(d time.Duration) Millis {
	return Millis(math.Round(float64(d)/float64(time.Microsecond)) / 1000)
}

// Since sums the seconds from start to now (at most Keep back); the
// current second counts as a whole one.
func (r *Recorder) Since(start time.Time) Window { return r.sinceUntil(start, r.now()) }

// Last is Since(now − d).
func (r *Recorder) Last(d time.Duration) Window { return r.Since(r.now().Add(-d + time.Second)) }

func summarize(b *bucket, start time.Time, d time.Duration) Window {
	w := Window{Start: start, Duration: Seconds(d.Seconds()), Classes: map[string]int{}, HCodes: map[string]int{}}
	for i, n := range b.classes {
		if n > 0 {
			w.Classes[string(rune('1'+i))+"xx"] = int(n)
		}
	}
	for i, n := range b.hcodes {
		if n > 0 {
			w.HCodes["H"+string(rune('0'+i/10))+string(rune('0'+i%10))] = int(n)
		}
	}
	for _, n := range b.hist {
		w.Requests += int(n)
	}
	if w.Requests == 0 {
		return w
	}
	w.Mean = millis(b.total / time.Duration(w.Requests))
	w.P50 = millis(percentile(b, w.Requests, 0.50))
	w.P95 = millis(percentile(b, w.Requests, 0.95))
	w.P99 = millis(percentile(b, w.Requests, 0.99))
	return w
}

// percentile is the upper bound of the bin holding the q-th request.
func percentile(b *bucket, total int, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(total)))
	seen := 0
	for i, n := range b.hist {
		seen += int(n)
		if seen >= rank {
			return upper(i)
		}
	}
	return upper(bins - 1)
}

// Series is the last span cut into windows of step each, oldest first:
// the dashboard's chart points.
func (r *Recorder) Series(span, step time.Duration) []Window {
	now := r.now()
	n := int(span / step)
	out := make([]Window, 0, n)
	for i := n - 1; i >= 0; i-- {
		end := now.Add(-time.Duration(i) * step)
		out = append(out, r.sinceUntil(end.Add(-step+time.Second), end))
	}
	return out
}

// sinceUntil is Since with an end of the caller's.
func (r *Recorder) sinceUntil(start, end time.Time) Window {
	var sum bucket
	from, to := start.Unix(), end.Unix()
	if oldest := r.now().Add(-Keep + time.Second).Unix(); from < oldest {
		from = oldest
	}
	r.mu.Lock()
	for s := from; s <= to; s++ {
		b := &r.buf[s%int64(seconds)]
		if b.sec != s {
			continue
		}
		add(&sum, b)
	}
	r.mu.Unlock()
	return summarize(&sum, time.Unix(from, 0), time.Duration(to-from+1)*time.Second)
}

func add(sum, b *bucket) {
	for i, n := range b.classes {
		sum.classes[i] += n
	}
	for i, n := range b.hcodes {
		sum.hcodes[i] += n
	}
	for i, n := range b.hist {
		sum.hist[i] += n
	}
	sum.total += b.total
}

// SortedKeys lists a Window map's keys in order, for stable output.
func SortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
