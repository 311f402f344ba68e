package procfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseProcfile(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []Entry
		warns []string
		err   string
	}{
		{
			name: "basic",
			in:   "web: bundle exec puma\nworker: bundle exec sidekiq\n",
			want: []Entry{{"web", "bundle exec puma", 1}, {"worker", "bundle exec sidekiq", 2}},
		},
		{
			name: "comments and blank lines",
			in:   "# the app\n\n   # indented comment\nweb: ./bin/web\n\n\t\nrelease: ./bin/migrate # not a comment\n",
			want: []Entry{{"web", "./bin/web", 4}, {"release", "./bin/migrate # not a comment", 7}},
		},
		{
			name: "crlf",
			in:   "web: ./bin/web\r\nworker: ./bin/worker\r\n",
			want: []Entry{{"web", "./bin/web", 1}, {"worker", "./bin/worker", 2}},
		},
		{
			name: "bom",
			in:   "\ufeffweb: ./bin/web\n",
			want: []Entry{{"web", "./bin/web", 1}},
		},
		{
			name: "surrounding whitespace",
			in:   "  web  :   node server.js  \n\tworker:\tnode worker.js\t\n",
			want: []Entry{{"web", "node server.js", 1}, {"worker", "node worker.js", 2}},
		},
		{
			name: "colon in command",
			in:   "web: bundle exec rails s -b 0.0.0.0:$PORT\nclock: echo a:b:c\n",
			want: []Entry{{"web", "bundle exec rails s -b 0.0.0.0:$PORT", 1}, {"clock", "echo a:b:c", 2}},
		},
		{
			name: "no newline at end",
			in:   "web: ./bin/web",
			want: []Entry{{"web", "./bin/web", 1}},
		},
		{
			name: "valid name characters",
			in:   "web-2: a\nworker_low: b\nA9: c\n",
			want: []Entry{{"web-2", "a", 1}, {"worker_low", "b", 2}, {"A9", "c", 3}},
			warns: []string{
				`Procfile:2: process type "worker_low" would be renamed "worker-low" on Heroku (lowercase, "_" becomes "-"); rename it to "worker-low"`,
				`Procfile:3: process type "A9" would be renamed "a9" on Heroku (lowercase, "_" becomes "-"); rename it to "a9"`,
			},
		},
		{
			name: "duplicate: last wins in first position",
			in:   "worker: w\nweb: old\n\n\nweb: new\n",
			want: []Entry{{"worker", "w", 1}, {"web", "new", 5}},
			warns: []string{
				`Procfile:5: process type "web" is defined again (line 2); the last definition wins, as on Heroku`,
			},
		},
		{
			name: "defined three times",
			in:   "web: a\nweb: b\nweb: c\n",
			want: []Entry{{"web", "c", 3}},
			warns: []string{
				`Procfile:2: process type "web" is defined again (line 1); the last definition wins, as on Heroku`,
				`Procfile:3: process type "web" is defined again (line 2); the last definition wins, as on Heroku`,
			},
		},
		{
			name: "too long for heroku",
			in:   strings.Repeat("w", 64) + ": x\n",
			want: []Entry{{strings.Repeat("w", 64), "x", 1}},
			warns: []string{
				`Procfile:1: process type "` + strings.Repeat("w", 64) + `" is 64 characters long; Heroku allows at most 63, so shorten it`,
			},
		},
		{
			name: "63 characters is fine",
			in:   strings.Repeat("w", 63) + ": x\n",
			want: []Entry{{strings.Repeat("w", 63), "x", 1}},
		},
		{
			name: "names that clash on heroku",
			in:   "web_1: a\nweb-1: b\n",
			want: []Entry{{"web_1", "a", 1}, {"web-1", "b", 2}},
			warns: []string{
				`Procfile:1: process type "web_1" would be renamed "web-1" on Heroku (lowercase, "_" becomes "-"); rename it to "web-1"`,
				`Procfile:2: process type "web-1" and the one on line 1 would both be "web-1" on Heroku; rename one of them`,
			},
		},
		{
			name: "missing colon",
			in:   "# c\n\nweb bundle exec puma\n",
			err:  `Procfile:3: missing ":" after process type "web"`,
		},
		{
			name: "equals instead of colon",
			in:   "web=./bin/web\n",
			err:  `Procfile:1: missing ":" after process type "web"`,
		},
		{
			name: "lone word",
			in:   "worker\n",
			err:  `Procfile:1: missing ":" after process type "worker"`,
		},
		{
			name: "not an entry at all",
			in:   "web: a\n== oops ==\n",
			err:  `Procfile:2: expected "type: command", got "== oops =="`,
		},
		{
			name: "invalid process type",
			in:   "web: a\nworker: b\n\nwe b: c\n",
			err:  `Procfile:4: invalid process type "we b": use letters, digits, "-" and "_"`,
		},
		{
			name: "invalid process type with dot",
			in:   "web.1: c\n",
			err:  `Procfile:1: invalid process type "web.1": use letters, digits, "-" and "_"`,
		},
		{
			name: "missing process type",
			in:   ": ./bin/web\n",
			err:  `Procfile:1: missing process type before ":"`,
		},
		{
			name: "empty command",
			in:   "web: a\nworker:   \r\n",
			err:  `Procfile:2: process type "worker" has no command`,
		},
		{
			name: "every problem is reported",
			in:   "web\nworker:\nweb: ok\n: x\n",
			err: `Procfile:1: missing ":" after process type "web"
Procfile:2: process type "worker" has no command
Procfile:4: missing process type before ":"`,
		},
		{
			name: "empty file",
			in:   "",
			err:  `Procfile: no process types defined`,
		},
		{
			name: "only comments",
			in:   "# web: ./bin/web\n\n",
			err:  `Procfile: no process types defined`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pf, warns, err := Parse("Procfile", strings.NewReader(tt.in))
			if got := problemStrings(warns); !reflect.DeepEqual(got, tt.warns) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warns)
			}
			if tt.err != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tt.err)
				}
				if err.Error() != tt.err {
					t.Errorf("error:\n got %s\nwant %s", err, tt.err)
				}
				var list ErrorList
				if !errors.As(err, &list) {
					t.Errorf("error is %T, want ErrorList", err)
				}
				if pf != nil {
					t.Errorf("got a Procfile along with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(pf.Entries, tt.want) {
				t.Errorf("entries:\n got %+v\nwant %+v", pf.Entries, tt.want)
			}
			if pf.Path != "Procfile" {
				t.Errorf("Path = %q", pf.Path)
			}
		})
	}
}

