// Package httpserve runs a server in dynobox's one lifecycle shape:
// Run(ctx) error serves until ctx ends, then shuts the server down and
// returns once it has — no goroutine of its outlives Run.
//
// Its contract: Run returns nil when ctx ended it, or the serve loop's own
// failure (a listener that broke) once the server is shut down. Requests
// in flight get the grace period to finish; what is left then is closed.
// It never prints.
package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Run calls serve, which must block serving until shutdown is called,
// until ctx ends; then it calls shutdown with grace to finish what is in
// flight, and returns once serve has. shutdown's own error (the grace ran
// out) is not Run's: what was left is closed either way.
func Run(ctx context.Context, grace time.Duration, serve func() error, shutdown func(context.Context) error) error {
	served := make(chan error, 1)
	go func() { served <- serve() }()
	var err error
	done := false
	select {
	case err = <-served: // the listener failed: shut down what it accepted
		done = true
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = shutdown(sctx)
	if !done {
		err = <-served
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Server is an HTTP server over a listener it is given.
type Server struct {
	Handler  http.Handler
	Listener net.Listener
	// Grace is how long requests in flight may take to finish once Run's
	// context ends. Their contexts end with it, so that streams (a log
	// tail) stop at once instead of holding the shutdown for the grace.
	Grace time.Duration
}

// Run serves until ctx ends, then shuts down; see Run.
func (s *Server) Run(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	return Run(ctx, s.Grace, func() error { return srv.Serve(s.Listener) }, func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		if err != nil {
			srv.Close()
		}
		return err
	})
}
