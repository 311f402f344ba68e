// Package addons runs an app's backing services — Postgres, Redis and a
// Kafka-protocol broker — on loopback, and hands back the config vars that
// Heroku's add-ons set (DATABASE_URL, REDIS_URL, KAFKA_URL …).
//
// Its contract: every add-on is one Addon — Run starts it, says when it
// accepts connections (or returns the reason it cannot), and stops it,
// bounded, when its context ends; Env is its config vars — and a Set runs
// several: Set.Run starts them
// at once (when one fails, it stops those that started), closes Ready when
// all are up, and stops them all, added ones too, when its context ends,
// returning what failed to stop. It never prints nor exits: an
// add-on's own output goes to the log function it is given.
package addons

import (
	"context"
)

// Addon is one backing service. New… constructors have no side effects;
// Run is its whole lifecycle.
type Addon interface {
	// Name is the add-on's name as `dynobox addons` lists it, e.g.
	// "heroku-postgresql" or the attachment name given with --as.
	Name() string
	// Plan is what was asked for, e.g. "heroku-postgresql:essential-0".
	Plan() string
	// Run starts the service and calls ready once it accepts
	// connections; a start that fails returns at once, leaving nothing
	// running. Then it serves until ctx ends, stops the service within
	// StopTimeout and returns what failed to stop (a Redis that could
	// not save its last writes).
	Run(ctx context.Context, ready func()) error
	// Env is the config vars the add-on sets (valid once ready).
	Env() map[string]string
	// Addr is where it listens, e.g. "127.0.0.1:5432" (valid once ready).
	Addr() string
}

// Options are what every add-on gets from dynobox.
type Options struct {
	// Dir is the add-on's own directory inside the app's state directory
	// (mode 0700), where it keeps data, passwords, certificates and ports.
	Dir string
	// As is the attachment name (--as NAME → NAME_URL); "" for the default.
	As string
	// Ephemeral: throwaway data, removed by Stop (dynobox run --ephemeral).
	Ephemeral bool
	// Log receives the add-on's own log lines, one call per line, without
	// the newline; dynobox puts them on the log bus as app[<Name()>].
	Log func(line string)
	// Session is the dynobox session's marker (runner.SessionVar): an
	// add-on's own child processes carry it in their environment, so the
	// watchdog and the next start find them after a kill -9 of dynobox.
	Session string
}
