package build

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Release is what a buildpack's bin/release says about the app (Heroku's
// classic buildpack API): default process types, add-ons to provision and
// config var defaults.
type Release struct {
	ProcessTypes map[string]string `json:"default_process_types,omitempty"`
	Addons       []string          `json:"addons,omitempty"`
	ConfigVars   map[string]string `json:"config_vars,omitempty"`
}

// ReleaseFile is where the last build keeps the merged releases of its
// buildpacks, in the app's .dynobox directory and in the state directory.
const ReleaseFile = "buildpack-release.json"

// ParseRelease reads bin/release's output: the small YAML subset Heroku's
// buildpacks print (two-level maps of scalars, a list of add-ons, inline
// empty {} and [], quoted or plain scalars, # comments). Anything else is
// an error naming the line, rather than a silent misread.
func ParseRelease(text string) (Release, error) {
	r := Release{}
	section := ""
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimRight(stripComment(raw), " \t\r")
		if strings.TrimSpace(line) == "" || line == "---" {
			continue
		}
		n := i + 1
		indented := line[0] == ' ' || line[0] == '\t'
		body := strings.TrimSpace(line)
		if !indented {
			key, val, ok := strings.Cut(body, ":")
			if !ok {
				return r, fmt.Errorf("line %d: want \"key:\", got %q", n, body)
			}
			section = strings.TrimSpace(key)
			val = strings.TrimSpace(val)
			switch {
			case val == "" || val == "{}" || val == "[]":
			case strings.HasPrefix(val, "[") && strings.HasSuffix(val, "]") && section == "addons":
				for _, a := range strings.Split(val[1:len(val)-1], ",") {
					if a = unquote(strings.TrimSpace(a)); a != "" {
						r.Addons = append(r.Addons, a)
					}
				}
			default:
				return r, fmt.Errorf("line %d: %s takes a map or a list, got %q", n, section, val)
			}
			continue
		}
		if section == "" {
			return r, fmt.Errorf("line %d: indented line outside a section", n)
		}
		if item, ok := strings.CutPrefix(body, "- "); ok {
			if section != "addons" {
				return r, fmt.Errorf("line %d: a list item under %s", n, section)
			}
			r.Addons = append(r.Addons, unquote(strings.TrimSpace(item)))
			continue
		}
		key, val, ok := strings.Cut(body, ":")
		if !ok {
			return r, fmt.Errorf("line %d: want \"key: value\", got %q", n, body)
		}
		key, val = unquote(strings.TrimSpace(key)), unquote(strings.TrimSpace(val))
		switch section {
		case "default_process_types":
			if r.ProcessTypes == nil {
				r.ProcessTypes = map[string]string{}
			}
			r.ProcessTypes[key] = val
		case "config_vars":
			if r.ConfigVars == nil {
				r.ConfigVars = map[string]string{}
			}
			r.ConfigVars[key] = val
		default:
			// Unknown sections are ignored, as Heroku ignores them.
		}
	}
	return r, nil
}

// stripComment drops a # comment outside quotes.
func stripComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i]
		}
	}
	return s
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"') {
		return strings.ReplaceAll(strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`), `\\`, `\`)
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// merge lays next over r: later buildpacks' defaults win, as the last
// buildpack's release does on Heroku.
func (r *Release) merge(next Release) {
	for k, v := range next.ProcessTypes {
		if r.ProcessTypes == nil {
			r.ProcessTypes = map[string]string{}
		}
		r.ProcessTypes[k] = v
	}
	for k, v := range next.ConfigVars {
		if r.ConfigVars == nil {
			r.ConfigVars = map[string]string{}
		}
		r.ConfigVars[k] = v
	}
	r.Addons = append(r.Addons, next.Addons...)
}

// types lists the default process types, sorted.
func (r Release) types() []string {
	var t []string
	for k := range r.ProcessTypes {
		t = append(t, k)
	}
	sort.Strings(t)
	return t
}

// saveRelease writes r where ReleaseEnv (the state directory) and, for
// buildpacks (appDir not ""), LoadApp (the app's .dynobox) find it; an
// empty release removes it.
func saveRelease(appDir, stateDir string, r Release) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	var dirs []string
	if stateDir != "" {
		dirs = append(dirs, stateDir)
	}
	if appDir != "" {
		dirs = append(dirs, filepath.Join(appDir, ".dynobox"))
	}
	for _, dir := range dirs {
		path := filepath.Join(dir, ReleaseFile)
		if len(r.ProcessTypes) == 0 && len(r.ConfigVars) == 0 && len(r.Addons) == 0 {
			os.Remove(path)
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// LoadRelease reads the release the last buildpack build of the app in
// dir (its .dynobox, or a state directory) saved; empty when none did.
func LoadRelease(dir string) Release {
	var r Release
	raw, err := os.ReadFile(filepath.Join(dir, ReleaseFile))
	if err == nil {
		json.Unmarshal(raw, &r)
	}
	return r
}
