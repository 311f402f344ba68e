package procfile

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	osEnv := map[string]string{"HOME": "/home/dyno", "A": "from-os"}
	lookup := func(k string) (string, bool) { v, ok := osEnv[k]; return v, ok }
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  string
	}{
		{"plain", "A=1\nB = two words \n", map[string]string{"A": "1", "B": "two words"}, ""},
		{"export prefix", "export A=1\nexport\tB=2\nexportC=3\n", map[string]string{"A": "1", "B": "2", "exportC": "3"}, ""},
		{"yaml style", "A: 1\nB:2\n", map[string]string{"A": "1", "B": "2"}, ""},
		{"dots and lowercase in names", "app.name=x\nlower_case=y\n", map[string]string{"app.name": "x", "lower_case": "y"}, ""},
		{"empty values", "A=\nB=\"\"\nC=''\n", map[string]string{"A": "", "B": "", "C": ""}, ""},
		{"empty value at end of file", "A=", map[string]string{"A": ""}, ""},
		{"single quotes are literal", `A='x $HOME \n "q"'`, map[string]string{"A": `x $HOME \n "q"`}, ""},
		{"double quote escapes", `A="a\nb\rc\\d \"q\" \x"`, map[string]string{"A": "a\nb\rc\\d \"q\" x"}, ""},
		{"escaped newline stays literal", `A="a\\nb"`, map[string]string{"A": `a\nb`}, ""},
		{"unquoted keeps backslashes", `A=a\nb`, map[string]string{"A": `a\nb`}, ""},
		{"comments", "# c\n  # indented\nA=b # inline\nB=b#not\nC=\"v # kept\" # gone\nD=x # one # two\n",
			map[string]string{"A": "b", "B": "b#not", "C": "v # kept", "D": "x # one"}, ""},
		{"value that is only a comment", "A= # nothing\n", map[string]string{"A": "# nothing"}, ""},
		{"multi-line quoted", "A=\"line1\nline2\"\nB='x\ny'\nC=3\n", map[string]string{"A": "line1\nline2", "B": "x\ny", "C": "3"}, ""},
		{"crlf", "A=1\r\nB=\"x\r\ny\"\r\n", map[string]string{"A": "1", "B": "x\ny"}, ""},
		{"bom", "\ufeffA=1\n", map[string]string{"A": "1"}, ""},
		{"later line wins", "A=1\nA=2\n", map[string]string{"A": "2"}, ""},
		{"two assignments on one line after a quote", `A="x" B=2`, map[string]string{"A": "x", "B": "2"}, ""},
		{"expansion from earlier lines", "X=1\nB=${X}2\nC=$X-$B\nD=\"$C\"\n",
			map[string]string{"X": "1", "B": "12", "C": "1-12", "D": "1-12"}, ""},
		{"expansion falls back to lookup", "B=$HOME/app\nC=${NOPE}x\n", map[string]string{"B": "/home/dyno/app", "C": "x"}, ""},
		{"earlier line beats lookup", "A=file\nB=$A\n", map[string]string{"A": "file", "B": "file"}, ""},
		{"lookup before the line defines it", "B=$A\nA=file\n", map[string]string{"A": "file", "B": "from-os"}, ""},
		{"no expansion in single quotes", "X=1\nB='$X'\n", map[string]string{"X": "1", "B": "$X"}, ""},
		{"escaped dollar", "X=1\nB=\\$X\nC=\"\\$X\"\n", map[string]string{"X": "1", "B": "$X", "C": "$X"}, ""},
		{"only upper-case names expand", "x=1\nB=$x\n", map[string]string{"x": "1", "B": "$x"}, ""},
		{
			name: "unterminated double quote names the opening line",
			in:   "A=1\nB=\"abc\nC=2\n",
			err:  `.env:2: unterminated double-quoted value for "B": the " opened on this line is never closed`,
		},
		{
			name: "unterminated single quote",
			in:   "A='abc",
			err:  `.env:1: unterminated single-quoted value for "A": the ' opened on this line is never closed`,
		},
		{
			name: "invalid character in name",
			in:   "A=1\nMY-VAR=2\n",
			err:  `.env:2: invalid character "-" in variable name "MY-VAR": use letters, digits, "_" and "."`,
		},
		{
			name: "non-utf8 byte in name",
			in:   "A\x80B=1\n",
			err:  `.env:1: invalid character "\x80" in variable name "A\x80B": use letters, digits, "_" and "."`,
		},
		{
			name: "line without equals",
			in:   "A=1\nJUSTAWORD\nB=2\n",
			err:  `.env:2: "JUSTAWORD" is not an assignment: write NAME=value`,
		},
		{
			name: "last line without equals",
			in:   "A=1\n\nexport FOO",
			err:  `.env:3: "export FOO" is not an assignment: write NAME=value`,
		},
		{
			name: "missing name",
			in:   "A=1\n = x\n",
			err:  `.env:2: missing variable name before "="`,
		},
		{
			name: "text after closing quote",
			in:   "A=\"x\" junk\n",
			err:  `.env:1: unexpected "junk" after the closing quote; put a comment after " #" or the next variable on its own line`,
		},
		{
			name: "every problem is reported",
			in:   "GOOD=1\nBAD-1=x\nword\n=y\nGOOD2=2\nLAST=\"open\n",
			err: `.env:2: invalid character "-" in variable name "BAD-1": use letters, digits, "_" and "."
.env:3: "word" is not an assignment: write NAME=value
.env:4: missing variable name before "="
.env:6: unterminated double-quoted value for "LAST": the " opened on this line is never closed`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv(".env", strings.NewReader(tt.in), lookup)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error:\n got %v\nwant %s", err, tt.err)
				}
				var list ErrorList
				if !errors.As(err, &list) {
					t.Errorf("error is %T, want ErrorList", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestReadEnvFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := write(".env", "A=1\nB=${A}-x\nHOMEDIR=$HOME\nSHADOW=env\n")
	local := write(".env.local", "A=2\nC=${A}${B}\nD=$SHADOW\n")
	osEnv := map[string]string{"HOME": "/home/dyno", "SHADOW": "os"}
	lookup := func(k string) (string, bool) { v, ok := osEnv[k]; return v, ok }

	got, err := ReadEnvFiles([]string{base, local}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"A": "2", "B": "1-x", "HOMEDIR": "/home/dyno", "SHADOW": "env",
		"C": "21-x", // this file's A, the earlier file's B
		"D": "env",  // an earlier file beats the OS env
	}
	if !maps.Equal(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}

	if got, err := ReadEnvFiles(nil, lookup); err != nil || len(got) != 0 {
		t.Errorf("no files: %v, %v", got, err)
	}

	bad1 := write("bad1.env", "A=1\nB-C=2\n")
	bad2 := write("bad2.env", "X='open\n")
	_, err = ReadEnvFiles([]string{bad1, base, bad2}, lookup)
	wantErr := bad1 + `:2: invalid character "-" in variable name "B-C": use letters, digits, "_" and "."` + "\n" +
		bad2 + `:1: unterminated single-quoted value for "X": the ' opened on this line is never closed`
	if err == nil || err.Error() != wantErr {
		t.Errorf("errors in two files:\n got %v\nwant %s", err, wantErr)
	}

	_, err = ReadEnvFiles([]string{base, filepath.Join(dir, "missing.env")}, lookup)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist", err)
	}
}

func TestSplitEnvFlag(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{".env"}, []string{".env"}},
		{[]string{".env,.env.local"}, []string{".env", ".env.local"}},
		{[]string{".env, .env.local", " .env.test ", ",,", ""}, []string{".env", ".env.local", ".env.test"}},
	}
	for _, tt := range tests {
		if got := SplitEnvFlag(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitEnvFlag(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
