package build

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestVersionMatches(t *testing.T) {
	for _, c := range []struct {
		want, have string
		ok         bool
	}{
		{"3.12", "3.12.1", true}, {"3.12", "3.11.2", false}, {"3.1", "3.12.0", false},
		{">=18", "20.11.0", true}, {">=22", "20.11.0", false}, {"^20.1", "20.11.0", true}, {"^18", "20.11.0", false},
		{"20.x", "20.11.0", true}, {"18.x || 20.x", "20.11.0", true}, {">=18 <20", "20.1.0", false},
		{"~20.11.0", "20.11.5", true}, {"~20.10.0", "20.11.5", false},
		{"~> 3.1", "3.2.5", true}, {"~> 3.1", "4.0.0", false}, {"~> 3.1.2", "3.2.0", false},
		{"1.22", "1.22.3", true}, {"1.21", "1.22.3", false}, {">=1.21", "1.22.3", true}, {"*", "1.0", true},
	} {
		if got := versionMatches(c.want, c.have); got != c.ok {
			t.Errorf("versionMatches(%q, %q) = %v", c.want, c.have, got)
		}
	}
}

func TestPins(t *testing.T) {
	app := t.TempDir()
	writeFiles(t, app, map[string]string{
		"go.mod":          "module x\n\n// +heroku goVersion go1.21\ngo 1.21\ntoolchain go1.21.5\n",
		"package.json":    `{"engines":{"node":"18.x"}}`,
		".python-version": "# pinned\n3.9\n",
		"Gemfile":         "source 'https://rubygems.org'\nruby '~> 2.7'\n",
	})
	for _, c := range []struct {
		got, want pin
	}{
		{goPin(app), pin{"1.21", "go.mod's // +heroku goVersion"}},
		{nodePin(app), pin{"18.x", "package.json engines.node"}},
		{pythonPin(app), pin{"3.9", ".python-version"}},
		{rubyPin(app), pin{"~> 2.7", "Gemfile's ruby"}},
	} {
		if c.got != c.want {
			t.Errorf("got %+v, want %+v", c.got, c.want)
		}
	}
	os.Remove(app + "/.python-version")
	writeFiles(t, app, map[string]string{"runtime.txt": "python-3.8.10\n", "go.mod": "module x\ngo 1.20\n"})
	if p := pythonPin(app); p.want != "3.8.10" || p.source != "runtime.txt" {
		t.Errorf("runtime.txt: %+v", p)
	}
	if p := goPin(app); p.want != ">=1.20" {
		t.Errorf("go line: %+v", p)
	}
}

// A pin the installed toolchain does not meet is named in the build log.
func TestPinMismatchIsLogged(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed")
	}
	app := t.TempDir()
	writeFiles(t, app, map[string]string{".python-version": "2.6\n"})
	b := &builder{appDir: app, env: os.Environ(), out: &output{}}
	logs := &logLines{}
	b.out.log = logs.log
	b.notePins(t.Context(), Python)
	if text := logs.text(); !strings.Contains(text, "Version mismatch: the app asks for python 2.6 (.python-version); python 3.") {
		t.Errorf("log: %q", text)
	}
}
