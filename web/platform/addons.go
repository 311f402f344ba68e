package platform

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
)

func (s *Server) addonRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /apps/{app}/addons", s.addonList)
	m.HandleFunc("GET /apps/{app}/addons/{addon}", s.addonInfo)
	m.HandleFunc("GET /addons", s.addonList)
	m.HandleFunc("GET /addons/{addon}", s.addonInfo)
	m.HandleFunc("GET /addon-attachments", s.attachmentList)
	m.HandleFunc("GET /apps/{app}/addon-attachments", s.attachmentList)
	m.HandleFunc("GET /addons/{addon}/addon-attachments", s.attachmentList)
	m.HandleFunc("POST /actions/addons/resolve", s.resolveAddon)
	m.HandleFunc("POST /actions/addon-attachments/resolve", s.resolveAttachment)
}

type price struct {
	Cents    int    `json:"cents"`
	Unit     string `json:"unit"`
	Contract bool   `json:"contract"`
}

type planRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price price  `json:"price"`
}

type addonRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	App  ref    `json:"app"`
}

// addonResource is Heroku's add-on, with the addon_service and plan
// expanded as the CLI asks (Accept-Expansion).
type addonResource struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	App          ref       `json:"app"`
	AddonService ref       `json:"addon_service"`
	Plan         planRef   `json:"plan"`
	BilledPrice  price     `json:"billed_price"`
	ConfigVars   []string  `json:"config_vars"`
	State        string    `json:"state"`
	ProviderID   string    `json:"provider_id"`
	WebURL       *string   `json:"web_url"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// attachmentResource is Heroku's add-on attachment: the add-on as the app
// sees it (DATABASE → DATABASE_URL).
type attachmentResource struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Addon      addonRef  `json:"addon"`
	App        ref       `json:"app"`
	Namespace  *string   `json:"namespace"`
	ConfigVars []string  `json:"config_vars"`
	WebURL     *string   `json:"web_url"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// addonState: Heroku's add-on states are provisioning, provisioned and
// deprovisioned; dynobox's running add-ons are provisioned.
func addonState(s string) string {
	switch s {
	case "failed", "stopped":
		return "deprovisioned"
	case "starting":
		return "provisioning"
	}
	return "provisioned"
}

func (s *Server) addonResources(info runner.Info) []addonResource {
	out := []addonResource{}
	at := stamp(info.Started)
	for _, a := range info.Addons {
		service, _, _ := strings.Cut(a.Plan, ":")
		plan := a.Plan
		if !strings.Contains(plan, ":") {
			plan = service + ":dev"
		}
		out = append(out, addonResource{
			ID: id("addon:" + s.cfg.Name + ":" + a.Name), Name: a.Name, App: s.appRef(info),
			AddonService: ref{id("service:" + service), service},
			Plan:         planRef{id("plan:" + plan), plan, price{Unit: "month"}},
			BilledPrice:  price{Unit: "month"}, ConfigVars: configKeys(a), State: addonState(a.State),
			ProviderID: a.Name, CreatedAt: at, UpdatedAt: at,
		})
	}
	return out
}

