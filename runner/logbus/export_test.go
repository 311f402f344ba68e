package logbus

import "time"

// What logbus_test (an external test package, so that it can use
// logbustest) reads or sets inside the package.

// QueueLen is how many batches wait for the sinks.
func QueueLen(b *Bus) int { return len(b.in) }

// SetLocation sets the time zone a terminal prints times in.
func SetLocation(t *Terminal, loc *time.Location) { t.loc = loc }
