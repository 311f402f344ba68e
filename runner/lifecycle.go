package runner

import "context"

// goRun runs run — anything that loops has Run(ctx) error — on a
// goroutine of its own until the stop it returns ends it (cancels its
// context) and waits for it, returning Run's error. Constructors start
// nothing; this is where the runner's loops start.
func goRun(run func(context.Context) error) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}
