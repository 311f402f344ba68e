package runner

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

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

// PortFree tries to listen on 127.0.0.1:port.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// Plan lays out the dynos of a formation in Procfile order with ports in
// foreman's pattern: public + 100 × type index + instance − 1, moved to the
// next free port when that one is taken. web.1 gets the public port itself
// unless a router holds it (behindRouter).
func Plan(pf *procfile.Procfile, counts map[string]int, public int, behindRouter bool, free PortChecker) ([]Slot, error) {
	used := map[int]bool{public: true}
	var slots []Slot
	for ti, e := range pf.Entries {
		n := counts[e.Name]
		for i := 1; i <= n; i++ {
			s := Slot{Type: e.Name, Index: i, Name: fmt.Sprintf("%s.%d", e.Name, i), Command: e.Command}
			if e.Name == "web" && i == 1 && !behindRouter {
				s.Port = public
			} else {
				p := public + 100*ti + i - 1
				for used[p] || !free(p) {
					p++
					if p > 65535 {
						return nil, fmt.Errorf("no free port for %s above %d", s.Name, public)
					}
				}
				s.Port = p
			}
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
