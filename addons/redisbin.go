package addons

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Which Redis serves the heroku-redis add-on. A real redis-server, when
// one is installed, is Redis itself: every command, Lua library and
// persistence mode clients expect. The embedded backend (miniredis) is for
// machines with nothing installed.
const (
	// RedisBackendEnv chooses the backend: "system" (redis-server, an error
	// when none is found), "embedded" (miniredis), or "" / "auto" (system
	// when installed, else embedded).
	RedisBackendEnv = "DYNOBOX_REDIS"
	// RedisServerEnv is the redis-server binary to run; it wins over PATH
	// and the usual install locations.
	RedisServerEnv = "DYNOBOX_REDIS_SERVER"

	RedisAuto     = "auto"
	RedisSystem   = "system"
	RedisEmbedded = "embedded"
)

// redisServerMinMajor is the oldest redis-server the system backend runs:
// 6.0 brought TLS (tls-port) and AUTH with a user name.
const redisServerMinMajor = 6

// redisBinary is one redis-server executable and its version.
type redisBinary struct {
	path    string
	version string // "7.0.15"
}

// redisWant reads RedisBackendEnv: RedisAuto, RedisSystem or RedisEmbedded.
func redisWant() (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv(RedisBackendEnv))); v {
	case "", RedisAuto:
		return RedisAuto, nil
	case RedisSystem, RedisEmbedded:
		return v, nil
	default:
		return "", fmt.Errorf("%s=%q: want %q (redis-server), %q (built in) or %q", RedisBackendEnv, v, RedisSystem, RedisEmbedded, RedisAuto)
	}
}

// findRedisServer looks for redis-server: $DYNOBOX_REDIS_SERVER, then PATH,
// then where packages put it. An explicit path that does not work is an
// error, not a reason to look elsewhere.
func findRedisServer(ctx context.Context) (redisBinary, error) {
	if p := os.Getenv(RedisServerEnv); p != "" {
		b, err := redisProbe(ctx, p)
		if err != nil {
			return b, fmt.Errorf("%s=%s: %w", RedisServerEnv, p, err)
		}
		return b, nil
	}
	var candidates []string
	if p, err := exec.LookPath("redis-server"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates,
		"/usr/bin/redis-server",                    // Debian, Ubuntu, Fedora
		"/usr/local/bin/redis-server",              // make install
		"/opt/homebrew/opt/redis/bin/redis-server", // Homebrew, Apple silicon
		"/usr/local/opt/redis/bin/redis-server",    // Homebrew, Intel
	)
	var tried []string
	for _, c := range candidates {
		if _, err := os.Stat(c); err != nil {
			continue
		}
		b, err := redisProbe(ctx, c)
		if err == nil {
			return b, nil
		}
		tried = append(tried, err.Error())
	}
	if len(tried) > 0 {
		return redisBinary{}, errors.New(strings.Join(tried, "; "))
	}
	return redisBinary{}, errors.New("redis-server not found in PATH, /usr/bin or /usr/local/bin; install it " +
		"(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set " + RedisServerEnv)
}

var redisVersionRE = regexp.MustCompile(`\bv=(\d+)\.(\d+)\.(\d+)`)

// redisProbe asks path for its version: "Redis server v=7.0.15 sha=…".
func redisProbe(ctx context.Context, path string) (redisBinary, error) {
	b := redisBinary{path: path}
	if !filepath.IsAbs(path) {
		if abs, err := filepath.Abs(path); err == nil {
			b.path = abs
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, b.path, "--version").Output()
	if err != nil {
		return b, fmt.Errorf("%s --version: %w", b.path, err)
	}
	m := redisVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return b, fmt.Errorf("%s --version: unrecognised output %q", b.path, strings.TrimSpace(string(out)))
	}
	b.version = m[1] + "." + m[2] + "." + m[3]
	if major, _ := strconv.Atoi(m[1]); major < redisServerMinMajor {
		return b, fmt.Errorf("%s is Redis %s; the add-on needs %d.0 or newer (TLS)", b.path, b.version, redisServerMinMajor)
	}
	return b, nil
}

// pickRedisBackend decides which backend serves: a redis-server, or nil
// for the embedded one. want ("" to read RedisBackendEnv) is RedisSystem,
// RedisEmbedded or RedisAuto; log hears why an automatic choice fell back.
func pickRedisBackend(ctx context.Context, want string, log func(string)) (*redisBinary, error) {
	if want == "" {
		var err error
		if want, err = redisWant(); err != nil {
			return nil, err
		}
	}
	if want == RedisEmbedded {
		return nil, nil
	}
	b, err := findRedisServer(ctx)
	if err != nil {
		if want == RedisSystem {
			return nil, fmt.Errorf("%s=%s: %w", RedisBackendEnv, RedisSystem, err)
		}
		if os.Getenv(RedisServerEnv) != "" {
			return nil, err // asked for a binary by path: never fall back silently
		}
		log("no redis-server installed; running the embedded Redis (" + err.Error() + ")")
		return nil, nil
	}
	return &b, nil
}
