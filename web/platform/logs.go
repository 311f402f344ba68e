package platform

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
)

// logStreamPath is where log sessions stream. Like Logplex's URLs, a
// session's URL is its credential: the CLI reads it with EventSource,
// which sends no Authorization header.
const logStreamPath = "/log-sessions/stream/"

// sessionTTL bounds how long a log session's URL works; the CLI opens it
// at once (and re-opens it when a tail's connection drops).
const sessionTTL = time.Hour

type logSession struct {
	filter  logbus.Filter
	lines   int
	tail    bool
	expires time.Time
}

type logSessionResource struct {
	ID         string    `json:"id"`
	LogplexURL string    `json:"logplex_url"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// createLogSession is `heroku logs`: POST {dyno, lines, source, tail}
// returns the URL that streams the lines. dyno is a dyno's name (web.1)
// or, from `logs -p web`, a process type.
func (s *Server) createLogSession(w http.ResponseWriter, r *http.Request) {
	if _, err := s.app(r); err != nil {
		writeError(w, err)
		return
	}
	var body struct {
		Dyno   string `json:"dyno"`
		Lines  *int   `json:"lines"`
		Source string `json:"source"`
		Tail   bool   `json:"tail"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	sess := logSession{lines: 100, tail: body.Tail, filter: logbus.Filter{Source: body.Source}}
	if body.Lines != nil {
		if *body.Lines < 0 {
			writeError(w, invalid("lines must be 0 or more"))
			return
		}
		sess.lines = min(*body.Lines, runner.HistoryLines)
	}
	if strings.Contains(body.Dyno, ".") {
		sess.filter.Dyno = body.Dyno
	} else {
		sess.filter.Type = body.Dyno
	}
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	now := s.cfg.Now()
	sess.expires = now.Add(sessionTTL)
	s.mu.Lock()
	for t, old := range s.sessions {
		if now.After(old.expires) {
			delete(s.sessions, t)
		}
	}
	s.sessions[token] = sess
	s.mu.Unlock()
	at := stamp(now)
	writeJSON(w, http.StatusCreated, logSessionResource{ID: id("log-session:" + token),
		LogplexURL: "http://" + r.Host + logStreamPath + token, CreatedAt: at, UpdatedAt: at})
}

// streamLogSession sends the session's lines in Logplex format as
// server-sent events (one event per line, as the CLI reads them); with
// tail it follows the log until the client goes away, else it ends. A
// tail that falls behind gets Logplex's L10 line instead of slowing the
// bus.
func (s *Server) streamLogSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	sess, ok := s.sessions[r.PathValue("token")]
	s.mu.Unlock()
	if !ok || s.cfg.Now().After(sess.expires) {
		writeError(w, notFound("log_session", "Couldn't find that log session: create one with POST /apps/{app}/log-sessions."))
		return
	}
	hub := s.ctl.Logs()
	var sub *logbus.Subscription
	if sess.tail { // subscribe before reading history, so no line falls between
		sub = hub.Subscribe(sess.filter, 1024)
		defer sub.Close()
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	flusher, _ := w.(http.Flusher)
	flush := func() error {
		err := bw.Flush()
		if flusher != nil {
			flusher.Flush()
		}
		return err
	}
	event := func(l logbus.Line) {
		bw.WriteString("data: ")
		bw.WriteString(strings.ReplaceAll(l.String(), "\r", ""))
		bw.WriteString("\n\n")
	}
	if r.Header.Get("Last-Event-ID") == "" { // a reconnecting tail has had the history
		for _, l := range hub.Recent(sess.lines, sess.filter) {
			event(l)
		}
	}
	bw.WriteString("id: tail\n\n") // EventSource sends it back when it reconnects
	if err := flush(); err != nil || !sess.tail {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case b, ok := <-sub.C:
			if !ok {
				return
			}
			if missed := sub.TakeMissed(); missed > 0 {
				event(logbus.Line{Time: time.Now(), Source: logbus.SourceHeroku, Process: "logplex",
					Text: fmt.Sprintf("Error L10 (output buffer overflow): %d messages dropped since this tail fell behind", missed)})
			}
			b.Lines(func(text []byte) {
				event(logbus.Line{Time: b.Time, Source: b.Source, Process: b.Process, Text: string(text)})
			})
			if len(sub.C) == 0 {
				if err := flush(); err != nil {
					return
				}
			}
		}
	}
}
