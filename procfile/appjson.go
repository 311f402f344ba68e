package procfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// EnvSpec is one entry of app.json's "env": either a plain string (the
// Value) or an object. Required defaults to true, as on Heroku since 2014.
type EnvSpec struct {
	Description string `json:"description,omitempty"`
	Value       string `json:"value,omitempty"`
	Required    bool   `json:"required"`
	Generator   string `json:"generator,omitempty"` // "" or "secret"
}

// FormationSpec is one entry of app.json's "formation". Quantity defaults
// to 1 when absent.
type FormationSpec struct {
	Quantity int    `json:"quantity"`
	Size     string `json:"size,omitempty"`
}

// AddonSpec is one entry of app.json's "addons": "heroku-postgresql" or
// {"plan": ..., "as": ..., "options": ...}.
type AddonSpec struct {
	Plan    string         `json:"plan"`
	As      string         `json:"as,omitempty"`
	Options map[string]any `json:"options,omitempty"`
}

// AppJSON is a parsed app.json. Unknown top-level keys are ignored.
type AppJSON struct {
	Path        string                   `json:"-"`
	Name        string                   `json:"name,omitempty"`
	Description string                   `json:"description,omitempty"`
	Website     string                   `json:"website,omitempty"`
	Repository  string                   `json:"repository,omitempty"`
	Logo        string                   `json:"logo,omitempty"`
	SuccessURL  string                   `json:"success_url,omitempty"`
	Stack       string                   `json:"stack,omitempty"`
	Keywords    []string                 `json:"keywords,omitempty"`
	Env         map[string]EnvSpec       `json:"env,omitempty"`
	Formation   map[string]FormationSpec `json:"formation,omitempty"`
	Addons      []AddonSpec              `json:"addons,omitempty"`
	Scripts     map[string]string        `json:"scripts,omitempty"`
	Buildpacks  []struct {
		URL string `json:"url"`
	} `json:"buildpacks,omitempty"`
	Environments map[string]json.RawMessage `json:"environments,omitempty"` // kept raw for later
}

// ReadAppJSON reads and parses the app.json at path. Errors from reading the
// file are returned as they are, so errors.Is(err, fs.ErrNotExist) works.
func ReadAppJSON(path string) (*AppJSON, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return ParseAppJSON(path, data)
}

