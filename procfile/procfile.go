package procfile

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Entry is one process type of a Procfile.
type Entry struct {
	Name    string
	Command string
	Line    int // the line of the definition in use (the last one for a duplicate)
}

// Procfile is a parsed Procfile. Entries keep the order in which each
// process type first appears.
type Procfile struct {
	Path    string
	Entries []Entry
}

// herokuMaxName is the longest process type Heroku's current buildpack accepts.
const herokuMaxName = 63

// ReadFile reads and parses the Procfile at path. Errors from opening the
// file are returned as they are, so errors.Is(err, fs.ErrNotExist) works.
func ReadFile(path string) (*Procfile, []Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse parses a Procfile read from r; file names it in problems. It returns
// warnings (Heroku would rename a type, a type is defined twice) even when it
// also returns an error, which is an ErrorList holding every bad line.
func Parse(file string, r io.Reader) (*Procfile, []Problem, error) {
	data, err := readAll(file, r)
	if err != nil {
		return nil, nil, err
	}
	text := strings.TrimPrefix(string(data), bom)

	pf := &Procfile{Path: file}
	var warns []Problem
	var errs ErrorList
	at := func(line int, format string, args ...any) Problem {
		return Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	index := map[string]int{}    // name → position in pf.Entries
	herokuAs := map[string]int{} // Heroku's name → line of the first type that gets it

	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(line) // also drops the \r of CRLF
		if line == "" || line[0] == '#' {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":") // commands may hold ":" too
		name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
		switch {
		case !ok:
			if word := leadingName(line); word != "" {
				errs = append(errs, at(n, "missing %q after process type %q", ":", word))
			} else {
				errs = append(errs, at(n, "expected %q, got %q", "type: command", line))
			}
			continue
		case name == "":
			errs = append(errs, at(n, "missing process type before %q", ":"))
			continue
		case !validName(name):
			errs = append(errs, at(n, "invalid process type %q: use letters, digits, %q and %q", name, "-", "_"))
			continue
		case cmd == "":
			errs = append(errs, at(n, "process type %q has no command", name))
			continue
		case valueProblem("", cmd) != "":
			errs = append(errs, at(n, "%s", valueProblem(fmt.Sprintf("the command of %q", name), cmd)))
			continue
		}

		if j, dup := index[name]; dup {
			warns = append(warns, at(n, "process type %q is defined again (line %d); the last definition wins, as on Heroku", name, pf.Entries[j].Line))
			pf.Entries[j] = Entry{Name: name, Command: cmd, Line: n}
			continue
		}
		index[name] = len(pf.Entries)
		pf.Entries = append(pf.Entries, Entry{Name: name, Command: cmd, Line: n})

		// Warn where Heroku would disagree, so the app behaves the same there.
		hn := herokuName(name)
		if hn != name {
			warns = append(warns, at(n, "process type %q would be renamed %q on Heroku (lowercase, %q becomes %q); rename it to %q", name, hn, "_", "-", hn))
		}
		if len(name) > herokuMaxName {
			warns = append(warns, at(n, "process type %q is %d characters long; Heroku allows at most %d, so shorten it", name, len(name), herokuMaxName))
		}
		if first, clash := herokuAs[hn]; clash {
			warns = append(warns, at(n, "process type %q and the one on line %d would both be %q on Heroku; rename one of them", name, first, hn))
		} else {
			herokuAs[hn] = n
		}
	}

	if len(errs) > 0 {
		return nil, warns, errs
	}
	if len(pf.Entries) == 0 {
		return nil, warns, ErrorList{{File: file, Msg: "no process types defined"}}
	}
	return pf, warns, nil
}

// Lookup returns the entry for a process type.
func (p *Procfile) Lookup(name string) (Entry, bool) {
	for _, e := range p.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Names lists the process types in file order.
func (p *Procfile) Names() []string {
	names := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		names[i] = e.Name
	}
	return names
}

// validName reports whether s matches [A-Za-z0-9_-]+, the names foreman and
// heroku local accept.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// leadingName returns the name a line without ":" starts with ("web" in
// "web bundle exec puma" or "web=puma"), or "" when it does not look like
// an entry at all.
func leadingName(line string) string {
	i := 0
	for i < len(line) && validName(line[i:i+1]) {
		i++
	}
	if i == 0 {
		return ""
	}
	if r, _ := utf8.DecodeRuneInString(line[i:]); i < len(line) && r != '=' && !unicode.IsSpace(r) {
		return ""
	}
	return line[:i]
}

// herokuName is what Heroku's current buildpack turns a valid name into.
func herokuName(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "_", "-")
}
