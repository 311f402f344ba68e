package addons

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPostgresEmbeddedCache checks pgExtract against the library: an
// archive in embedded-postgres' cache is extracted, nothing is run, and the
// next lookup finds the extracted binaries without the archive.
func TestPostgresEmbeddedCache(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the library leaves a log file there
	if _, err := exec.LookPath("xz"); err != nil {
		needed(t, "needs xz to build a test archive (apt-get install xz-utils)")
	}
	platform, ok := pgEmbeddedPlatform(pgDefaultMajor)
	if !ok {
		needed(t, "no embedded-postgres builds for this platform")
	}
	cache := t.TempDir()
	src := t.TempDir()
	os.Mkdir(filepath.Join(src, "bin"), 0o755)
	ran := filepath.Join(t.TempDir(), "ran")
	scripts := map[string]string{
		"postgres": "#!/bin/sh\necho 'postgres (PostgreSQL) 17.5'\n",
		"initdb":   "#!/bin/sh\ntouch " + ran + "\nexit 1\n",
		"pg_ctl":   "#!/bin/sh\ntouch " + ran + "\nexit 1\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(src, "bin", name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	version := pgEmbeddedVersions[pgDefaultMajor]
	archive := filepath.Join(cache, "archives", "embedded-postgres-binaries-"+platform+"-"+string(version)+".txz")
	os.MkdirAll(filepath.Dir(archive), 0o755)
	if out, err := exec.Command("tar", "-C", src, "-cJf", archive, "bin").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}

	f := pgFinder{noDownload: true, noSystem: true, cacheDir: cache, log: func(string) {}}
	b, err := f.find(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, "extracted", string(version), "bin")
	if b.dir != want || b.version != "17.5" || b.major != "17" || !strings.HasPrefix(b.source, "embedded-postgres") {
		t.Errorf("found %+v, want %s", b, want)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the library ran initdb or pg_ctl")
	}

	os.Remove(archive)
	if b2, err := f.find(context.Background(), "", ""); err != nil || b2.dir != want {
		t.Errorf("extracted binaries not reused: %+v %v", b2, err)
	}
	// A data directory of another version needs binaries of its version.
	if _, err := f.find(context.Background(), "15", ""); err == nil || !strings.Contains(err.Error(), "apt-get install postgresql-15") {
		t.Errorf("want a PostgreSQL 15 install hint, got %v", err)
	}
}

// TestPostgresVersionMismatch: binaries of another major version than the
// data directory's are refused, never used to re-create it.
func TestPostgresVersionMismatch(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for _, name := range []string{"initdb", "postgres"} {
		os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho 'postgres (PostgreSQL) 16.4'\n"), 0o755)
	}
	f := pgFinder{explicit: bin, log: func(string) {}}
	if b, err := f.find(context.Background(), "", ""); err != nil || b.major != "16" {
		t.Fatalf("%+v %v", b, err)
	}
	_, err := f.find(context.Background(), "15", "")
	if err == nil || !strings.Contains(err.Error(), "created by PostgreSQL 15") || !strings.Contains(err.Error(), "never deletes") {
		t.Errorf("err = %v", err)
	}
}

func TestPostgresSystemDirOrder(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", "/usr/pgsql-16/bin", "/usr/lib/postgresql/17/bin"}
	slices.SortStableFunc(dirs, func(a, b string) int { return -strings.Compare(pgDirSortKey(a), pgDirSortKey(b)) })
	want := []string{"/usr/lib/postgresql/17/bin", "/usr/pgsql-16/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/9.6/bin"}
	if !slices.Equal(dirs, want) {
		t.Errorf("order %v", dirs)
	}
}
