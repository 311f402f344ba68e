package addons

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// State of an add-on in a Set, as `dynobox addons` shows it.
const (
	StateStopped  = "stopped"
	StateStarting = "starting"
	StateUp       = "up"
	StateFailed   = "failed"
	// StateCrashed: the server exited on its own and waits to be
	// restarted (a dyno's word for the same).
	StateCrashed = "crashed"
)

// stater is an add-on that supervises a server of its own and knows when
// it is not up although it started (Postgres after a crash).
type stater interface {
	State() string
}

// Destroyer is an add-on whose data outlives its directory (a database on
// the shared Postgres server): Destroy deletes the data and stops it.
type Destroyer interface {
	Destroy(ctx context.Context) error
}

// Set is the add-ons of one app: started together before any dyno, stopped
// together after the dynos. Its one lifecycle is Run: Ready closes when
// every add-on accepts connections; Add, Remove and Destroy change the set
// while it runs. Each add-on runs its own Run on a goroutine of the set's.
type Set struct {
	mu      sync.Mutex
	list    []Addon
	runs    map[string]*addonRun
	states  map[string]string
	ran     bool
	stopped bool // Run is stopping: Add refuses, so nothing outlives it
	ready   chan struct{}
	adding  sync.WaitGroup // Adds under way
}

// addonRun is one add-on's Run under way: cancel ends it, done has its
// result.
type addonRun struct {
	cancel context.CancelFunc
	done   chan error
}

// end ends the run and waits for its result, or for ctx to end first.
func (r *addonRun) end(ctx context.Context) error {
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("not stopped: %w", context.Cause(ctx))
	}
}

// NewSet holds list; nothing starts until Run.
func NewSet(list ...Addon) *Set {
	s := &Set{list: list, runs: map[string]*addonRun{}, states: map[string]string{}, ready: make(chan struct{})}
	for _, a := range list {
		s.states[a.Name()] = StateStopped
	}
	return s
}

// Ready is closed once Run has started every add-on.
func (s *Set) Ready() <-chan struct{} { return s.ready }

// Run starts every add-on at once and closes Ready when all accept
// connections; if one fails, or ctx ends first, it stops those that
// started and returns the error, which names the add-on and the cause
// (Ready stays open). Once up, it runs until ctx ends, then stops every
// add-on in the set — those Added meanwhile too — and returns an error
// naming each add-on whose stop failed (a Redis that could not save its
// last writes), so the caller can exit non-zero. A Set runs once.
func (s *Set) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("add-ons: a set runs once")
	}
	s.ran = true
	list := append([]Addon(nil), s.list...)
	s.mu.Unlock()
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, a := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.launch(ctx, a)
		}()
	}
	wg.Wait()
	var first error
	for i, err := range errs {
		if err != nil && first == nil {
			first = fmt.Errorf("add-on %s: %w", list[i].Name(), err)
		}
	}
	if first != nil {
		s.stop()
		return first
	}
	close(s.ready)
	<-ctx.Done()
	return s.stop()
}

// launch runs a on a goroutine and returns once it accepts connections, or
// with the reason it cannot (its start failed, or ctx ended first: then it
// is stopped). The add-on's own context is not ctx: it runs until the set
// ends it.
func (s *Set) launch(ctx context.Context, a Addon) error {
	s.mu.Lock()
	s.states[a.Name()] = StateStarting
	s.mu.Unlock()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &addonRun{cancel: cancel, done: make(chan error, 1)}
	up := make(chan struct{})
	go func() {
		var once sync.Once
		r.done <- a.Run(runCtx, func() { once.Do(func() { close(up) }) })
	}()
	var err error
	select {
	case <-up:
	case err = <-r.done:
		if err == nil {
			err = errors.New("stopped before it was ready")
		}
	case <-ctx.Done():
		err = context.Cause(ctx)
		if serr := r.end(context.Background()); serr != nil {
			err = fmt.Errorf("%w: %w", err, serr)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.states[a.Name()] = StateFailed
		cancel()
		return err
	}
	s.states[a.Name()] = StateUp
	s.runs[a.Name()] = r
	return nil
}

// Add starts one more add-on, bounded by ctx, and keeps it in the set,
// which stops it with the others when Run ends. It fails once Run is
// stopping; a stop that begins while Add starts an add-on waits for the
// start.
func (s *Set) Add(ctx context.Context, a Addon) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return errors.New("the add-ons are stopping")
	}
	if _, ok := s.states[a.Name()]; ok {
		s.mu.Unlock()
		return fmt.Errorf("an add-on named %s exists already", a.Name())
	}
	s.adding.Add(1)
	s.mu.Unlock()
	defer s.adding.Done()
	if err := s.launch(ctx, a); err != nil {
		s.mu.Lock()
		delete(s.states, a.Name())
		s.mu.Unlock()
		return fmt.Errorf("add-on %s: %w", a.Name(), err)
	}
	s.mu.Lock()
	s.list = append(s.list, a)
	s.mu.Unlock()
	return nil
}

