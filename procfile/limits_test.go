package procfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Input that no process can run with, or that is no input file at all, is
// refused with its file and line.
func TestInputLimits(t *testing.T) {
	long := strings.Repeat("x", 128<<10)
	tests := []struct {
		name string
		read func() error
		want string
	}{
		{"env NUL", func() error { _, err := ParseEnv(".env", strings.NewReader("A=1\nB=x\x00y\n"), nil); return err }, ".env:2:4: NUL byte"},
		{"env long value", func() error { _, err := ParseEnv(".env", strings.NewReader("A=1\nB="+long+"\n"), nil); return err }, ".env:2: the value of B is 128 KiB long; at most 32 KiB"},
		{"env huge file", func() error {
			_, err := ParseEnv(".env", strings.NewReader(strings.Repeat("# comment\n", MaxFileSize/5)), nil)
			return err
		}, ".env: larger than 1024 KiB"},
		{"Procfile NUL", func() error { _, _, err := Parse("Procfile", strings.NewReader("web: a\nworker: b\x00\n")); return err }, "Procfile:2:10: NUL byte"},
		{"Procfile long command", func() error { _, _, err := Parse("Procfile", strings.NewReader("web: echo "+long+"\n")); return err }, `Procfile:1: the command of "web" is 129 KiB long`},
		{"app.json long value", func() error {
			_, err := ParseAppJSON("app.json", []byte(`{"env": {"A": {"value": "`+long+`"}}}`))
			return err
		}, `app.json:1:`},
		{"app.json NUL escape", func() error {
			_, err := ParseAppJSON("app.json", []byte(`{"env": {"A": "x\u0000y"}}`))
			return err
		}, `env "A" value holds a NUL byte`},
		{"app.json quantity", func() error {
			_, err := ParseAppJSON("app.json", []byte(`{"formation": {"web": {"quantity": 101}}}`))
			return err
		}, `formation "web" quantity 101 is too many: at most 100`},
	}
	for _, tt := range tests {
		err := tt.read()
		var list ErrorList
		if !errors.As(err, &list) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an ErrorList with %q", tt.name, err, tt.want)
		}
	}
	if _, err := ParseAppJSON("app.json", []byte(`{"formation": {"web": {"quantity": 100}}}`)); err != nil {
		t.Errorf("100 dynos of one type: %v", err)
	}
}

// -f /dev/zero: refused after 1 MiB, not read until memory runs out.
func TestReadFileOfDevZero(t *testing.T) {
	_, _, err := ReadFile("/dev/zero")
	if err == nil || !strings.Contains(err.Error(), "/dev/zero: larger than") {
		t.Fatalf("got %v", err)
	}
	_, err = ReadAppJSON("/dev/zero")
	if err == nil || !strings.Contains(err.Error(), "/dev/zero: larger than") {
		t.Fatalf("app.json: got %v", err)
	}
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.Symlink("/dev/zero", env); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEnvFiles([]string{env}, nil); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("env: got %v", err)
	}
}
