package platform

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dynobox/dynobox/runner"
)

// The local account: dynobox has no users, and every release and build is
// this developer's.
const (
	accountEmail = "developer@dynobox.local"
	stackName    = "heroku-24"
	dynoSize     = "Basic"
)

var accountID = id("account")

type ref struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

type userRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

var developer = userRef{ID: accountID, Email: accountEmail}

func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// routes are every endpoint; what is not listed gets notSupported.
func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /account", s.account)
	m.HandleFunc("GET /users/{user}", s.account)
	for _, p := range []string{"/apps", "/users/{user}/apps"} {
		m.HandleFunc("GET "+p, s.appList)
	}
	m.HandleFunc("GET /apps/{app}", s.appInfo)
	m.HandleFunc("GET /apps/{app}/domains", s.domains)
	m.HandleFunc("GET /apps/{app}/builds", s.builds)
	s.dynoRoutes(m)
	s.configRoutes(m)
	s.addonRoutes(m)
	m.HandleFunc("POST /apps/{app}/log-sessions", s.createLogSession)
	m.HandleFunc("GET "+logStreamPath+"{token}", s.streamLogSession)
	m.HandleFunc("/", notSupported)
	s.mux = m
}

// notSupported answers an endpoint of Heroku's API that dynobox lacks —
// or a method an endpoint does not take — naming it.
func notSupported(w http.ResponseWriter, r *http.Request) {
	writeError(w, notFound("", fmt.Sprintf("dynobox's Platform API does not support %s %s (it serves the app's dynos, formation, config vars, releases, add-ons, log sessions, builds and domains)", r.Method, r.URL.Path)))
}

// appResource is Heroku's app.
type appResource struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	ACM               bool      `json:"acm"`
	ArchivedAt        *string   `json:"archived_at"`
	BuildpackProvided *string   `json:"buildpack_provided_description"`
	BuildStack        ref       `json:"build_stack"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
	ReleasedAt        time.Time `json:"released_at"`
	CreateStatus      string    `json:"create_status"`
	GitURL            string    `json:"git_url"`
	InternalRouting   *bool     `json:"internal_routing"`
	Maintenance       bool      `json:"maintenance"`
	Owner             userRef   `json:"owner"`
	Organization      *ref      `json:"organization"`
	Team              *ref      `json:"team"`
	Region            ref       `json:"region"`
	RepoSize          int       `json:"repo_size"`
	SlugSize          int       `json:"slug_size"`
	Space             *ref      `json:"space"`
	Stack             ref       `json:"stack"`
	WebURL            string    `json:"web_url"`
	Generation        ref       `json:"generation"`
	ProcessTier       string    `json:"process_tier"`
	Locked            bool      `json:"locked"`
}

func (s *Server) appRef(info runner.Info) ref {
	return ref{ID: id("app:" + s.cfg.Name), Name: s.cfg.Name}
}

func (s *Server) appResource(info runner.Info) appResource {
	created := stamp(info.Started)
	return appResource{
		ID: id("app:" + s.cfg.Name), Name: s.cfg.Name,
		BuildStack: ref{id("stack:" + stackName), stackName}, Stack: ref{id("stack:" + stackName), stackName},
		CreatedAt: created, UpdatedAt: created, ReleasedAt: created, CreateStatus: "complete",
		GitURL: "", Owner: developer, Region: ref{id("region:local"), "local"},
		WebURL: strings.TrimSuffix(info.Router, "/") + "/", Generation: ref{id("generation:cedar"), "cedar"}, ProcessTier: "basic",
	}
}

// app answers for the app the request names — by name or id — or with
// Heroku's 404.
func (s *Server) app(r *http.Request) (runner.Info, error) {
	name := r.PathValue("app")
	if name != s.cfg.Name && name != id("app:"+s.cfg.Name) {
		return runner.Info{}, notFound("app", fmt.Sprintf("Couldn't find that app. dynobox serves only %q here.", s.cfg.Name))
	}
	return s.ctl.Info()
}

type accountResource struct {
	ID                  string    `json:"id"`
	Email               string    `json:"email"`
	Name                string    `json:"name"`
	AllowTracking       bool      `json:"allow_tracking"`
	Beta                bool      `json:"beta"`
	Verified            bool      `json:"verified"`
	TwoFactor           bool      `json:"two_factor_authentication"`
	DefaultOrganization *ref      `json:"default_organization"`
	DefaultTeam         *ref      `json:"default_team"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	LastLogin           time.Time `json:"last_login"`
}

// account is whoami: a local account (dynobox has no users).
func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	if u := r.PathValue("user"); u != "" && u != "~" && u != accountEmail && u != accountID {
		writeError(w, notFound("user", "Couldn't find that user."))
		return
	}
	now := stamp(s.cfg.Now())
	writeJSON(w, http.StatusOK, accountResource{ID: accountID, Email: accountEmail, Name: "dynobox developer",
		Verified: true, CreatedAt: now, UpdatedAt: now, LastLogin: now})
}

func (s *Server) appList(w http.ResponseWriter, r *http.Request) {
	if u := r.PathValue("user"); u != "" && u != "~" && u != accountEmail && u != accountID {
		writeError(w, notFound("user", "Couldn't find that user."))
		return
	}
	info, err := s.ctl.Info()
	reply(w, http.StatusOK, []appResource{s.appResource(info)}, err)
}

func (s *Server) appInfo(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.appResource(info))
}

type domainResource struct {
	ID        string    `json:"id"`
	App       ref       `json:"app"`
	Hostname  string    `json:"hostname"`
	Kind      string    `json:"kind"`
	CNAME     *string   `json:"cname"`
	Status    string    `json:"status"`
	ACMStatus *string   `json:"acm_status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// domains lists the router's address as the app's Heroku domain
// (APP.herokuapp.com on Heroku): host and port, as a browser needs them.
func (s *Server) domains(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	host := info.Router
	if u, err := url.Parse(info.Router); err == nil && u.Host != "" {
		host = u.Host
	}
	at := stamp(info.Started)
	writeJSON(w, http.StatusOK, []domainResource{{ID: id("domain:" + host), App: s.appRef(info), Hostname: host,
		Kind: "heroku", Status: "none", CreatedAt: at, UpdatedAt: at}})
}

type buildResource struct {
	ID              string    `json:"id"`
	App             ref       `json:"app"`
	Status          string    `json:"status"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	OutputStreamURL *string   `json:"output_stream_url"`
	SourceBlob      struct {
		URL     *string `json:"url"`
		Version *string `json:"version"`
	} `json:"source_blob"`
	Buildpacks []struct{} `json:"buildpacks"`
	Release    *ref       `json:"release"`
	Slug       *ref       `json:"slug"`
	Stack      string     `json:"stack"`
	User       userRef    `json:"user"`
}

// builds lists the builds, oldest first as Heroku does.
func (s *Server) builds(w http.ResponseWriter, r *http.Request) {
	info, err := s.app(r)
	if err != nil {
		writeError(w, err)
		return
	}
	list, err := s.ctl.Builds(200)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []buildResource{}
	for i := len(list) - 1; i >= 0; i-- {
		b := list[i]
		st := b.Status
		switch st {
		case "succeeded", "failed":
		default:
			st = "pending"
		}
		out = append(out, buildResource{ID: b.ID, App: s.appRef(info), Status: st,
			CreatedAt: stamp(b.Started), UpdatedAt: stamp(b.Started.Add(b.Duration)),
			Buildpacks: []struct{}{}, Stack: stackName, User: developer})
	}
	writeJSON(w, http.StatusOK, out)
}
