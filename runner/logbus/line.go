package logbus

import (
	"time"
)

// Line is one log line, copied out of its batch.
type Line struct {
	Time    time.Time
	Source  string
	Process string
	Text    string
}

// String renders the line in Logplex format.
func (l Line) String() string {
	return l.Time.Format(LogplexTime) + " " + l.Source + "[" + l.Process + "]: " + l.Text
}
