package build

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A version pin is the toolchain version an app asks Heroku for. dynobox
// builds with the toolchain installed here, so it names both in the build
// log: the version used when it matches, a warning when it does not (no
// silent mismatch). It installs nothing.

// pin is one app's request: the version (or range) and where it says so.
type pin struct {
	want, source string
}

// notePins logs the pin of a built-in build's language against the
// installed toolchain.
func (b *builder) notePins(ctx context.Context, kind Kind) {
	var p pin
	var tool string
	var argv []string
	switch kind {
	case Go:
		p, tool, argv = goPin(b.appDir), "go", []string{"go", "env", "GOVERSION"}
	case Node:
		p, tool, argv = nodePin(b.appDir), "node", []string{"node", "--version"}
	case Python:
		p, tool, argv = pythonPin(b.appDir), "python", []string{"python3", "--version"}
	case Ruby:
		p, tool, argv = rubyPin(b.appDir), "ruby", []string{"ruby", "-e", "print RUBY_VERSION"}
	default:
		return
	}
	if p.want == "" {
		return
	}
	have := b.toolVersion(ctx, argv)
	switch {
	case have == "":
		b.out.line(" !     The app asks for " + tool + " " + p.want + " (" + p.source + "); no " + argv[0] + " was found to build it")
	case versionMatches(p.want, have):
		b.out.line("-----> Using " + tool + " " + have + " (the app asks for " + p.want + " in " + p.source + ")")
	default:
		b.out.line(" !     Version mismatch: the app asks for " + tool + " " + p.want + " (" + p.source + "); " + tool + " " + have + " builds it (dynobox uses the installed toolchain)")
	}
}

// toolVersion is the installed version: digits and dots, without a
// "go", "v" or "Python " prefix; "" when the tool does not run.
func (b *builder) toolVersion(ctx context.Context, argv []string) string {
	path, err := lookPath(argv[0], b.env)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, argv[1:]...)
	cmd.Env = setenv(b.env, "GOTOOLCHAIN", "local") // go env must not fetch a toolchain
	cmd.Dir = b.appDir
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return versionRe.FindString(string(out))
}

var opSpace = regexp.MustCompile(`([<>=~^]+)\s+`)

var versionRe = regexp.MustCompile(`\d+(\.\d+)*`)

// versionMatches says whether have satisfies want: a plain version
// matches as a prefix (3.12 accepts 3.12.1), and a range's operators are
// read for what they allow (>=, >, ^, ~, ~>, x, *, ||).
func versionMatches(want, have string) bool {
	for _, alt := range strings.Split(want, "||") {
		if rangeMatches(strings.TrimSpace(alt), have) {
			return true
		}
	}
	return false
}

func rangeMatches(r, have string) bool {
	if r == "" || r == "*" || r == "x" {
		return true
	}
	r = opSpace.ReplaceAllString(r, "$1")    // "~> 3.1", ">= 18"
	for _, part := range strings.Fields(r) { // ">=18 <21": every part holds
		op := strings.TrimRight(part, "0123456789.xX*")
		v := strings.TrimSuffix(strings.TrimSuffix(strings.TrimRight(part[len(op):], "xX*"), "."), ".")
		v = strings.TrimPrefix(v, "v")
		op = strings.TrimPrefix(op, "v")
		if v == "" {
			continue
		}
		c := compareVersions(have, v)
		ok := true
		switch op {
		case ">=":
			ok = c >= 0
		case ">":
			ok = c > 0
		case "<=":
			ok = c <= 0 || prefixOf(v, have)
		case "<":
			ok = c < 0
		case "^":
			ok = c >= 0 && field(have, 0) == field(v, 0)
		case "~": // npm: ~1.2.3 is >= 1.2.3, < 1.3
			f := strings.Split(v, ".")
			ok = c >= 0 && prefixOf(strings.Join(f[:min(2, len(f))], "."), have)
		case "~>": // Bundler: ~> 3.2 is >= 3.2, < 4; ~> 3.2.1 is < 3.3
			f := strings.Split(v, ".")
			ok = c >= 0 && prefixOf(strings.Join(f[:max(1, len(f)-1)], "."), have)
		case "", "=", "==":
			ok = prefixOf(v, have)
		}
		if !ok {
			return false
		}
	}
	return true
}

// prefixOf says whether version v names have at v's precision.
func prefixOf(v, have string) bool { return have == v || strings.HasPrefix(have, v+".") }

func field(v string, i int) int {
	f := strings.Split(v, ".")
	if i >= len(f) {
		return 0
	}
	n, _ := strconv.Atoi(f[i])
	return n
}

func compareVersions(a, b string) int {
	for i := 0; i < 4; i++ {
		if x, y := field(a, i), field(b, i); x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// goPin: go.mod's "// +heroku goVersion", else toolchain, else go.
func goPin(dir string) pin {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return pin{}
	}
	defer f.Close()
	var heroku, toolchain, goLine string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) >= 4 && fs[0] == "//" && fs[1] == "+heroku" && fs[2] == "goVersion":
			heroku = fs[3]
		case len(fs) >= 2 && fs[0] == "toolchain":
			toolchain = fs[1]
		case len(fs) >= 2 && fs[0] == "go":
			goLine = fs[1]
		}
	}
	switch {
	case heroku != "":
		return pin{strings.TrimPrefix(heroku, "go"), "go.mod's // +heroku goVersion"}
	case toolchain != "":
		return pin{strings.TrimPrefix(toolchain, "go"), "go.mod's toolchain"}
	case goLine != "":
		return pin{">=" + goLine, "go.mod's go " + goLine}
	}
	return pin{}
}

// nodePin: package.json's engines.node.
func nodePin(dir string) pin {
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return pin{}
	}
	var pj struct {
		Engines struct {
			Node string `json:"node"`
		} `json:"engines"`
	}
	if json.Unmarshal(raw, &pj) != nil || pj.Engines.Node == "" {
		return pin{}
	}
	return pin{pj.Engines.Node, "package.json engines.node"}
}

// pythonPin: .python-version, else runtime.txt's python-X.Y.Z.
func pythonPin(dir string) pin {
	if lines, err := readLines(filepath.Join(dir, ".python-version")); err == nil && len(lines) > 0 {
		return pin{lines[0], ".python-version"}
	}
	if lines, err := readLines(filepath.Join(dir, "runtime.txt")); err == nil && len(lines) > 0 {
		return pin{strings.TrimPrefix(lines[0], "python-"), "runtime.txt"}
	}
	return pin{}
}

var gemfileRuby = regexp.MustCompile(`(?m)^\s*ruby\s*\(?\s*["']([^"']+)["']`)

// rubyPin: the Gemfile's ruby line.
func rubyPin(dir string) pin {
	raw, err := os.ReadFile(filepath.Join(dir, "Gemfile"))
	if err != nil {
		return pin{}
	}
	m := gemfileRuby.FindSubmatch(raw)
	if m == nil {
		return pin{}
	}
	return pin{strings.TrimSpace(string(m[1])), "Gemfile's ruby"}
}
