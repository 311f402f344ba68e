package runner

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --state-dir on a directory that exists never changes its mode, and gets
// no .gitignore; one dynobox makes is 0700 and ignores itself.
func TestStateDirModes(t *testing.T) {
	existing := t.TempDir()
	if err := os.Chmod(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStateDir(existing); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(existing)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Fatalf("an existing directory became %o", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(existing, ".gitignore")); err == nil {
		t.Fatal("a .gitignore was written into a directory dynobox did not make")
	}

	made := filepath.Join(t.TempDir(), "app", ".dynobox")
	if _, err := OpenStateDir(made); err != nil {
		t.Fatal(err)
	}
	st, err = os.Stat(made)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("a new state directory is %o, want 700", st.Mode().Perm())
	}
	data, err := os.ReadFile(filepath.Join(made, ".gitignore"))
	if err != nil || string(data) != "# dynobox's state: never commit it\n*\n" {
		t.Fatalf(".gitignore: %q %v", data, err)
	}
}

// The app's lock says what holds it, so what waits for it can say what it
// waits for, and its error names a one-off dyno or a push, not "dynobox".
func TestLockNamesItsHolder(t *testing.T) {
	app := t.TempDir()
	for _, tc := range []struct {
		holder Holder
		says   string
	}{
		{HolderStart, "dynobox is already running for " + app},
		{HolderRun, "a one-off dyno (dynobox run, pid"},
		{HolderPush, "a git push (pid"},
	} {
		first, err := OpenStateDir(filepath.Join(app, ".dynobox"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Lock(app, NewSession(), tc.holder); err != nil {
			t.Fatal(err)
		}
		second, _ := OpenStateDir(filepath.Join(app, ".dynobox"))
		_, err = second.Lock(app, NewSession(), HolderStart)
		var busy *AlreadyRunningError
		if !errors.As(err, &busy) || busy.Holder != tc.holder || busy.PID != os.Getpid() || !strings.Contains(err.Error(), tc.says) {
			t.Fatalf("lock held by %s: %#v %v", tc.holder, busy, err)
		}
		first.Unlock()
		if _, err := second.Lock(app, NewSession(), HolderStart); err != nil {
			t.Fatalf("after the %s let go: %v", tc.holder, err)
		}
		second.Unlock()
	}
}
