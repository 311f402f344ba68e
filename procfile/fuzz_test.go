package procfile

import (
	"maps"
	"strings"
	"testing"

	"github.com/joho/godotenv"
)

// FuzzEnvMatchesGodotenv checks ParseEnv against godotenv.Unmarshal. With a
// nil lookup the two must agree exactly, "$" expansion included; the only
// input godotenv accepts and ParseEnv refuses is a statement with an empty
// name or a NUL byte anywhere (ParseEnv refuses binary files, even in a
// comment), and the only one godotenv refuses and ParseEnv accepts starts
// with a BOM. Without "$" in the input, the lookup must make no difference.
func FuzzEnvMatchesGodotenv(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseEnv(".env", strings.NewReader(in), nil)
		checkProblems(t, err, in)
		want, gerr := godotenv.Unmarshal(strings.TrimPrefix(in, bom))
		_, emptyName := want[""]
		switch {
		case strings.ContainsRune(in, 0):
			if err == nil {
				t.Fatalf("ParseEnv accepts %q, which holds a NUL byte", in)
			}
			return
		case gerr != nil || emptyName:
			if err == nil {
				t.Fatalf("godotenv refuses %q (%v, empty name %v), ParseEnv accepts it: %q", in, gerr, emptyName, got)
			}
			return
		case err != nil:
			t.Fatalf("godotenv accepts %q as %q, ParseEnv says:\n%v", in, want, err)
		case !maps.Equal(got, want):
			t.Fatalf("input %q:\n ParseEnv %q\n godotenv %q", in, got, want)
		}
		if !strings.Contains(in, "$") {
			always := func(string) (string, bool) { return "LOOKUP", true }
			got2, err := ParseEnv(".env", strings.NewReader(in), always)
			if err != nil || !maps.Equal(got2, want) {
				t.Fatalf("input %q without $: a lookup changed the result to %q, %v", in, got2, err)
			}
		}
	})
}

// FuzzParseProcfile checks that Parse never panics, that what it accepts is
// well formed, and that rendering the entries back and parsing them again
// gives the same entries.
func FuzzParseProcfile(f *testing.F) {
	f.Fuzz(func(t *testing.T, in string) {
		pf, warns, err := Parse("Procfile", strings.NewReader(in))
		checkProblems(t, err, in)
		for _, w := range warns {
			checkProblems(t, ErrorList{w}, in)
		}
		if err != nil {
			if pf != nil {
				t.Fatal("a Procfile along with an error")
			}
			return
		}
		var b strings.Builder
		seen := map[string]bool{}
		for _, e := range pf.Entries {
			if !validName(e.Name) || seen[e.Name] {
				t.Fatalf("bad or repeated name %q in %q", e.Name, in)
			}
			seen[e.Name] = true
			if e.Command == "" || e.Command != strings.TrimSpace(e.Command) || strings.Contains(e.Command, "\n") {
				t.Fatalf("bad command %q for %q in %q", e.Command, e.Name, in)
			}
			b.WriteString(e.Name + ": " + e.Command + "\n")
		}
		again, _, err := Parse("Procfile", strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("re-rendered %q does not parse: %v", b.String(), err)
		}
		if len(again.Entries) != len(pf.Entries) {
			t.Fatalf("re-rendered %q: %d entries, want %d", b.String(), len(again.Entries), len(pf.Entries))
		}
		for i, e := range again.Entries {
			if e.Name != pf.Entries[i].Name || e.Command != pf.Entries[i].Command || e.Line != i+1 {
				t.Fatalf("re-rendered entry %d = %+v, want %+v", i, e, pf.Entries[i])
			}
		}
	})
}

// checkProblems checks that every problem in err names the file and a line
// that exists in the input (0 only for whole-file problems).
func checkProblems(t *testing.T, err error, in string) {
	t.Helper()
	if err == nil {
		return
	}
	list, ok := err.(ErrorList)
	if !ok || len(list) == 0 {
		t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
	}
	lines := strings.Count(in, "\n") + 1
	for _, p := range list {
		if p.File == "" || p.Line < 0 || p.Line > lines || p.Msg == "" {
			t.Fatalf("badly positioned problem %+v for %q", p, in)
		}
	}
}

// FuzzParseAppJSON checks that ParseAppJSON never panics, that every problem
// points inside the file, and that what it accepts keeps its invariants.
func FuzzParseAppJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ParseAppJSON("app.json", in)
		if err != nil {
			checkProblems(t, err, strings.TrimPrefix(string(in), bom))
			for _, p := range err.(ErrorList) {
				if p.Line < 1 || p.Col < 1 {
					t.Fatalf("problem without line:col: %+v", p)
				}
			}
			return
		}
		for name, fs := range a.Formation {
			if !validName(name) || fs.Quantity < 0 {
				t.Fatalf("bad formation %q: %+v", name, fs)
			}
		}
		for _, ad := range a.Addons {
			if ad.Plan == "" {
				t.Fatalf("addon without plan: %+v", ad)
			}
		}
		for k, e := range a.Env {
			if k == "" || (e.Generator != "" && e.Generator != "secret") {
				t.Fatalf("bad env %q: %+v", k, e)
			}
		}
	})
}
