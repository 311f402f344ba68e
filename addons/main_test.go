package addons

import (
	"os"
	"testing"
)

// TestMain lets the test binary double as the helper processes that the
// kill -9 tests start and kill: a dynobox-like process running an add-on.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DYNOBOX_PG_TEST_HELPER"); dir != "" {
		runPgHelper(dir)
		return
	}
	if kind := os.Getenv("DYNOBOX_ADDON_CHILD"); kind != "" {
		runAddonChild(kind)
		return
	}
	// The tests that do not name a Redis backend are the embedded one's
	// (redis_test.go); the contract tests name each backend themselves.
	if os.Getenv(RedisBackendEnv) == "" {
		os.Setenv(RedisBackendEnv, RedisEmbedded)
	}
	os.Exit(m.Run())
}

// needed stops a test that cannot run here: a failure in CI (.ci/run
// installs everything the tests use), a skip elsewhere.
func needed(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must run this test: "+format, args...)
	}
	t.Skipf(format, args...)
}

// slowServer skips, under go test -short only (the developer's fast loop),
// a test that runs a real PostgreSQL server: each initdb and start takes
// seconds, together minutes. TestPostgresConnectPgxAndPsql still runs as
// the fast loop's smoke test. The full suite — go test ./..., what CI runs
// — always runs them; CI=true alone never skips.
func slowServer(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short: starts a real PostgreSQL server (go test ./addons runs it)")
	}
}
