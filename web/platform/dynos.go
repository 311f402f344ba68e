package platform

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/runner"
)

func (s *Server) dynoRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /apps/{app}/dynos", s.dynoList)
	m.HandleFunc("GET /apps/{app}/dynos/{dyno}", s.dynoInfo)
	// Restart: all dynos, one dyno, or a process type (the CLI's ps:restart
	// -p says "formations", plural).
	m.HandleFunc("DELETE /apps/{app}/dynos", s.control(restart, ""))
	m.HandleFunc("DELETE /apps/{app}/dynos/{dyno}", s.control(restart, "dyno"))
	m.HandleFunc("DELETE /apps/{app}/formations/{type}", s.control(restart, "type"))
	m.HandleFunc("POST /apps/{app}/dynos/{dyno}/actions/stop", s.control(stop, "dyno"))
	m.HandleFunc("POST /apps/{app}/formations/{type}/actions/stop", s.control(stop, "type"))
	m.HandleFunc("POST /apps/{app}/formation/{type}/actions/stop", s.control(stop, "type"))
	m.HandleFunc("POST /apps/{app}/dynos", s.runDyno)
	m.HandleFunc("GET /apps/{app}/formation", s.formationList)
	m.HandleFunc("GET /apps/{app}/formation/{type}", s.formationInfo)
	m.HandleFunc("PATCH /apps/{app}/formation", s.formationBatch)
	m.HandleFunc("PATCH /apps/{app}/formation/{type}", s.formationUpdate)
}

type releaseRef struct {
	ID      string `json:"id"`
	Version int    `json:"version"`
}

// dynoResource is Heroku's dyno.
type dynoResource struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Type      string     `json:"type"`
	Command   string     `json:"command"`
	State     string     `json:"state"`
	Size      string     `json:"size"`
	AttachURL *string    `json:"attach_url"`
	App       ref        `json:"app"`
	Release   releaseRef `json:"release"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

func (s *Server) dynoResources(info runner.Info) []dynoResource {
	out := []dynoResource{}
	for _, d := range info.Dynos {
		since := stamp(d.Since)
		out = append(out, dynoResource{
			ID: id(fmt.Sprintf("dyno:%s:%s", d.Name, since)), Name: d.Name, Type: d.Type, Command: d.Command,
			State: string(d.State), Size: dynoSize, App: s.appRef(info),
			Release:   releaseRef{releaseID(s.cfg.Name, info.Release), info.Release},
			CreatedAt: since, UpdatedAt: since,
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.oneOffs))
	for n := range s.oneOffs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, s.oneOffs[n].dyno)
	}
	return out
}

func (s *Server) dynoList(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.dynoResources(info))
}

func (s *Server) dynoInfo(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	want := r.PathValue("dyno")
	for _, d := range s.dynoResources(info) {
		if d.Name == want || d.ID == want {
			writeJSON(w, http.StatusOK, d)
			return
		}
	}
	writeError(w, notFound("dyno", fmt.Sprintf("Couldn't find that dyno: %s.", want)))
}

const (
	restart = iota
	stop
)

// control restarts or stops what the path selects: every dyno, one
// (by name) or a process type. Heroku answers 202 with an empty object.
func (s *Server) control(action int, by string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.app(r); err != nil {
			writeError(w, err)
			return
		}
		var sel runner.Select
		switch by {
		case "dyno":
			sel.Dyno = r.PathValue("dyno")
		case "type":
			sel.Type = r.PathValue("type")
		}
		if s.stopOneOffs(sel) {
			writeJSON(w, http.StatusAccepted, struct{}{})
			return
		}
		fn := s.ctl.Restart
		if action == stop {
			fn = s.ctl.StopDynos
		}
		if _, err := fn(sel); err != nil {
			writeError(w, notFound("dyno", err.Error()))
			return
		}
		writeJSON(w, http.StatusAccepted, struct{}{})
	}
}

// stopOneOffs stops the detached one-off dynos sel names, one (run.NNNN)
// or all (type run), and says whether it named any. A restart stops them
// too: as on Heroku, a one-off dyno is never started again.
func (s *Server) stopOneOffs(sel runner.Select) bool {
	s.mu.Lock()
	var stops []func()
	for name, o := range s.oneOffs {
		if name == sel.Dyno || sel.Type == "run" {
			stops = append(stops, o.stop)
		}
	}
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	return len(stops) > 0
}

// runDyno is `heroku run:detached`: a one-off dyno whose output goes to
// the log (heroku logs -d run.NNNN). An attached run (heroku run) needs
// Heroku's rendezvous service, which dynobox lacks: dynobox run does it.
func (s *Server) runDyno(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	var body struct {
		Command string            `json:"command"`
		Attach  *bool             `json:"attach"`
		Env     map[string]string `json:"env"`
		Size    string            `json:"size"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	switch {
	case s.cfg.Run == nil || body.Attach == nil || *body.Attach:
		writeError(w, &apiError{http.StatusUnprocessableEntity, "not_supported",
			"dynobox's Platform API runs detached one-off dynos only (heroku run:detached): for heroku run, use `dynobox run COMMAND`", ""})
		return
	case strings.TrimSpace(body.Command) == "":
		writeError(w, invalid("command is required"))
		return
	case body.Size != "" && !strings.EqualFold(body.Size, dynoSize):
		writeError(w, invalid("dynobox runs every dyno at one size (%s), not %s", dynoSize, body.Size))
		return
	}
	// ps lists it while it runs; its exit may come before Run returns.
	var mu sync.Mutex
	name, gone := "", false
	exited := func() {
		mu.Lock()
		defer mu.Unlock()
		gone = true
		s.mu.Lock()
		delete(s.oneOffs, name)
		s.mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	name, stop, err := s.cfg.Run(body.Command, body.Env, exited)
	if err != nil {
		writeError(w, err)
		return
	}
	now := stamp(s.cfg.Now())
	d := dynoResource{ID: id(fmt.Sprintf("dyno:%s:%s", name, now)), Name: name, Type: "run",
		Command: body.Command, State: "up", Size: dynoSize, App: s.appRef(info),
		Release: releaseRef{releaseID(s.cfg.Name, info.Release), info.Release}, CreatedAt: now, UpdatedAt: now}
	if !gone {
		s.mu.Lock()
		s.oneOffs[name] = oneOff{d, stop}
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusCreated, d)
}

