package slug

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// builtApp makes a directory as a build leaves it.
func builtApp(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "build")
	os.MkdirAll(filepath.Join(dir, "bin"), 0o755)
	os.WriteFile(filepath.Join(dir, "bin", "web"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: bin/web\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "public", "empty"), 0o755)
	os.Symlink("bin/web", filepath.Join(dir, "run"))
	return dir
}

func TestWriteKeepsAnImmutableSlugAndCopiesAreFresh(t *testing.T) {
	state := t.TempDir()
	dir := builtApp(t)
	m, err := Write(state, "b3", "3f2a1c9deadbeef", dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size <= 0 || !Exists(state, "b3") || Exists(state, "b4") || Exists(state, "") {
		t.Fatalf("meta %+v, exists b3=%v", m, Exists(state, "b3"))
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("the build directory is still there: Write moves it into the slug")
	}
	if fi, _ := os.Stat(Path(state, "b3")); fi.Mode().Perm()&0o222 != 0 {
		t.Fatalf("slug is writable: %v", fi.Mode())
	}
	if got, err := Read(state, "b3"); err != nil || got.Commit != "3f2a1c9deadbeef" || got.Size != m.Size {
		t.Fatalf("Read: %+v %v", got, err)
	}

	// Without the unpacked copy too (it is unpacked again from the archive).
	for _, unpacked := range []bool{true, false} {
		if !unpacked {
			os.RemoveAll(unpackedPath(state, "b3"))
		}
		cp, remove, err := Copy(state, "b3", "web.1")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(cp, "bin", "web")); !strings.Contains(string(b), "echo hi") {
			t.Fatalf("bin/web = %q", b)
		}
		if fi, err := os.Stat(filepath.Join(cp, "bin", "web")); err != nil || fi.Mode()&0o100 == 0 {
			t.Fatalf("bin/web not executable: %v %v", fi, err)
		}
		if l, _ := os.Readlink(filepath.Join(cp, "run")); l != "bin/web" {
			t.Fatalf("symlink run -> %q", l)
		}
		if fi, err := os.Stat(filepath.Join(cp, "public", "empty")); err != nil || !fi.IsDir() {
			t.Fatal("empty directory lost")
		}
		// What a dyno writes stays in its copy.
		os.WriteFile(filepath.Join(cp, "Procfile"), []byte("changed"), 0o644)
		os.WriteFile(filepath.Join(cp, "upload.txt"), []byte("x"), 0o644)
		remove()
		if _, err := os.Stat(cp); err == nil {
			t.Fatal("the copy is still there after remove")
		}
		cp2, remove2, err := Copy(state, "b3", "web.1")
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(cp2, "Procfile")); string(b) != "web: bin/web\n" {
			t.Fatalf("a fresh copy has the last dyno's write: %q", b)
		}
		if _, err := os.Stat(filepath.Join(cp2, "upload.txt")); err == nil {
			t.Fatal("a fresh copy has the last dyno's new file")
		}
		remove2()
	}
	if err := CleanCopies(state); err != nil {
		t.Fatal(err)
	}
}

func TestWriteRefusesASlugOverTheLimit(t *testing.T) {
	defer func(m int64) { maxSize = m }(maxSize)
	maxSize = 10
	state := t.TempDir()
	dir := builtApp(t)
	_, err := Write(state, "b1", "c", dir)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "over Heroku's limit of 10B") {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	if Exists(state, "b1") || len(List(state)) != 0 {
		t.Fatal("a slug over the limit was kept")
	}
	if left, _ := filepath.Glob(filepath.Join(state, dynosDir, "*")); len(left) != 0 {
		t.Fatalf("a refused slug left copies: %v", left)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("the build directory was moved although the slug was refused")
	}
}

func TestExtractRefusesPathsOutside(t *testing.T) {
	for _, name := range []string{"../evil", "/etc/evil", "a/../../evil"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		dir := filepath.Join(t.TempDir(), "x")
		if err := Extract(&buf, dir); err == nil {
			t.Errorf("%s: extracted", name)
		}
	}
}

