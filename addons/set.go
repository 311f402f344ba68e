package addons

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
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
// while it runs.
type Set struct {
	// StopTimeout bounds the stop of each add-on once Run's context ends
	// (a Redis writing its last snapshot); zero means 30 seconds.
	StopTimeout time.Duration

	mu      sync.Mutex
	list    []Addon
	states  map[string]string
	ran     bool
	stopped bool // Run is stopping: Add refuses, so nothing outlives it
	ready   chan struct{}
	adding  sync.WaitGroup // Adds under way
}

// NewSet holds list; nothing starts until Run.
func NewSet(list ...Addon) *Set {
	s := &Set{list: list, states: map[string]string{}, ready: make(chan struct{})}
	for _, a := range list {
		s.states[a.Name()] = StateStopped
	}
	return s
}

// Ready is closed once Run has started every add-on.
func (s *Set) Ready() <-chan struct{} { return s.ready }

// Run starts every add-on at once and closes Ready when all accept
// connections; if one fails, it stops those that started and returns the
// error, which names the add-on and the cause (Ready stays open). Once up,
// it runs until ctx ends, then stops every add-on in the set — those
// Added meanwhile too — each within StopTimeout, and returns an error
// naming each add-on whose stop failed (a Redis that could not save its
// last writes), so the caller can exit non-zero. A Set runs once.
func (s *Set) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("add-ons: a set runs once")
	}
	s.ran = true
	s.mu.Unlock()
	if err := s.start(ctx); err != nil {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		return err
	}
	close(s.ready)
	<-ctx.Done()
	timeout := s.StopTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	return s.stop(stopCtx)
}

// start starts every add-on at once; if any fails, the ones that started
// are stopped again.
func (s *Set) start(ctx context.Context) error {
	s.mu.Lock()
	list := append([]Addon(nil), s.list...)
	for _, a := range list {
		s.states[a.Name()] = StateStarting
	}
	s.mu.Unlock()
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, a := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.Start(ctx)
			s.setState(a.Name(), errs[i])
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
		for i, a := range list {
			if errs[i] == nil {
				a.Stop(context.WithoutCancel(ctx))
				s.mu.Lock()
				s.states[a.Name()] = StateStopped
				s.mu.Unlock()
			}
		}
	}
	return first
}

func (s *Set) setState(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.states[name] = StateFailed
	} else {
		s.states[name] = StateUp
	}
}

// Add starts one more add-on and keeps it in the set, which stops it with
// the others when Run ends. It fails once Run is stopping; a stop that
// begins while Add starts an add-on waits for the start.
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
	s.states[a.Name()] = StateStarting
	s.adding.Add(1)
	s.mu.Unlock()
	defer s.adding.Done()
	err := a.Start(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		delete(s.states, a.Name())
		return fmt.Errorf("add-on %s: %w", a.Name(), err)
	}
	s.states[a.Name()] = StateUp
	s.list = append(s.list, a)
	return nil
}

// Remove stops an add-on and drops it from the set; it returns the add-on.
func (s *Set) Remove(ctx context.Context, name string) (Addon, error) {
	return s.remove(ctx, name, false)
}

// Destroy is Remove that also deletes data the add-on keeps outside its
// directory (Destroyer).
func (s *Set) Destroy(ctx context.Context, name string) (Addon, error) {
	return s.remove(ctx, name, true)
}

// drop forgets the add-on called name and returns it (nil if none).
func (s *Set) drop(name string) Addon {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found Addon
	for i, a := range s.list {
		if a.Name() == name {
			found = a
			s.list = append(s.list[:i], s.list[i+1:]...)
			break
		}
	}
	delete(s.states, name)
	return found
}

func (s *Set) remove(ctx context.Context, name string, destroy bool) (Addon, error) {
	found := s.drop(name)
	if found == nil {
		return nil, fmt.Errorf("no add-on named %q", name)
	}
	if d, ok := found.(Destroyer); ok && destroy {
		return found, d.Destroy(ctx)
	}
	return found, found.Stop(ctx)
}

// stop stops every add-on, in parallel, each bounded by ctx, and joins
// their errors.
func (s *Set) stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.adding.Wait()
	s.mu.Lock()
	list := append([]Addon(nil), s.list...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(list))
	for i, a := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Stop(ctx); err != nil {
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
