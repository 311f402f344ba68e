package router

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
)

// Backend is a web dyno that is up.
type Backend struct {
	Dyno string // "web.1"
	Addr string // "127.0.0.1:PORT"
}

// PoolState says why no backend is available.
type PoolState int

const (
	Ready    PoolState = iota // at least one backend up
	NoWeb                     // no web process type, or web scaled to 0: H14 at once
	Starting                  // web dynos are starting or restarting: wait up to BootWait (H20)
	Crashed                   // every web dyno has crashed and none is starting: H10 at once
)

// Pool is the router's view of the web dynos; the supervisor implements it.
// It must be safe for concurrent use.
type Pool interface {
	Backends() []Backend      // up web dynos now
	State() PoolState         //
	Changed() <-chan struct{} // closed at the next change of Backends or State; call again after it fires
}

// Static is a Pool that never changes: Ready with the given backends, or
// NoWeb without any. For benchmarks and for serving a fixed set of servers.
func Static(backends ...Backend) Pool { return staticPool(backends) }

type staticPool []Backend

func (p staticPool) Backends() []Backend      { return p }
func (p staticPool) Changed() <-chan struct{} { return nil }
func (p staticPool) State() PoolState {
	if len(p) == 0 {
		return NoWeb
	}
	return Ready
}

// upstream is a backend, the requests in flight on it (for least-busy) and
// its own transport, whose idle connections close when it leaves the pool.
type upstream struct {
	Backend
	inflight atomic.Int64
	tr       *http.Transport
}

// snapshot is one consistent reading of the pool, valid until changed fires.
type snapshot struct {
	state   PoolState
	ups     []*upstream
	changed <-chan struct{}
}

// poolView caches a snapshot so that the hot path reads an atomic pointer
// instead of asking the supervisor on every request.
type poolView struct {
	pool         Pool
	newTransport func() *http.Transport
	mu           sync.Mutex // serialises refreshes
	cur          atomic.Pointer[snapshot]
}

func (v *poolView) get() *snapshot {
	if s := v.cur.Load(); s != nil && !fired(s.changed) {
		return s
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	old := v.cur.Load()
	if old != nil && !fired(old.changed) {
		return old
	}
	// Changed first: a change after this call closes the channel we hold,
	// so the snapshot can be stale for at most one refresh.
	s := &snapshot{changed: v.pool.Changed()}
	bs := v.pool.Backends()
	s.state = v.pool.State()
	s.ups = make([]*upstream, 0, len(bs))
	for _, b := range bs {
		s.ups = append(s.ups, old.carry(b, v.newTransport))
	}
	v.cur.Store(s)
	if old != nil {
		for _, u := range old.ups {
			if !s.has(u) {
				u.tr.CloseIdleConnections() // a dyno gone from the pool
			}
		}
	}
	return s
}

func (s *snapshot) has(u *upstream) bool { return s != nil && slices.Contains(s.ups, u) }

// carry keeps a backend's in-flight count and idle connections across
// refreshes: requests started before a change still count on it.
func (s *snapshot) carry(b Backend, newTransport func() *http.Transport) *upstream {
	if s != nil {
		for _, u := range s.ups {
			if u.Backend == b {
				return u
			}
		}
	}
	return &upstream{Backend: b, tr: newTransport()}
}

func fired(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// pick returns the backend with the fewest requests in flight, not yet
// tried (nil if none); ties at random, so an idle app sees Heroku's spread.
func (s *snapshot) pick(tried []*upstream) *upstream {
	var best *upstream
	var bestN int64
	ties := 0
	for _, u := range s.ups {
		if slices.Contains(tried, u) {
			continue
		}
		n := u.inflight.Load()
		switch {
		case best == nil || n < bestN:
			best, bestN, ties = u, n, 1
		case n == bestN:
			ties++
			if rand.IntN(ties) == 0 {
				best = u
			}
		}
	}
	return best
}