func TestProcfileLookupAndNames(t *testing.T) {
	pf, _, err := Parse("Procfile", strings.NewReader("web: a\nworker: b\nweb: c\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pf.Names(), []string{"web", "worker"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if e, ok := pf.Lookup("web"); !ok || e.Command != "c" || e.Line != 3 {
		t.Errorf(`Lookup("web") = %+v, %v`, e, ok)
	}
	if e, ok := pf.Lookup("clock"); ok {
		t.Errorf(`Lookup("clock") = %+v, true`, e)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "Procfile.dev")
	if err := os.WriteFile(path, []byte("web: ./bin/web\nbad line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := ReadFile(path)
	if want := path + `:2: missing ":" after process type "bad"`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	if _, _, err := ReadFile(filepath.Join(dir, "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist", err)
	}
}

func TestProblemRendering(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"Procfile", 3, 0, "oops"}, "Procfile:3: oops"},
		{Problem{"app.json", 3, 7, "oops"}, "app.json:3:7: oops"},
		{Problem{"app.json", 0, 0, "oops"}, "app.json: oops"},
		{Problem{"", 0, 0, "oops"}, "oops"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	list := ErrorList{{"a", 1, 0, "x"}, {"b", 2, 0, "y"}}
	if got := list.Error(); got != "a:1: x\nb:2: y" {
		t.Errorf("ErrorList.Error() = %q", got)
	}
	var p Problem
	if !errors.As(error(list), &p) || p.Msg != "x" {
		t.Errorf("errors.As(list, &Problem) = %+v", p)
	}
	if ErrorList(nil).Err() != nil {
		t.Error("empty ErrorList.Err() != nil")
	}
}

func problemStrings(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}
