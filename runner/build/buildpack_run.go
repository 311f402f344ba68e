package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// envName is what a config var name must look like to become an ENV_DIR
// file.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// buildpacksBuild runs the plan's buildpacks in order through Heroku's
// classic API: bin/detect BUILD_DIR, bin/compile BUILD_DIR CACHE_DIR
// ENV_DIR, bin/release BUILD_DIR, each buildpack's export file sourced
// before the next one's scripts. A built-in name (heroku/go) runs
// dynobox's own step in its place. The merged releases are saved for the
// app's default process types and config var defaults.
func (b *builder) buildpacksBuild(ctx context.Context) error {
	if len(b.plan.Buildpacks) == 0 {
		return fmt.Errorf("no buildpacks")
	}
	envDir, err := b.writeEnvDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(envDir)
	var exports []string
	var rel Release
	for _, url := range b.plan.Buildpacks {
		if kind, ok := BuiltinKind(url); ok {
			b.out.line(fmt.Sprintf("-----> Buildpack %s: dynobox's built-in %s build", url, Plan{Kind: kind}))
			sub := *b
			sub.plan = Plan{Kind: kind, GoInstall: b.plan.GoInstall}
			if err := sub.run(ctx); err != nil {
				return err
			}
			b.binaries = append(b.binaries, sub.binaries...)
			b.stage = sub.stage
			rel.merge(builtinRelease(kind, b.appDir))
			rel.merge(Release{ProcessTypes: sub.defaults})
			continue
		}
		sum := sha256.Sum256([]byte(url))
		cacheDir := filepath.Join(b.stateDir, "buildpack-cache", hex.EncodeToString(sum[:6]))
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return err
		}
		dir, err := b.resolveBuildpack(url, filepath.Join(b.stateDir, "buildpack-checkouts"))
		if err != nil {
			return err
		}
		var name bytes.Buffer
		if isFile(filepath.Join(dir, "bin", "detect")) {
			s := b.sourced(url+" bin/detect", exports, filepath.Join(dir, "bin", "detect"), b.appDir)
			s.stdout = &name
			if err := b.exec(ctx, s); err != nil {
				return fmt.Errorf("app not compatible with buildpack %s (%w)", url, err)
			}
		}
		label := strings.TrimSpace(strings.SplitN(name.String(), "\n", 2)[0])
		if label == "" {
			label = filepath.Base(dir)
		}
		b.out.line("-----> " + label + " app detected")
		if err := b.exec(ctx, b.sourced(url+" bin/compile", exports, filepath.Join(dir, "bin", "compile"), b.appDir, cacheDir, envDir)); err != nil {
			return err
		}
		if isFile(filepath.Join(dir, "bin", "release")) {
			var out bytes.Buffer
			s := b.sourced(url+" bin/release", exports, filepath.Join(dir, "bin", "release"), b.appDir)
			s.stdout = &out
			if err := b.exec(ctx, s); err != nil {
				return err
			}
			r, err := ParseRelease(out.String())
			if err != nil {
				return fmt.Errorf("%s bin/release: %w", url, err)
			}
			rel.merge(r)
		}
		if exp := filepath.Join(dir, "export"); isFile(exp) {
			exports = append(exports, exp)
		}
	}
	b.out.line("-----> Discovering process types")
	if t := rel.types(); len(t) > 0 {
		b.out.line("       Default types for buildpack -> " + strings.Join(t, ", "))
	} else {
		b.out.line("       No default process types; the Procfile declares them")
	}
	if b.slug {
		return saveRelease(b.appDir, "", rel) // in the slug; the work tree's stays
	}
	return saveRelease(b.appDir, b.stateDir, rel)
}

// sourced is a buildpack script run with the export files of the
// buildpacks before it sourced first, as Heroku runs multiple buildpacks.
func (b *builder) sourced(name string, exports []string, argv ...string) step {
	b.out.line("-----> Running: " + name)
	if len(exports) == 0 {
		return step{name: name, dir: b.appDir, env: b.env, argv: argv}
	}
	var script strings.Builder
	for _, e := range exports {
		script.WriteString(". " + shellQuote(e) + "\n")
	}
	script.WriteString(`exec "$0" "$@"`)
	return step{name: name, dir: b.appDir, env: b.env, argv: append([]string{"/bin/sh", "-c", script.String()}, argv...)}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writeEnvDir makes ENV_DIR: one file per config var of the app (every
// variable of the build's environment when the caller gave none), named
// after it, holding its value (no newline added).
func (b *builder) writeEnvDir() (string, error) {
	if err := os.MkdirAll(b.stateDir, 0o755); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(b.stateDir, "buildpack-env-")
	if err != nil {
		return "", err
	}
	vars := b.config
	if vars == nil {
		vars = map[string]string{}
		for _, kv := range b.env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
	}
	for k, v := range vars {
		if !envName.MatchString(k) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}