// ParseAppJSON parses app.json content; file names it in errors. The error
// is an ErrorList whose problems carry FILE:LINE:COL.
func ParseAppJSON(file string, data []byte) (*AppJSON, error) {
	// Editors hide a BOM, so positions are counted without it.
	data = bytes.TrimPrefix(data, []byte(bom))
	p := &jsonParser{file: file, data: data, lines: lines{data: data}}
	var root json.RawMessage
	if err := json.Unmarshal(p.data, &root); err != nil {
		p.syntaxError(err)
		return nil, p.errs
	}
	rootVal := jval{raw: root, off: leadingJSONSpace(p.data)}
	if k := rootVal.kind(); k != "object" {
		p.errorf(rootVal, "the top level must be an object, not %s", article(k))
		return nil, p.errs
	}

	a := &AppJSON{Path: file}
	strField := map[string]*string{
		"name": &a.Name, "description": &a.Description, "website": &a.Website,
		"repository": &a.Repository, "logo": &a.Logo, "success_url": &a.SuccessURL,
		"stack": &a.Stack,
	}
	for _, m := range p.members(rootVal) {
		if dst, ok := strField[m.key]; ok {
			*dst, _ = p.str(m.val, strconv.Quote(m.key))
			continue
		}
		switch m.key {
		case "keywords":
			for i, e := range p.elems(m.val, `"keywords"`) {
				if s, ok := p.str(e, fmt.Sprintf("keywords[%d]", i)); ok {
					a.Keywords = append(a.Keywords, s)
				}
			}
		case "env":
			a.Env = p.env(m.val)
		case "formation":
			a.Formation = p.formation(m.val)
		case "addons":
			a.Addons = p.addons(m.val)
		case "scripts":
			for _, s := range p.objectMembers(m.val, `"scripts"`) {
				if v, ok := p.str(s.val, fmt.Sprintf("scripts %q", s.key)); ok {
					if a.Scripts == nil {
						a.Scripts = map[string]string{}
					}
					a.Scripts[s.key] = v
				}
			}
		case "buildpacks":
			a.Buildpacks = p.buildpacks(m.val)
		case "environments":
			for _, e := range p.objectMembers(m.val, `"environments"`) {
				if a.Environments == nil {
					a.Environments = map[string]json.RawMessage{}
				}
				a.Environments[e.key] = slices.Clone(e.val.raw)
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return a, nil
}

func (p *jsonParser) env(v jval) map[string]EnvSpec {
	members := p.objectMembers(v, `"env"`)
	if len(members) == 0 {
		return nil
	}
	env := map[string]EnvSpec{}
	for _, m := range members {
		what := fmt.Sprintf("env %q", m.key)
		if m.key == "" || strings.ContainsAny(m.key, "=\x00") {
			p.errorf(m.val, "invalid config var name %q", m.key)
			continue
		}
		spec := EnvSpec{Required: true}
		switch m.val.kind() {
		case "string":
			spec.Value, _ = p.str(m.val, what)
		case "object":
			for _, f := range p.members(m.val) {
				switch f.key {
				case "description":
					spec.Description, _ = p.str(f.val, what+" description")
				case "value":
					if k := f.val.kind(); k == "number" || k == "boolean" {
						p.errorf(f.val, "%s value must be a string, not %s; write \"%s\"", what, article(k), f.val.raw)
						continue
					}
					spec.Value, _ = p.str(f.val, what+" value")
				case "required":
					spec.Required, _ = p.boolean(f.val, what+" required")
				case "generator":
					g, ok := p.str(f.val, what+" generator")
					if ok && g != "" && g != "secret" {
						p.errorf(f.val, "%s has unknown generator %q; the only generator is \"secret\"", what, g)
						continue
					}
					spec.Generator = g
				}
			}
		default:
			p.errorf(m.val, "%s must be a string or an object, not %s", what, article(m.val.kind()))
			continue
		}
		if msg := valueProblem(what+" value", spec.Value); msg != "" {
			p.errorf(m.val, "%s", msg)
			continue
		}
		env[m.key] = spec
	}
	return env
}

func (p *jsonParser) formation(v jval) map[string]FormationSpec {
	members := p.objectMembers(v, `"formation"`)
	if len(members) == 0 {
		return nil
	}
	form := map[string]FormationSpec{}
	for _, m := range members {
		what := fmt.Sprintf("formation %q", m.key)
		if !validName(m.key) {
			p.errorfAt(m.keyOff, "invalid process type %q in \"formation\": use letters, digits, %q and %q", m.key, "-", "_")
			continue
		}
		if m.val.kind() != "object" {
			p.errorf(m.val, "%s must be an object like {\"quantity\": 1}, not %s", what, article(m.val.kind()))
			continue
		}
		spec := FormationSpec{Quantity: 1}
		for _, f := range p.members(m.val) {
			switch f.key {
			case "quantity":
				spec.Quantity, _ = p.quantity(f.val, what+" quantity")
			case "size":
				spec.Size, _ = p.str(f.val, what+" size")
			}
		}
		form[m.key] = spec
	}
	return form
}

// quantity accepts a non-negative integer literal; 1.0 and 1e2 are refused
// like Heroku's integer schema does.
func (p *jsonParser) quantity(v jval, what string) (int, bool) {
	if k := v.kind(); k != "number" {
		p.errorf(v, "%s must be a whole number, not %s", what, article(k))
		return 0, false
	}
	n, err := strconv.Atoi(string(v.raw))
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		p.errorf(v, "%s %s is too large", what, v.raw)
	case err != nil:
		p.errorf(v, "%s must be a whole number, not %s", what, v.raw)
	case n < 0:
		p.errorf(v, "%s must not be negative, got %d", what, n)
	case n > MaxQuantity:
		p.errorf(v, "%s %d is too many: at most %d dynos of one type", what, n, MaxQuantity)
	default:
		return n, true
	}
	return 0, false
}

func (p *jsonParser) addons(v jval) []AddonSpec {
	var addons []AddonSpec
	for i, e := range p.elems(v, `"addons"`) {
		what := fmt.Sprintf("addons[%d]", i)
		switch e.kind() {
		case "string":
			plan, _ := p.str(e, what)
			if plan == "" {
				p.errorf(e, "%s is empty; name a plan such as \"heroku-postgresql\"", what)
				continue
			}
			addons = append(addons, AddonSpec{Plan: plan})
		case "object":
			var a AddonSpec
			for _, f := range p.members(e) {
				switch f.key {
				case "plan":
					a.Plan, _ = p.str(f.val, what+" plan")
				case "as":
					a.As, _ = p.str(f.val, what+" as")
				case "options":
					if k := f.val.kind(); k != "object" && k != "null" {
						p.errorf(f.val, "%s options must be an object, not %s", what, article(k))
						continue
					}
					_ = json.Unmarshal(f.val.raw, &a.Options) // already valid JSON
				}
			}
			if a.Plan == "" {
				p.errorf(e, "%s has no \"plan\"; add one such as \"plan\": \"heroku-postgresql\"", what)
				continue
			}
			addons = append(addons, a)
		default:
			p.errorf(e, "%s must be a string or an object, not %s", what, article(e.kind()))
		}
	}
	return addons
}

// buildpack names AppJSON.Buildpacks' element type, which the API spells
// out as an anonymous struct.
type buildpack = struct {
	URL string `json:"url"`
}

func (p *jsonParser) buildpacks(v jval) []buildpack {
	var bps []buildpack
	for i, e := range p.elems(v, `"buildpacks"`) {
		what := fmt.Sprintf("buildpacks[%d]", i)
		if e.kind() != "object" {
			p.errorf(e, "%s must be an object like {\"url\": \"heroku/go\"}, not %s", what, article(e.kind()))
			continue
		}
		var url string
		for _, f := range p.members(e) {
			if f.key == "url" {
				url, _ = p.str(f.val, what+" url")
			}
		}
		if url == "" {
			p.errorf(e, "%s has no \"url\"", what)
			continue
		}
		bps = append(bps, buildpack{URL: url})
	}
	return bps
}

// ResolveEnv applies the app.json env to have, the environment already known
// (OS and env files): the value of each missing key, a secret(key) for each
// missing generator:"secret" key, and an error for each missing required
// key. It returns only the keys it adds. A nil secret uses GenerateSecret.
func (a *AppJSON) ResolveEnv(have map[string]string, secret func(key string) (string, error)) (map[string]string, error) {
	if secret == nil {
		secret = GenerateSecret
	}
	file := a.Path
	if file == "" {
		file = "app.json"
	}
	added := map[string]string{}
	var errs ErrorList
	keys := make([]string, 0, len(a.Env))
	for k := range a.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys) // stable error order and secret() calls
	for _, k := range keys {
		spec := a.Env[k]
		if _, ok := have[k]; ok {
			continue
		}
		switch {
		case spec.Generator == "secret":
			v, err := secret(k)
			if err != nil {
				return nil, fmt.Errorf("%s: generate secret for %q: %w", file, k, err)
			}
			added[k] = v
		case spec.Value != "":
			added[k] = spec.Value
		case spec.Required:
			msg := fmt.Sprintf("required config var %q is not set", k)
			if spec.Description != "" {
				msg += fmt.Sprintf(" (description: %s)", spec.Description)
			}
			errs = append(errs, Problem{File: file, Msg: msg + "; set it in .env"})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return added, nil
}

// GenerateSecret returns 64 random hex characters, like the secrets Heroku
// generates for generator:"secret".
func GenerateSecret(string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// jsonParser walks already-valid JSON, keeping each value's offset in the
// file so that shape errors can name FILE:LINE:COL.
type jsonParser struct {
	file  string
	data  []byte
	errs  ErrorList
	lines lines
}

// jval is a JSON value and the offset of its first byte in the file.
type jval struct {
	raw json.RawMessage
	off int
}

type member struct {
	key    string
	keyOff int
	val    jval
}

func (v jval) kind() string {
	if len(v.raw) == 0 {
		return "null"
	}
	switch v.raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func article(kind string) string {
	switch kind {
	case "null":
		return "null"
	case "object", "array":
		return "an " + kind
	}
	return "a " + kind
}

func (p *jsonParser) errorfAt(off int, format string, args ...any) {
	line, col := p.lines.pos(off)
	p.errs = append(p.errs, Problem{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (p *jsonParser) errorf(v jval, format string, args ...any) {
	p.errorfAt(v.off, format, args...)
}

// syntaxError turns encoding/json's error into a positioned Problem.
func (p *jsonParser) syntaxError(err error) {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		p.errorfAt(0, "%v", err)
		return
	}
	off := int(se.Offset) - 1 // the offending byte; Offset counts it as read
	if off < 0 || off >= len(p.data) || strings.HasPrefix(se.Error(), "unexpected end") {
		// Unexpected end: point just after the last thing written.
		p.errorfAt(len(bytes.TrimRight(p.data, " \t\r\n")), "%s", se.Error())
		return
	}
	c := p.data[off]
	if prev := bytes.TrimRight(p.data[:off], " \t\r\n"); (c == '}' || c == ']') && bytes.HasSuffix(prev, []byte(",")) {
		p.errorfAt(len(prev)-1, "trailing comma before %q; JSON does not allow one, remove it", string(c))
		return
	}
	p.errorfAt(off, "%s", se.Error())
}

func leadingJSONSpace(b []byte) int {
	return len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
}

// members lists the members of an object value, in order.
func (p *jsonParser) members(v jval) []member {
	dec := json.NewDecoder(bytes.NewReader(v.raw))
	if _, err := dec.Token(); err != nil { // "{"
		return nil
	}
	var out []member
	for dec.More() {
		keyOff := int(dec.InputOffset())
		for keyOff < len(v.raw) && strings.IndexByte(" \t\r\n,", v.raw[keyOff]) >= 0 {
			keyOff++
		}
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out
		}
		end := int(dec.InputOffset())
		key, _ := tok.(string)
		out = append(out, member{key: key, keyOff: v.off + keyOff, val: jval{raw: raw, off: v.off + end - len(raw)}})
	}
	return out
}

// objectMembers is members with a type check; null counts as empty.
func (p *jsonParser) objectMembers(v jval, what string) []member {
	switch k := v.kind(); k {
	case "object":
		return p.members(v)
	case "null":
		return nil
	default:
		p.errorf(v, "%s must be an object, not %s", what, article(k))
		return nil
	}
}

// elems lists the elements of an array value; null counts as empty.
func (p *jsonParser) elems(v jval, what string) []jval {
	switch k := v.kind(); k {
	case "array":
	case "null":
		return nil
	default:
		p.errorf(v, "%s must be an array, not %s", what, article(k))
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(v.raw))
	if _, err := dec.Token(); err != nil { // "["
		return nil
	}
	var out []jval
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out
		}
		end := int(dec.InputOffset())
		out = append(out, jval{raw: raw, off: v.off + end - len(raw)})
	}
	return out
}

// str reads a string value; null counts as "".
func (p *jsonParser) str(v jval, what string) (string, bool) {
	switch k := v.kind(); k {
	case "string":
		var s string
		_ = json.Unmarshal(v.raw, &s) // already valid JSON
		return s, true
	case "null":
		return "", true
	default:
		p.errorf(v, "%s must be a string, not %s", what, article(k))
		return "", false
	}
}

func (p *jsonParser) boolean(v jval, what string) (bool, bool) {
	if k := v.kind(); k != "boolean" {
		p.errorf(v, "%s must be true or false, not %s", what, article(k))
		return false, false
	}
	return v.raw[0] == 't', true
}
