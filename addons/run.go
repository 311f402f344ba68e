package addons

import (
	"context"
	"time"
)

// StopTimeout bounds an add-on's stop once its Run's context ends (Redis
// writing its last snapshot, Postgres' fast shutdown).
const StopTimeout = 30 * time.Second

// Run is the add-on's lifecycle over Start and Stop (see Addon.Run).
func (p *Postgres) Run(ctx context.Context, ready func()) error {
	return runStartStop(ctx, ready, p.Start, p.Stop)
}

// Run is the add-on's lifecycle over Start and Stop (see Addon.Run).
func (r *Redis) Run(ctx context.Context, ready func()) error {
	return runStartStop(ctx, ready, r.Start, r.Stop)
}

// Run is the add-on's lifecycle over Start and Stop (see Addon.Run).
func (k *Kafka) Run(ctx context.Context, ready func()) error {
	return runStartStop(ctx, ready, k.Start, k.Stop)
}

// runStartStop runs start (bounded by ctx), calls ready, waits for ctx to
// end, and runs stop within StopTimeout. The Start and Stop methods stay
// for the tests that drive a server step by step and for Destroy.
func runStartStop(ctx context.Context, ready func(), start, stop func(context.Context) error) error {
	if err := start(ctx); err != nil {
		return err
	}
	ready()
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopTimeout)
	defer cancel()
	return stop(stopCtx)
}
