package runner

import (
	"os"
	"path/filepath"
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
