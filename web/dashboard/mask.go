package dashboard

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
)

// Masked stands in for a hidden secret.
const Masked = "••••••••"

// Mask hides the secret part of a config var's value by runner's one
// policy (runner.MaskSecret), as `dynobox addons` does without --reveal:
// a URL's password, a PEM block's body, or the whole value of a key-,
// token-, password- or secret-named var. It reports whether anything was
// hidden.
func Mask(key, value string) (string, bool) {
	return runner.MaskSecret(key, value, Masked, " "+Masked)
}

// secretParts are the substrings of a config var that Mask hides: the
// password of a URL, or the whole value. Parts shorter than 6 bytes are
// left out: masking "dev" in every log line would hide more than secrets.
func secretParts(key, value string) []string {
	masked, ok := Mask(key, value)
	if !ok || strings.HasPrefix(value, "-----BEGIN ") {
		return nil
	}
	var parts []string
	if masked != Masked {
		if u, err := url.Parse(value); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok {
				parts = append(parts, p)
				if esc := url.QueryEscape(p); esc != p {
					parts = append(parts, esc)
				}
			}
		}
	} else {
		parts = append(parts, value)
	}
	out := parts[:0]
	for _, p := range parts {
		if len(p) >= 6 && !strings.Contains(p, "\n") {
			out = append(out, p)
		}
	}
	return out
}

// logMasker returns a replacer that masks the app's secret config var
// values in log lines, rebuilt at most every two seconds.
func (d *Dashboard) logMasker() *strings.Replacer {
	d.secretsMu.Lock()
	defer d.secretsMu.Unlock()
	if d.secrets != nil && time.Since(d.secretsAt) < 2*time.Second {
		return d.secrets
	}
	var parts []string
	if d.app != nil {
		if vars, err := d.app.Config(); err == nil {
			for _, v := range vars {
				parts = append(parts, secretParts(v.Key, v.Value)...)
			}
		}
	}
	// Longest first, so a value containing another is masked whole.
	sort.Slice(parts, func(i, j int) bool { return len(parts[i]) > len(parts[j]) })
	var pairs []string
	for _, p := range parts {
		pairs = append(pairs, p, Masked)
	}
	d.secrets = strings.NewReplacer(pairs...)
	d.secretsAt = time.Now()
	return d.secrets
}

// maskedVar is a config var as the dashboard shows it.
type maskedVar struct {
	runner.ConfigVar
	Masked bool `json:"masked,omitempty"`
}

// maskedAddon is an add-on with its secret config var values hidden;
// Masked lists the vars whose value was changed.
type maskedAddon struct {
	addons.Status
	Masked []string `json:"masked,omitempty"`
}

type maskedInfo struct {
	runner.Info
	Addons []maskedAddon `json:"addons"`
}

func maskStatus(st addons.Status) maskedAddon {
	out := maskedAddon{Status: st}
	out.Config = make(map[string]string, len(st.Config))
	for k, v := range st.Config {
		m, ok := Mask(k, v)
		out.Config[k] = m
		if ok {
			out.Masked = append(out.Masked, k)
		}
	}
	sort.Strings(out.Masked)
	return out
}

func maskConfig(body []byte) (any, error) {
	var vars []runner.ConfigVar
	if err := json.Unmarshal(body, &vars); err != nil {
		return nil, err
	}
	out := make([]maskedVar, len(vars))
	for i, v := range vars {
		out[i].ConfigVar = v
		out[i].Value, out[i].Masked = Mask(v.Key, v.Value)
	}
	return out, nil
}

func maskAddons(body []byte) (any, error) {
	var list []addons.Status
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	out := make([]maskedAddon, len(list))
	for i, st := range list {
		out[i] = maskStatus(st)
	}
	return out, nil
}

func maskInfo(body []byte) (any, error) {
	var info runner.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, err
	}
	out := maskedInfo{Info: info, Addons: make([]maskedAddon, len(info.Addons))}
	for i, st := range info.Addons {
		out.Addons[i] = maskStatus(st)
	}
	return out, nil
}

// maskReply runs an API handler into a buffer and passes a successful
// reply through mask before it reaches the browser. Errors pass as they
// are; a reply mask cannot read is withheld rather than passed unmasked.
func maskReply(h http.Handler, mask func([]byte) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if rec.code != http.StatusOK {
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			w.Write(rec.body.Bytes())
			return
		}
		v, err := mask(rec.body.Bytes())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorReply{"dashboard: cannot mask the API's reply: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
}

// recorder is a ResponseWriter that keeps the reply.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	return r.body.Write(p)
}