// Remove stops an add-on, within ctx, and drops it from the set; it
// returns the add-on.
func (s *Set) Remove(ctx context.Context, name string) (Addon, error) {
	return s.remove(ctx, name, false)
}

// Destroy is Remove that also deletes data the add-on keeps outside its
// directory (Destroyer).
func (s *Set) Destroy(ctx context.Context, name string) (Addon, error) {
	return s.remove(ctx, name, true)
}

func (s *Set) remove(ctx context.Context, name string, destroy bool) (Addon, error) {
	s.mu.Lock()
	var found Addon
	for i, a := range s.list {
		if a.Name() == name {
			found = a
			s.list = append(s.list[:i], s.list[i+1:]...)
			break
		}
	}
	r := s.runs[name]
	delete(s.runs, name)
	delete(s.states, name)
	s.mu.Unlock()
	if found == nil {
		return nil, fmt.Errorf("no add-on named %q", name)
	}
	var err error
	if d, ok := found.(Destroyer); ok && destroy {
		err = d.Destroy(ctx) // deletes the data, then stops the server
	}
	if r != nil {
		err = errors.Join(err, r.end(ctx))
	}
	return found, err
}

// stop ends every add-on's run, in parallel, once the Adds under way are
// done, and joins their errors.
func (s *Set) stop() error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.adding.Wait()
	s.mu.Lock()
	list := append([]Addon(nil), s.list...)
	runs := make([]*addonRun, len(list))
	for i, a := range list {
		runs[i] = s.runs[a.Name()]
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, a := range list {
		if runs[i] == nil { // never started (its start failed)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runs[i].end(context.Background()); err != nil {
				errs[i] = fmt.Errorf("stop %s: %w", a.Name(), err)
			}
			s.mu.Lock()
			s.states[a.Name()] = StateStopped
			s.mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Env merges every running add-on's config vars.
func (s *Set) Env() map[string]string {
	s.mu.Lock()
	list := append([]Addon(nil), s.list...)
	s.mu.Unlock()
	env := map[string]string{}
	for _, a := range list {
		for k, v := range a.Env() {
			env[k] = v
		}
	}
	return env
}

// Status describes one add-on of the set.
type Status struct {
	Name   string            `json:"name"`
	Plan   string            `json:"plan"`
	State  string            `json:"state"`
	Addr   string            `json:"address"`
	Config map[string]string `json:"config_vars"`
	// Backend is what serves an add-on that has a choice, e.g. Redis:
	// "redis-server 7.0.15" or "embedded".
	Backend string `json:"backend,omitempty"`
}

// List describes every add-on, in the set's order.
func (s *Set) List() []Status {
	s.mu.Lock()
	list := append([]Addon(nil), s.list...)
	states := make(map[string]string, len(s.states))
	for k, v := range s.states {
		states[k] = v
	}
	s.mu.Unlock()
	out := make([]Status, 0, len(list))
	for _, a := range list {
		st := Status{Name: a.Name(), Plan: a.Plan(), State: states[a.Name()], Config: map[string]string{}}
		if sa, ok := a.(stater); ok && st.State == StateUp {
			st.State = sa.State()
		}
		if st.State == StateUp {
			st.Addr = a.Addr()
			st.Config = a.Env()
			if b, ok := a.(interface{ Backend() string }); ok {
				st.Backend = b.Backend()
			}
		}
		out = append(out, st)
	}
	return out
}
