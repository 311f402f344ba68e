package runner

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/dynobox/dynobox/internal/ports"
	"github.com/dynobox/dynobox/procfile"
)

// ReleaseType is the release-phase entry: it never runs as a dyno.
const ReleaseType = "release"

// Slot is one planned dyno: its type, index, name, command and port.
type Slot struct {
	Type    string
	Index   int
	Name    string
	Command string
	Port    int
}

var formationArg = regexp.MustCompile(`^([A-Za-z0-9_-]+)(?:=(\d+))?$`)

// ParseFormationArgs reads "web=2 worker=1", "web=2,worker=1" or "web" (one
// dyno) into counts. Types must exist in the Procfile. A nil map means no
// arguments: run the default formation.
func ParseFormationArgs(args []string, pf *procfile.Procfile) (map[string]int, error) {
	if len(args) == 0 {
		return nil, nil
	}
	counts := map[string]int{}
	for _, arg := range args {
		for _, part := range strings.Split(arg, ",") {
			if part == "" {
				continue
			}
			m := formationArg.FindStringSubmatch(part)
			if m == nil {
				return nil, fmt.Errorf("bad formation %q: use TYPE, TYPE=N or TYPE=N,TYPE=N (types: %s)", part, strings.Join(pf.Names(), ", "))
			}
			if _, ok := pf.Lookup(m[1]); !ok {
				return nil, fmt.Errorf("unknown process type %q in formation; the Procfile has: %s", m[1], strings.Join(pf.Names(), ", "))
			}
			if m[1] == ReleaseType {
				return nil, fmt.Errorf("%q is the release-phase command; it runs once per release, not as a dyno", ReleaseType)
			}
			n := 1
			if m[2] != "" {
				n, _ = strconv.Atoi(m[2])
			}
			if n > 100 {
				return nil, fmt.Errorf("formation %q: at most 100 dynos of one type", part)
			}
			counts[m[1]] = n
		}
	}
	return counts, nil
}

// DefaultFormation is one dyno of every type but release, overridden by
// app.json formation quantities where given.
func DefaultFormation(pf *procfile.Procfile, app *procfile.AppJSON) map[string]int {
	counts := map[string]int{}
	for _, name := range pf.Names() {
		if name != ReleaseType {
			counts[name] = 1
		}
	}
	if app != nil {
		for name, f := range app.Formation {
			if _, ok := counts[name]; ok {
				counts[name] = f.Quantity
			}
		}
	}
	return counts
}

// PortChecker reports whether a loopback port can be bound now.
type PortChecker func(port int) bool

// maxProbes bounds the search for a free port: a formation whose ports
// are all taken fails with an error instead of searching on.
const maxProbes = 1000

// PatternPort is foreman's port of instance i of the type at index ti:
// public + 100 × ti + i − 1.
func PatternPort(public, ti, i int) int { return public + 100*ti + i - 1 }

// FreePort is the first port from p on that is not used (by a dyno or by
// dynobox's own listeners) and that free says can be bound; at most
// maxProbes ports are tried, and never above 65535.
func FreePort(name string, p int, used map[int]bool, free PortChecker) (int, error) {
	start := p
	for ; p < start+maxProbes && p <= 65535; p++ {
		if !used[p] && free(p) {
			return p, nil
		}
	}
	if p > 65535 {
		return 0, fmt.Errorf("no free port for %s between %d and 65535; pass a lower -p, or run fewer process types", name, start)
	}
	return 0, fmt.Errorf("no free port for %s among the %d ports from %d", name, maxProbes, start)
}

// PlanFormation turns start's and check's formation arguments ("web=2
// worker", none for the app's default formation) into planned dynos with
// ports, behind the router: every web dyno, web.1 included, gets a port
// of its own, none of them one of reserved. Bad arguments are an
// *InputError.
func PlanFormation(app *App, args []string, reserved ...int) ([]Slot, error) {
	counts, err := ParseFormationArgs(args, app.Procfile)
	if err != nil {
		return nil, &InputError{err}
	}
	if counts == nil {
		counts = DefaultFormation(app.Procfile, app.AppJSON)
	}
	return Plan(app.Procfile, counts, app.Port, ports.Available, reserved...)
}

// Plan lays out the dynos of a formation in Procfile order with ports in
// foreman's pattern: public + 100 × type index + instance − 1, moved to the
// next free port when that one is taken or is one of dynobox's own
// (reserved: the dashboard's). The router holds the public port: every web
// dyno, web.1 included, gets a port of its own.
func Plan(pf *procfile.Procfile, counts map[string]int, public int, free PortChecker, reserved ...int) ([]Slot, error) {
	used := map[int]bool{public: true}
	for _, r := range reserved {
		used[r] = true
	}
	var slots []Slot
	for ti, e := range pf.Entries {
		n := counts[e.Name]
		for i := 1; i <= n; i++ {
			s := Slot{Type: e.Name, Index: i, Name: fmt.Sprintf("%s.%d", e.Name, i), Command: e.Command}
			p, err := FreePort(s.Name, PatternPort(public, ti, i), used, free)
			if err != nil {
				return nil, err
			}
			s.Port = p
			used[s.Port] = true
			slots = append(slots, s)
		}
	}
	return slots, nil
}

// FormationString renders counts as "web=1, worker=2" in a stable order.
func FormationString(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}