func configKeys(a addons.Status) []string {
	keys := []string{}
	for k := range a.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// attachments: each add-on is attached once, under the name of its
// shortest URL config var (DATABASE_URL → DATABASE, REDIS_URL → REDIS).
func (s *Server) attachments(info runner.Info, only string) []attachmentResource {
	out := []attachmentResource{}
	for _, a := range s.addonResources(info) {
		if only != "" && only != a.ID && only != a.Name {
			continue
		}
		name := ""
		for _, k := range a.ConfigVars { // the shortest: REDIS, not REDIS_TLS
			if base, ok := strings.CutSuffix(k, "_URL"); ok && (name == "" || len(base) < len(name)) {
				name = base
			}
		}
		if name == "" {
			name = strings.ToUpper(a.Name)
		}
		out = append(out, attachmentResource{ID: id("attachment:" + a.ID), Name: name,
			Addon: addonRef{a.ID, a.Name, a.App}, App: a.App, ConfigVars: a.ConfigVars,
			CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
	}
	return out
}

// info is the app for routes that may or may not name it.
func (s *Server) info(r *http.Request) (runner.Info, error) {
	if r.PathValue("app") != "" {
		return s.app(r)
	}
	return s.ctl.Info()
}

func (s *Server) addonList(w http.ResponseWriter, r *http.Request) {
	info, err := s.info(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.addonResources(info))
}

func (s *Server) findAddon(info runner.Info, want string) (addonResource, error) {
	var found []addonResource
	for _, a := range s.addonResources(info) {
		if a.ID == want || a.Name == want || a.AddonService.Name == want || a.Plan.Name == want {
			found = append(found, a)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) > 1 {
		return addonResource{}, &apiError{http.StatusUnprocessableEntity, "multiple_matches",
			"Ambiguous identifier; multiple matching add-ons found: " + want + ".", "add_on"}
	}
	return addonResource{}, notFound("add_on", "Couldn't find that add on: "+want+".")
}

func (s *Server) addonInfo(w http.ResponseWriter, r *http.Request) {
	info, err := s.info(r)
	if err != nil {
		writeError(w, err)
		return
	}
	a, err := s.findAddon(info, r.PathValue("addon"))
	reply(w, http.StatusOK, a, err)
}

func (s *Server) attachmentList(w http.ResponseWriter, r *http.Request) {
	info, err := s.info(r)
	if err != nil {
		writeError(w, err)
		return
	}
	only := r.PathValue("addon")
	if only != "" {
		if _, err := s.findAddon(info, only); err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, s.attachments(info, only))
}

// resolveBody is the body of both resolve actions: the name looked for
// (in Addon or AddonAttachment), and optionally the app.
type resolveBody struct {
	Addon           string `json:"addon"`
	AddonAttachment string `json:"addon_attachment"`
	App             string `json:"app"`
	AddonService    string `json:"addon_service"`
}

// checkApp: a resolve may name the app; another one is not found.
func (s *Server) checkApp(name string) error {
	if name != "" && name != s.cfg.Name && name != id("app:"+s.cfg.Name) {
		return notFound("app", "Couldn't find that app.")
	}
	return nil
}

// readResolve decodes a resolve action and checks its app: it returns the
// app's add-ons and the body, with the name's "APP::" prefix dropped.
func (s *Server) readResolve(r *http.Request) (runner.Info, resolveBody, error) {
	var body resolveBody
	if err := decode(r, &body); err != nil {
		return runner.Info{}, body, err
	}
	if err := s.checkApp(body.App); err != nil {
		return runner.Info{}, body, err
	}
	for _, name := range []*string{&body.Addon, &body.AddonAttachment} {
		if _, after, ok := strings.Cut(*name, "::"); ok {
			*name = after
		}
	}
	info, err := s.ctl.Info()
	return info, body, err
}

// resolveAddon is how addons:info finds an add-on by name: a list of the
// matches (the CLI wants exactly one).
func (s *Server) resolveAddon(w http.ResponseWriter, r *http.Request) {
	info, body, err := s.readResolve(r)
	if err != nil {
		writeError(w, err)
		return
	}
	want := body.Addon
	a, err := s.findAddon(info, want)
	if err != nil {
		// an attachment name (DATABASE) names its add-on too
		for _, att := range s.attachments(info, "") {
			if strings.EqualFold(att.Name, want) {
				a, err = s.findAddon(info, att.Addon.ID)
			}
		}
	}
	reply(w, http.StatusOK, []addonResource{a}, err)
}

func (s *Server) resolveAttachment(w http.ResponseWriter, r *http.Request) {
	info, body, err := s.readResolve(r)
	if err != nil {
		writeError(w, err)
		return
	}
	want := body.AddonAttachment
	for _, att := range s.attachments(info, "") {
		if strings.EqualFold(att.Name, want) || att.ID == want {
			writeJSON(w, http.StatusOK, []attachmentResource{att})
			return
		}
	}
	writeError(w, notFound("add_on attachment", "Couldn't find that add on attachment: "+want+"."))
}
