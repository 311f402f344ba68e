package platform

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *Server) configRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /apps/{app}/config-vars", s.configVars)
	m.HandleFunc("PATCH /apps/{app}/config-vars", s.updateConfigVars)
	m.HandleFunc("GET /apps/{app}/releases", s.releaseList)
	m.HandleFunc("GET /apps/{app}/releases/{release}", s.releaseInfo)
	m.HandleFunc("GET /apps/{app}/releases/{release}/config-vars", s.releaseConfigVars)
	m.HandleFunc("POST /apps/{app}/releases", s.rollback)
}

// configVars are every config var the dynos see, add-on vars among them,
// as Heroku lists them.
func (s *Server) configVars(w http.ResponseWriter, r *http.Request) {
	if _, err := s.app(r); err != nil {
		writeError(w, err)
		return
	}
	vars, err := s.currentConfig()
	reply(w, http.StatusOK, vars, err)
}

func (s *Server) currentConfig() (map[string]string, error) {
	list, err := s.ctl.Config()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(list))
	for _, v := range list {
		out[v.Key] = v.Value
	}
	return out, nil
}

// updateConfigVars is config:set and config:unset: a null value unsets.
// As on Heroku, the change is a new release and restarts the dynos.
func (s *Server) updateConfigVars(w http.ResponseWriter, r *http.Request) {
	if _, err := s.app(r); err != nil {
		writeError(w, err)
		return
	}
	var body map[string]*string
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	set := map[string]string{}
	var unset []string
	for k, v := range body {
		if v == nil {
			unset = append(unset, k)
		} else {
			set[k] = *v
		}
	}
	sort.Strings(unset)
	if len(set) == 0 && len(unset) == 0 {
		writeError(w, invalid("no config vars given"))
		return
	}
	if _, err := s.ctl.SetConfig(set, unset); err != nil {
		writeError(w, err)
		return
	}
	vars, err := s.currentConfig()
	reply(w, http.StatusOK, vars, err)
}

// releaseResource is Heroku's release.
type releaseResource struct {
	ID                  string    `json:"id"`
	Version             int       `json:"version"`
	Description         string    `json:"description"`
	Status              string    `json:"status"`
	Current             bool      `json:"current"`
	EligibleForRollback bool      `json:"eligible_for_rollback"`
	AddonPlanNames      []string  `json:"addon_plan_names"`
	App                 ref       `json:"app"`
	User                userRef   `json:"user"`
	Slug                *ref      `json:"slug"`
	OutputStreamURL     *string   `json:"output_stream_url"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	config              map[string]string
}

func releaseID(app string, version int) string { return id(fmt.Sprintf("release:%s:%d", app, version)) }

// releases are the app's releases, newest first.
func (s *Server) releases(r *http.Request) ([]releaseResource, error) {
	info, err := s.app(r)
	if err != nil {
		return nil, err
	}
	list, err := s.ctl.Releases()
	if err != nil {
		return nil, err
	}
	var plans []string
	for _, a := range info.Addons {
		plans = append(plans, a.Plan)
	}
	if plans == nil {
		plans = []string{}
	}
	out := make([]releaseResource, 0, len(list))
	for _, rel := range list {
		st := rel.Status
		if st == "" {
			st = "succeeded"
		}
		var slug *ref
		if rel.BuildID != "" {
			slug = &ref{ID: id("slug:" + rel.BuildID)}
		}
		at := stamp(rel.CreatedAt)
		out = append(out, releaseResource{ID: releaseID(s.cfg.Name, rel.Version), Version: rel.Version,
			Description: rel.Description, Status: st, Current: rel.Version == info.Release,
			EligibleForRollback: st == "succeeded", AddonPlanNames: plans, App: s.appRef(info), User: developer,
			Slug: slug, CreatedAt: at, UpdatedAt: at, config: rel.Config})
	}
	return out, nil
}

// rangeHeader is the part of Heroku's Range header that matters for
// releases: `version ..; max=15, order=desc` (the CLI also sends
// `order=desc,max=1`). Without one, releases come oldest first, all of
// them (Heroku's first page is 200: see the package comment).
var (
	rangeMax   = regexp.MustCompile(`max=(\d+)`)
	rangeOrder = regexp.MustCompile(`order=(asc|desc)`)
)

func (s *Server) releaseList(w http.ResponseWriter, r *http.Request) {
	rels, err := s.releases(r)
	if err != nil {
		writeError(w, err)
		return
	}
	rng := r.Header.Get("Range")
	max := len(rels)
	if m := rangeMax.FindStringSubmatch(rng); m != nil {
		max, _ = strconv.Atoi(m[1])
		max = min(max, 1000)
	}
	if m := rangeOrder.FindStringSubmatch(rng); m == nil || m[1] == "asc" {
		for i, j := 0, len(rels)-1; i < j; i, j = i+1, j-1 {
			rels[i], rels[j] = rels[j], rels[i]
		}
	}
	rels = rels[:min(max, len(rels))]
	writeJSON(w, http.StatusOK, rels)
}

// release finds one by version ("7", "v7") or id.
func (s *Server) release(r *http.Request) (releaseResource, error) {
	rels, err := s.releases(r)
	if err != nil {
		return releaseResource{}, err
	}
	want := r.PathValue("release")
	if want == "" {
		want = r.URL.Query().Get("release")
	}
	return findRelease(rels, want)
}

func findRelease(rels []releaseResource, want string) (releaseResource, error) {
	v, verr := strconv.Atoi(strings.TrimPrefix(strings.ToLower(want), "v"))
	for _, rel := range rels {
		if rel.ID == want || (verr == nil && rel.Version == v) {
			return rel, nil
		}
	}
	return releaseResource{}, notFound("release", fmt.Sprintf("Couldn't find that release: %s.", want))
}

func (s *Server) releaseInfo(w http.ResponseWriter, r *http.Request) {
	rel, err := s.release(r)
	reply(w, http.StatusOK, rel, err)
}

func (s *Server) releaseConfigVars(w http.ResponseWriter, r *http.Request) {
	rel, err := s.release(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cfg := rel.config
	if cfg == nil {
		cfg = map[string]string{}
	}
	writeJSON(w, http.StatusOK, cfg)
}

// rollback is releases:rollback: POST {"release": ID or version} makes a
// new release with that one's config vars (and code, when it had a build).
func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Release any `json:"release"`
	}
	if err := decode(r, &body); err != nil {
		writeError(w, err)
		return
	}
	rels, err := s.releases(r)
	if err != nil {
		writeError(w, err)
		return
	}
	want := ""
	switch v := body.Release.(type) {
	case string:
		want = v
	case float64:
		want = strconv.Itoa(int(v))
	default:
		writeError(w, invalid("release is required: the id or version of the release to roll back to"))
		return
	}
	target, err := findRelease(rels, want)
	if err != nil {
		writeError(w, err)
		return
	}
	rel, err := s.ctl.Rollback(target.Version)
	if err != nil {
		writeError(w, err)
		return
	}
	rels, err = s.releases(r)
	if err == nil {
		var got releaseResource
		if got, err = findRelease(rels, strconv.Itoa(rel.Version)); err == nil {
			writeJSON(w, http.StatusCreated, got)
			return
		}
	}
	writeError(w, err)
}
