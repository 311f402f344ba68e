package addons

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// PgBinDirEnv names a directory holding initdb and postgres; it wins over
// every other source of PostgreSQL binaries.
const PgBinDirEnv = "DYNOBOX_PG_BIN_DIR"

// pgDefaultMajor is what a new database gets when binaries are downloaded:
// Heroku's default version.
const pgDefaultMajor = "17"

// pgMavenURL is where embedded-postgres downloads its binaries from.
const pgMavenURL = "https://repo1.maven.org/maven2"

// pgEmbeddedVersions maps a major version to the release embedded-postgres
// downloads for it.
var pgEmbeddedVersions = map[string]embeddedpostgres.PostgresVersion{
	"18": embeddedpostgres.V18, "17": embeddedpostgres.V17, "16": embeddedpostgres.V16,
	"15": embeddedpostgres.V15, "14": embeddedpostgres.V14, "13": embeddedpostgres.V13,
	"12": embeddedpostgres.V12, "11": embeddedpostgres.V11, "10": embeddedpostgres.V10,
	"9.6": embeddedpostgres.V9,
}

// pgBinaries is one set of PostgreSQL server binaries.
type pgBinaries struct {
	dir     string // holds initdb and postgres
	version string // "15.18"
	major   string // "15"; "9.6" before PostgreSQL 10
	source  string // where they came from, for the log
}

// pgFinder looks for server binaries, in the order the issue asks for.
type pgFinder struct {
	explicit   string // --pg-bin-dir or $DYNOBOX_PG_BIN_DIR
	noDownload bool
	noSystem   bool
	cacheDir   string // "" → the usual cache directories
	log        func(string)
}

// find returns binaries for major version want ("" when there is no data
// directory yet). recorded is the directory that served this data
// directory last time: trusted first, so a warm start never touches the
// network and a download of a newer default cannot strand old data.
func (f pgFinder) find(ctx context.Context, want, recorded string) (pgBinaries, error) {
	if f.explicit != "" {
		b, err := pgProbe(ctx, f.explicit, "explicit")
		if err != nil {
			return b, fmt.Errorf("%s=%s: %w", PgBinDirEnv, f.explicit, err)
		}
		if want != "" && b.major != want {
			return b, pgMismatch(want, b)
		}
		return b, nil
	}
	if recorded != "" && want != "" {
		if b, err := pgProbe(ctx, recorded, "recorded"); err == nil && b.major == want {
			return b, nil
		}
	}
	var tried []string
	b, err := f.embedded(ctx, want)
	if err == nil {
		return b, nil
	}
	tried = append(tried, "embedded-postgres: "+err.Error())
	if f.noSystem {
		tried = append(tried, "system installation: disabled")
	} else {
		b, err := f.system(ctx, want)
		if err == nil {
			return b, nil
		}
		tried = append(tried, "system installation: "+err.Error())
	}
	return pgBinaries{}, pgNotFound(want, tried)
}

func pgMismatch(want string, b pgBinaries) error {
	return fmt.Errorf("the data directory was created by PostgreSQL %s but %s holds PostgreSQL %s; "+
		"point %s at PostgreSQL %s binaries (dynobox never deletes a data directory)",
		want, b.dir, b.version, PgBinDirEnv, want)
}

func pgNotFound(want string, tried []string) error {
	what, apt, brew := "PostgreSQL server binaries", "postgresql", "postgresql@"+pgDefaultMajor
	if want != "" {
		what = fmt.Sprintf("PostgreSQL %s server binaries (the data directory was created by PostgreSQL %s)", want, want)
		apt, brew = "postgresql-"+want, "postgresql@"+want
	}
	return fmt.Errorf("no %s found (%s); install them (Debian/Ubuntu: apt-get install %s; macOS: brew install %s) "+
		"or set %s to a directory holding initdb and postgres",
		what, strings.Join(tried, "; "), apt, brew, PgBinDirEnv)
}

