package state

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConfigReleasesSurviveReopen(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	if _, err := s.AddRelease("Initial release", ""); err != nil {
		t.Fatal(err)
	}
	r2, err := s.UpdateConfig(map[string]string{"FOO": "bar", "N": "1"}, nil, "Set FOO, N config vars")
	if err != nil || r2.Version != 2 {
		t.Fatalf("release %+v, %v", r2, err)
	}
	r3, err := s.UpdateConfig(map[string]string{"N": "2"}, []string{"FOO"}, "Set N config vars")
	if err != nil || r3.Version != 3 {
		t.Fatalf("release %+v, %v", r3, err)
	}
	if err := s.SetFormation(map[string]int{"web": 3, "worker": 0}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg, _ := s.ConfigVars()
	if len(cfg) != 1 || cfg["N"] != "2" {
		t.Fatalf("config after reopen: %v", cfg)
	}
	f, _ := s.Formation()
	if f["web"] != 3 || f["worker"] != 0 || len(f) != 2 {
		t.Fatalf("formation after reopen: %v", f)
	}
	rels, _ := s.Releases(0)
	if len(rels) != 3 || rels[0].Version != 3 || rels[2].Description != "Initial release" {
		t.Fatalf("releases: %+v", rels)
	}
	old, err := s.Release(2)
	if err != nil || old.Config["FOO"] != "bar" {
		t.Fatalf("v2: %+v %v", old, err)
	}
	r4, err := s.ReplaceConfig(old.Config, "Rollback to v2", "")
	if err != nil || r4.Version != 4 {
		t.Fatal(err)
	}
	cfg, _ = s.ConfigVars()
	if cfg["FOO"] != "bar" || cfg["N"] != "1" {
		t.Fatalf("after rollback: %v", cfg)
	}
	if _, err := s.Release(99); err == nil || !strings.Contains(err.Error(), "v99") {
		t.Fatalf("missing release: %v", err)
	}
}

func TestCorruptDatabaseIsAnErrorNotAReset(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	garbage := []byte(strings.Repeat("not a database ", 1000))
	os.WriteFile(path, garbage, 0o600)
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("corrupt db: %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(garbage) {
		t.Fatal("the corrupt file was modified")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	s.db.Exec("PRAGMA user_version = 99")
	s.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer dynobox") {
		t.Fatalf("newer schema: %v", err)
	}
}

func TestLogHistoryBounded(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	for b := 0; b < 5; b++ {
		var lines []LogLine
		for i := 0; i < 1000; i++ {
			lines = append(lines, LogLine{At: time.Now(), Source: "app", Process: "web.1", Text: fmt.Sprintf("line %d", b*1000+i)})
		}
		if err := s.AppendLogs(context.Background(), lines, 2000); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.RecentLogs(5000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2000 || got[0].Text != "line 3000" || got[1999].Text != "line 4999" {
		t.Fatalf("kept %d lines, first %q", len(got), got[0].Text)
	}
}

func TestDynoEventsAndAddons(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	st := 143
	s.AddDynoEvent(DynoEvent{At: time.Now(), Dyno: "web.1", Type: "web", From: "starting", To: "up"})
	s.AddDynoEvent(DynoEvent{At: time.Now(), Dyno: "web.1", Type: "web", From: "up", To: "down", ExitStatus: &st})
	s.AddDynoEvent(DynoEvent{At: time.Now(), Dyno: "worker.1", Type: "worker", From: "starting", To: "up"})
	ev, _ := s.DynoEvents("web.1", 10)
	if len(ev) != 2 || ev[1].To != "down" || ev[1].ExitStatus == nil || *ev[1].ExitStatus != 143 {
		t.Fatalf("events: %+v", ev)
	}
	if err := s.AddAddon(AddonRecord{Name: "heroku-postgresql", Plan: "heroku-postgresql:essential-0", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAddon(AddonRecord{Name: "heroku-postgresql", Plan: "x", CreatedAt: time.Now()}); err == nil {
		t.Fatal("duplicate add-on accepted")
	}
	if ok, _ := s.RemoveAddon("heroku-postgresql"); !ok {
		t.Fatal("remove failed")
	}
}

func TestOldDatabaseMigrates(t *testing.T) {
	t.Parallel()
	// A database as the first dynobox left it: schema 1, an add-on recorded.
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := migrations.ReadFile("migrations/0001_init.sql")
	for _, q := range []string{string(first), "INSERT INTO addons VALUES ('heroku-redis', 'heroku-redis', '', '2026-01-01T00:00:00Z')",
		"INSERT INTO releases(version, description, created_at) VALUES (1, 'Initial release', '2026-01-01T00:00:00Z')", "PRAGMA user_version = 1"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.Addons()
	if err != nil || len(list) != 1 || list[0].Name != "heroku-redis" {
		t.Fatalf("after migration: %+v %v", list, err)
	}
	rels, err := s.Releases(0)
	if err != nil || len(rels) != 1 || rels[0].Phase != "" {
		t.Fatalf("releases after migration: %+v %v", rels, err)
	}
}

// A state directory whose path holds ?, # or % keeps its database inside
// it, and the database with its -wal and -shm files is 0600.
func TestOpenEscapesThePathAndKeepsFilesPrivate(t *testing.T) {
	for _, name := range []string{"q?x", "a#b", "p%3Fc", "p%zz"} {
		dir := filepath.Join(t.TempDir(), name, ".dynobox")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		s, err := Open(filepath.Join(dir, "state.db"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := s.AddRelease("test", ""); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"state.db", "state.db-wal", "state.db-shm"} {
			st, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s/%s is %o, want 600", name, f, st.Mode().Perm())
			}
		}
		s.Close()
		entries, _ := os.ReadDir(filepath.Dir(filepath.Dir(dir)))
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s: the database left its directory: %v", name, names)
		}
	}
}