func TestPruneKeepsNewestAndNeeded(t *testing.T) {
	state := t.TempDir()
	for i := 1; i <= 14; i++ {
		id := "b" + strconv.Itoa(i)
		if _, err := Write(state, id, "c", builtApp(t)); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := Prune(state, 10, map[string]bool{"b2": true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b1", "b3", "b4"}; !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	want := []string{"b2", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "b13", "b14"}
	if got := List(state); !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	for _, id := range []string{"b1", "b3"} {
		for _, p := range []string{Path(state, id), unpackedPath(state, id)} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s is left", p)
			}
		}
		if !Pruned(state, id) || Exists(state, id) {
			t.Errorf("%s: Pruned %v, Exists %v; want a pruned slug", id, Pruned(state, id), Exists(state, id))
		}
	}
	if Pruned(state, "b2") || Pruned(state, "b99") {
		t.Errorf("a kept slug, or one that never was, counts as pruned")
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{12_897_485: "12.3M", 2048: "2.0K", 10: "10B"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %s, want %s", n, got, want)
		}
	}
}

// writeOneFileSlug writes slug b1, whose d/f holds "slug", to a new state
// directory and returns it.
func writeOneFileSlug(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	build := filepath.Join(t.TempDir(), "build")
	os.MkdirAll(filepath.Join(build, "d"), 0o755)
	os.WriteFile(filepath.Join(build, "d", "f"), []byte("slug"), 0o644)
	if _, err := Write(state, "b1", "c", build); err != nil {
		t.Fatal(err)
	}
	return state
}

func TestCopyWarmTakesAFreshSpare(t *testing.T) {
	state := writeOneFileSlug(t)
	t.Cleanup(func() {
		// a stopped dynobox leaves no spare, even one still being made
		RemoveSpares(state)
		if left, _ := filepath.Glob(filepath.Join(state, dynosDir, sparePrefix+"*")); len(left) > 0 {
			t.Errorf("spares left after RemoveSpares: %v", left)
		}
	})
	if err := PrepareSpare(state, "b1"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(sparePath(state, "b1"), ".taken"), []byte("spare"), 0o644) // marks it
	dir, remove, err := CopyWarm(state, "b1", "web.1")
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	if !strings.HasPrefix(filepath.Base(dir), "web.1-") {
		t.Fatalf("copy at %s", dir)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "d", "f")); string(got) != "slug" {
		t.Fatalf("first copy has %q", got)
	}
	if taken, _ := os.ReadFile(filepath.Join(dir, ".taken")); string(taken) != "spare" {
		t.Fatal("the first copy is not the spare made ahead")
	}
	// A write in place in one copy is not in the slug nor the next copy.
	os.WriteFile(filepath.Join(dir, "d", "f"), []byte("changed"), 0o644)
	if err := PrepareSpare(state, "b1"); err != nil {
		t.Fatal(err)
	}
	dir2, remove2, err := CopyWarm(state, "b1", "web.2")
	if err != nil {
		t.Fatal(err)
	}
	defer remove2()
	if got, _ := os.ReadFile(filepath.Join(dir2, "d", "f")); string(got) != "slug" {
		t.Fatalf("second copy has %q", got)
	}
}

// Write makes the slug's first spare while it compresses: the release's
// first dyno takes it, and Take makes no other.
func TestWriteMakesTheFirstSpare(t *testing.T) {
	state := writeOneFileSlug(t)
	os.WriteFile(filepath.Join(sparePath(state, "b1"), ".taken"), []byte("spare"), 0o644) // marks it; fails if Write made none
	dir, remove, err := Take(state, "b1", "release.1")
	if err != nil {
		t.Fatal(err)
	}
	if taken, _ := os.ReadFile(filepath.Join(dir, ".taken")); string(taken) != "spare" {
		t.Fatal("the release's copy is not the spare Write made")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "d", "f")); string(got) != "slug" {
		t.Fatalf("the spare has %q", got)
	}
	remove()
	if _, err := os.Stat(sparePath(state, "b1")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Take made another spare: %v", err)
	}
	// With no spare, Take copies.
	dir, remove, err = Take(state, "b1", "release.2")
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	if got, _ := os.ReadFile(filepath.Join(dir, "d", "f")); string(got) != "slug" {
		t.Fatalf("the copy has %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(state, dynosDir, sparePrefix+"*")); len(left) != 0 {
		t.Fatalf("spares left: %v", left)
	}
}