// formationResource is Heroku's formation: one process type's count.
type formationResource struct {
	ID        string    `json:"id"`
	App       ref       `json:"app"`
	Command   string    `json:"command"`
	Quantity  int       `json:"quantity"`
	Size      string    `json:"size"`
	DynoSize  ref       `json:"dyno_size"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (s *Server) formation(info runner.Info) []formationResource {
	types := make([]string, 0, len(info.Formation))
	for t := range info.Formation {
		types = append(types, t)
	}
	sort.Strings(types)
	at := stamp(info.Started)
	out := []formationResource{}
	for _, t := range types {
		out = append(out, formationResource{ID: id("formation:" + s.cfg.Name + ":" + t), App: s.appRef(info),
			Command: info.Commands[t], Quantity: info.Formation[t], Size: dynoSize,
			DynoSize: ref{id("size:" + dynoSize), dynoSize}, Type: t, CreatedAt: at, UpdatedAt: at})
	}
	return out
}

func (s *Server) formationList(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.formation(info))
}

func (s *Server) formationInfo(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	for _, f := range s.formation(info) {
		if f.Type == r.PathValue("type") || f.ID == r.PathValue("type") {
			writeJSON(w, http.StatusOK, f)
			return
		}
	}
	writeError(w, notFound("formation", fmt.Sprintf("Couldn't find that formation: %s.", r.PathValue("type"))))
}

// formationUpdate is one type's change. Quantity is a number, or — as the
// CLI's ps:scale sends it — a string: "3", "+1", "-1".
type formationUpdate struct {
	Type     string          `json:"type"`
	Quantity json.RawMessage `json:"quantity"`
	Size     string          `json:"size"`
}

func (u formationUpdate) change() (runner.ScaleChange, error) {
	if u.Size != "" && !strings.EqualFold(u.Size, dynoSize) {
		return runner.ScaleChange{}, invalid("dynobox runs every dyno at one size (%s), not %s", dynoSize, u.Size)
	}
	var q any
	if err := json.Unmarshal(u.Quantity, &q); err != nil || q == nil {
		return runner.ScaleChange{}, invalid("%s: quantity is required", u.Type)
	}
	c := runner.ScaleChange{Type: u.Type, Op: "="}
	switch v := q.(type) {
	case float64:
		c.N = int(v)
		if float64(c.N) != v || c.N < 0 {
			return c, invalid("%s: quantity %v is not a whole number of dynos", u.Type, v)
		}
	case string:
		str := v
		if str != "" && (str[0] == '+' || str[0] == '-') {
			c.Op, str = str[:1], str[1:]
		}
		n, err := strconv.Atoi(str)
		if err != nil || n < 0 {
			return c, invalid("%s: quantity %q is not a number of dynos", u.Type, v)
		}
		c.N = n
	default:
		return c, invalid("%s: quantity is a number", u.Type)
	}
	return c, nil
}

// scale applies updates all or none and returns the changed formations.
func (s *Server) scale(r *http.Request, updates []formationUpdate) ([]formationResource, error) {
	info, err := s.app(r)
	if err != nil {
		return nil, err
	}
	var changes []runner.ScaleChange
	for _, u := range updates {
		c, err := u.change()
		if err != nil {
			return nil, err
		}
		if _, ok := info.Formation[u.Type]; !ok {
			return nil, notFound("formation", fmt.Sprintf("Couldn't find that process type (%s).", u.Type))
		}
		changes = append(changes, c)
	}
	if len(changes) == 0 {
		return nil, invalid("no formation updates given")
	}
	if _, err := s.ctl.Scale(changes); err != nil {
		return nil, err
	}
	if info, err = s.ctl.Info(); err != nil {
		return nil, err
	}
	out := []formationResource{}
	for _, f := range s.formation(info) {
		for _, c := range changes {
			if c.Type == f.Type {
				out = append(out, f)
				break
			}
		}
	}
	return out, nil
}

func (s *Server) formationBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Updates []formationUpdate `json:"updates"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	out, err := s.scale(r, body.Updates)
	reply(w, http.StatusOK, out, err)
}

func (s *Server) formationUpdate(w http.ResponseWriter, r *http.Request) {
	var u formationUpdate
	if err := decode(r, &u); err != nil {
		writeError(w, err)
		return
	}
	u.Type = r.PathValue("type")
	out, err := s.scale(r, []formationUpdate{u})
	if err == nil && len(out) != 1 {
		err = fmt.Errorf("scaling %s changed no formation", u.Type)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out[0])
}