// pgProbe checks that dir holds initdb and postgres and asks postgres for
// its version.
func pgProbe(ctx context.Context, dir, source string) (pgBinaries, error) {
	b := pgBinaries{dir: dir, source: source}
	for _, name := range []string{"initdb", "postgres"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return b, fmt.Errorf("no %s in %s", name, dir)
		}
		if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			return b, fmt.Errorf("%s in %s is not executable", name, dir)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return b, fmt.Errorf("%s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	b.version, b.major, err = pgParseVersion(string(out))
	return b, err
}

var pgVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(\.\d+)?(\.\d+)?`)

// pgParseVersion reads "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
func pgParseVersion(out string) (version, major string, err error) {
	m := pgVersionRE.FindStringSubmatch(out)
	if m == nil {
		return "", "", fmt.Errorf("unrecognised postgres --version output %q", strings.TrimSpace(out))
	}
	version = m[1] + m[2] + m[3]
	major = m[1]
	if n, _ := strconv.Atoi(m[1]); n < 10 {
		major += m[2] // 9.6: the major version had two parts then
	}
	return version, major, nil
}

// embedded finds embedded-postgres binaries: extracted by an earlier run,
// extracted now from its archive cache, or downloaded. A download is only
// attempted after a quick check that the archive is reachable, because the
// library's own download has no timeout and no context.
func (f pgFinder) embedded(ctx context.Context, want string) (pgBinaries, error) {
	major := want
	if major == "" {
		major = pgDefaultMajor
	}
	version, ok := pgEmbeddedVersions[major]
	platform, pok := pgEmbeddedPlatform(major)
	if !ok || !pok {
		return pgBinaries{}, fmt.Errorf("no build of PostgreSQL %s for %s/%s", major, runtime.GOOS, runtime.GOARCH)
	}
	archives, extracted := f.cacheDirs()
	dest := filepath.Join(extracted, string(version))
	source := "embedded-postgres " + string(version)
	if b, err := pgProbe(ctx, filepath.Join(dest, "bin"), source); err == nil {
		return b, nil
	}
	archive := filepath.Join(archives, fmt.Sprintf("embedded-postgres-binaries-%s-%s.txz", platform, version))
	if _, err := os.Stat(archive); err != nil {
		if f.noDownload {
			return pgBinaries{}, fmt.Errorf("no cached archive %s and downloads are disabled", archive)
		}
		jar := fmt.Sprintf("%s/io/zonky/test/postgres/embedded-postgres-binaries-%s/%s/embedded-postgres-binaries-%s-%s.jar",
			pgMavenURL, platform, version, platform, version)
		if err := pgReachable(ctx, jar); err != nil {
			return pgBinaries{}, fmt.Errorf("no cached archive and no download: %w", err)
		}
		f.log("downloading PostgreSQL " + string(version) + " (embedded-postgres)")
	}
	if err := pgExtract(ctx, version, archives, dest); err != nil {
		return pgBinaries{}, err
	}
	b, err := pgProbe(ctx, filepath.Join(dest, "bin"), source)
	if err == nil && b.major != major {
		err = fmt.Errorf("embedded-postgres %s reports PostgreSQL %s", version, b.version)
	}
	return b, err
}

// cacheDirs returns where archives are cached (embedded-postgres' own
// ~/.embedded-postgres-go, shared with other programs using the library)
// and where dynobox keeps them extracted. As root, binaries go to
// /var/cache: the account running the server could not reach /root.
func (f pgFinder) cacheDirs() (archives, extracted string) {
	if f.cacheDir != "" {
		return filepath.Join(f.cacheDir, "archives"), filepath.Join(f.cacheDir, "extracted")
	}
	archives = ".embedded-postgres-go"
	if home, err := os.UserHomeDir(); err == nil {
		archives = filepath.Join(home, archives)
	}
	if os.Geteuid() == 0 {
		return archives, "/var/cache/dynobox/postgresql"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return archives, filepath.Join(cache, "dynobox", "postgresql")
}

// pgEmbeddedPlatform mirrors how embedded-postgres names its archives.
func pgEmbeddedPlatform(major string) (string, bool) {
	goos, arch := runtime.GOOS, runtime.GOARCH
	switch {
	case goos == "linux" && arch == "arm64":
		arch = "arm64v8"
	case goos == "linux" && arch == "arm":
		return "", false // it asks uname for v6/v7; not worth guessing
	case goos == "darwin" && arch == "arm64":
		if n, _ := strconv.Atoi(major); n >= 14 {
			arch = "arm64v8" // before 14.2 it has only amd64 builds
		} else {
			arch = "amd64"
		}
	}
	if _, err := os.Stat("/etc/alpine-release"); err == nil && goos == "linux" {
		arch += "-alpine"
	}
	return goos + "-" + arch, true
}

// pgReachable checks within seconds that jar answers 200; offline, behind
// a firewall or in CI this fails fast where the library would hang or fail
// slowly.
func pgReachable(ctx context.Context, jar string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, jar, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("%s unreachable: %w", pgMavenURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", jar, resp.Status)
	}
	return nil
}

// pgExtract has embedded-postgres download (unless archived) and extract
// its binaries into dest. The library offers this only as part of Start,
// which would then delete and initdb a data directory and run pg_ctl; a
// DataPath below a regular file makes Start fail right after extracting,
// before it runs anything. pgbin_test.go checks this against the library.
func pgExtract(ctx context.Context, version embeddedpostgres.PostgresVersion, archives, dest string) error {
	tmp, err := os.MkdirTemp("", "dynobox-pg-extract-")
	if err != nil {
		return err
	}
	blocker := filepath.Join(tmp, "stop-here")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	cfg := embeddedpostgres.DefaultConfig().
		Version(version).
		Port(0). // its free-port check then always passes
		CachePath(archives).
		RuntimePath(filepath.Join(tmp, "runtime")).
		BinariesPath(dest).
		DataPath(filepath.Join(blocker, "data")).
		Logger(nil)
	done := make(chan error, 1)
	go func() {
		defer os.RemoveAll(tmp)
		done <- embeddedpostgres.NewDatabase(cfg).Start()
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		// The library cannot be interrupted; it finishes in the background.
		return fmt.Errorf("embedded-postgres %s: %w", version, ctx.Err())
	}
	if _, serr := os.Stat(filepath.Join(dest, "bin", "postgres")); serr != nil {
		return fmt.Errorf("embedded-postgres %s: %v", version, err)
	}
	return nil
}

// system finds a system installation: pg_config's bindir, the usual
// versioned directories newest first, then PATH.
func (f pgFinder) system(ctx context.Context, want string) (pgBinaries, error) {
	var seen []string
	var found []pgBinaries
	for _, dir := range pgSystemDirs(ctx) {
		if slices.Contains(seen, dir) {
			continue
		}
		seen = append(seen, dir)
		b, err := pgProbe(ctx, dir, "system")
		if err != nil {
			continue
		}
		if want == "" || b.major == want {
			return b, nil
		}
		found = append(found, b)
	}
	if len(found) > 0 {
		return pgBinaries{}, fmt.Errorf("found only %s", pgVersions(found))
	}
	return pgBinaries{}, errors.New("none in pg_config --bindir, /usr/lib/postgresql/*/bin or PATH")
}

func pgVersions(bs []pgBinaries) string {
	var s []string
	for _, b := range bs {
		s = append(s, "PostgreSQL "+b.version+" in "+b.dir)
	}
	return strings.Join(s, ", ")
}

var pgDirVersionRE = regexp.MustCompile(`(\d+(?:\.\d+)?)/bin$`)

func pgSystemDirs(ctx context.Context) []string {
	var dirs []string
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	var versioned []string
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
		"/usr/pgsql-*/bin",                   // PGDG RPMs
		"/opt/homebrew/opt/postgresql@*/bin", // Homebrew, Apple silicon
		"/usr/local/opt/postgresql@*/bin",    // Homebrew, Intel
		"/Applications/Postgres.app/Contents/Versions/*/bin",
	} {
		m, _ := filepath.Glob(pattern)
		versioned = append(versioned, m...)
	}
	slices.SortStableFunc(versioned, func(a, b string) int {
		return -strings.Compare(pgDirSortKey(a), pgDirSortKey(b))
	})
	dirs = append(dirs, versioned...)
	if p, err := exec.LookPath("postgres"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	return dirs
}

// pgDirSortKey makes "…/9.6/bin" sort below "…/15/bin".
func pgDirSortKey(dir string) string {
	m := pgDirVersionRE.FindStringSubmatch(dir)
	if m == nil {
		return ""
	}
	whole, frac, _ := strings.Cut(m[1], ".")
	return fmt.Sprintf("%06s.%06s", whole, frac)
}
