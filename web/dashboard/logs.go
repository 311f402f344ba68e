package dashboard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dynobox/dynobox/runner/logbus"
)

// Log stream tuning: lines are sent in one event per flushEvery at most,
// so a dyno printing 10,000 lines a second costs the browser 20 messages a
// second, not 10,000; an event holds at most maxEventLines (the newest:
// the page cannot show more anyway) and says how many it skipped.
const (
	flushEvery    = 50 * time.Millisecond
	maxEventLines = 5000
	keepAlive     = 15 * time.Second
	maxHistory    = 2000
)

// logLine is one line in the stream, with short keys: the stream carries
// thousands a second.
type logLine struct {
	Time    int64  `json:"t"` // Unix milliseconds
	Source  string `json:"s"`
	Process string `json:"p"`
	Text    string `json:"x"`
}

type logEvent struct {
	Lines   []logLine `json:"lines"`
	Missed  int64     `json:"missed,omitempty"`  // dropped because this stream fell behind
	History bool      `json:"history,omitempty"` // lines from before the stream opened
}

// serveLogs is GET /api/dash/logs?type=&dyno=&source=&n=: a Server-Sent
// Events stream of the last n lines passing the filter, then every new
// one. Secret config var values in lines are masked. Like `logs --tail`,
// a stream that falls behind misses lines (and says how many) instead of
// slowing the dynos.
func (d *Dashboard) serveLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := 500
	if s := q.Get("n"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v >= 0 {
			n = min(v, maxHistory)
		}
	}
	f := logbus.Filter{Type: q.Get("type"), Dyno: q.Get("dyno"), Source: q.Get("source")}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	sub := d.app.Logs().Subscribe(f, 1024) // before the history, so no line falls between
	defer sub.Close()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	mask := d.logMasker()
	send := func(ev logEvent) error {
		bw.WriteString("event: lines\ndata: ")
		enc.Encode(ev) // ends in '\n'; JSON has no raw newlines
		bw.WriteString("\n")
		if err := bw.Flush(); err != nil {
			return err
		}
		flusher.Flush()
		return nil
	}
	fmt.Fprintf(bw, "retry: 1000\n\n")
	hist := logEvent{History: true, Lines: []logLine{}}
	for _, l := range d.app.Logs().Recent(n, f) {
		hist.Lines = append(hist.Lines, logLine{l.Time.UnixMilli(), l.Source, l.Process, mask.Replace(l.Text)})
	}
	if send(hist) != nil {
		return
	}

	var pending []logLine
	var skipped int64
	timer := time.NewTimer(flushEvery)
	timer.Stop()
	armed := false
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			bw.WriteString(": ping\n\n")
			if bw.Flush() != nil {
				return
			}
			flusher.Flush()
		case b, ok := <-sub.C:
			if !ok {
				return
			}
			b.Lines(func(text []byte) {
				pending = append(pending, logLine{b.Time.UnixMilli(), b.Source, b.Process, mask.Replace(string(text))})
			})
			if len(pending) > 2*maxEventLines {
				skipped += int64(len(pending) - maxEventLines)
				pending = append(pending[:0], pending[len(pending)-maxEventLines:]...)
			}
			if !armed {
				timer.Reset(flushEvery)
				armed = true
			}
		case <-timer.C:
			armed = false
			if len(pending) > maxEventLines {
				skipped += int64(len(pending) - maxEventLines)
				pending = pending[len(pending)-maxEventLines:]
			}
			ev := logEvent{Lines: pending, Missed: sub.TakeMissed() + skipped}
			if send(ev) != nil {
				return
			}
			pending, skipped = nil, 0
			mask = d.logMasker()
		}
	}
}
