package addons

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Colors are chosen without a server: these tests need no PostgreSQL.

func pgColorTestWrite(t *testing.T, dir, color string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "color"), []byte(color+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func pgColorTestClaim(t *testing.T, p *Postgres) string {
	t.Helper()
	c, err := p.claimColor()
	if err != nil {
		t.Fatalf("claim color: %v", err)
	}
	return c
}

// An add-on created in an earlier run keeps its color even before it
// starts: a new add-on of the app never takes it, whatever the color.
func TestPostgresColorKeptByStoppedAddonIsNotTaken(t *testing.T) {
	t.Parallel()
	for _, kept := range pgColors {
		app := t.TempDir()
		pgColorTestWrite(t, filepath.Join(app, "analytics-db"), kept)
		p := NewPostgres(Options{Dir: filepath.Join(app, "heroku-postgresql")})
		if got := pgColorTestClaim(t, p); got == kept {
			t.Fatalf("new add-on took %s, which analytics-db keeps", got)
		}
	}
}

// Add-ons of one app started at once (a Set does) get different colors,
// and each keeps its own from run to run.
func TestPostgresColorsDifferWhenStartedAtOnce(t *testing.T) {
	t.Parallel()
	app := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One name for all: each first tries the same color.
			p := NewPostgres(Options{Dir: filepath.Join(app, "pg"+string(rune('a'+i)))})
			got[i], errs[i] = p.claimColor()
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for i, c := range got {
		if errs[i] != nil {
			t.Fatalf("claim color: %v", errs[i])
		}
		if j, dup := seen[c]; dup {
			t.Fatalf("add-ons %d and %d both %s", j, i, c)
		}
		seen[c] = i
		again := pgColorTestClaim(t, NewPostgres(Options{Dir: filepath.Join(app, "pg"+string(rune('a'+i)))}))
		if again != c {
			t.Errorf("add-on %d: %s, then %s on the next run", i, c, again)
		}
	}
}

// Two add-ons that kept one color (state an older dynobox left) get two
// again: the one that starts first takes another and says so.
func TestPostgresColorClashInKeptStateIsUndone(t *testing.T) {
	t.Parallel()
	app := t.TempDir()
	pgColorTestWrite(t, filepath.Join(app, "heroku-postgresql"), "TEAL")
	pgColorTestWrite(t, filepath.Join(app, "heroku-postgresql-2"), "TEAL")
	log := newPgTestLog(t)
	p := NewPostgres(Options{Dir: filepath.Join(app, "heroku-postgresql-2"), Log: log.add})
	p.AddonName = "heroku-postgresql-2"
	c := pgColorTestClaim(t, p)
	if c == "TEAL" {
		t.Fatal("both TEAL")
	}
	if !log.has("color TEAL is also heroku-postgresql's; this add-on's is now " + c) {
		t.Errorf("change not logged:\n%s", log)
	}
	b, _ := os.ReadFile(filepath.Join(app, "heroku-postgresql-2", "color"))
	if strings.TrimSpace(string(b)) != c {
		t.Errorf("new color not kept: %q", b)
	}
	first := NewPostgres(Options{Dir: filepath.Join(app, "heroku-postgresql")})
	if got := pgColorTestClaim(t, first); got != "TEAL" {
		t.Errorf("heroku-postgresql lost its color: %s", got)
	}
}

// Colors are an app's: another app keeping the same color changes nothing.
func TestPostgresColorsOfAnotherApp(t *testing.T) {
	t.Parallel()
	first := pgColorTestClaim(t, NewPostgres(Options{Dir: filepath.Join(t.TempDir(), "heroku-postgresql")}))
	other := pgColorTestClaim(t, NewPostgres(Options{Dir: filepath.Join(t.TempDir(), "heroku-postgresql")}))
	if first != other {
		t.Errorf("same name, two apps: %s and %s (a color should depend on its app alone)", first, other)
	}
}
