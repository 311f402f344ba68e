package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// A slug build of a Ruby app installs its gems the way Heroku's Ruby
// buildpack does: into the slug at vendor/bundle, without the development
// and test groups, in deployment mode (frozen to Gemfile.lock) when there
// is a lock, binstubs in vendor/bundle/bin, and gems the Gemfile no longer
// names removed (bundle clean). The installed gems are kept between
// builds as a cache (StateDir/push/cache/bundle), restored into the next
// build first, so an unchanged Gemfile.lock installs nothing.

// slugBundleConfig is the Bundler config of a slug, written to its
// .bundle/config so bundle exec in any copy of the slug finds the gems.
func slugBundleConfig(locked bool) map[string]string {
	cfg := map[string]string{
		"BUNDLE_PATH":    SlugBundle,
		"BUNDLE_BIN":     SlugBundle + "/bin",
		"BUNDLE_WITHOUT": "development:test",
	}
	if locked {
		cfg["BUNDLE_DEPLOYMENT"] = "true"
	}
	return cfg
}

func (b *builder) rubySlugBuild(ctx context.Context) error {
	_, err := os.Stat(filepath.Join(b.appDir, "Gemfile.lock"))
	cfg := slugBundleConfig(err == nil)
	if err := writeBundleConfig(b.appDir, cfg); err != nil {
		return err
	}
	cache := filepath.Join(b.stateDir, "push", "cache", "bundle")
	gems := filepath.Join(b.appDir, SlugBundle)
	if err := restoreCache(cache, gems); err != nil {
		return fmt.Errorf("restoring the gem cache: %w", err)
	}
	env := b.env
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		env = setenv(env, k, cfg[k]) // over any BUNDLE_* of the config vars
	}
	for _, argv := range [][]string{{"bundle", "install", "-j4"}, {"bundle", "clean"}} {
		s := b.step(strings.Join(argv, " "), argv...)
		s.env = env
		if err := b.exec(ctx, s); err != nil {
			return err
		}
	}
	if err := saveCache(gems, cache); err != nil {
		b.out.line(" !     Keeping the gem cache failed (the next build installs every gem): " + err.Error())
	}
	return nil
}

// writeBundleConfig writes cfg as dir/.bundle/config, Bundler's YAML,
// replacing any the app committed: the slug's layout is the platform's.
func writeBundleConfig(dir string, cfg map[string]string) error {
	var sb strings.Builder
	sb.WriteString("---\n")
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		fmt.Fprintf(&sb, "%s: %q\n", k, cfg[k])
	}
	if err := os.MkdirAll(filepath.Join(dir, ".bundle"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ".bundle", "config"), []byte(sb.String()), 0o644)
}

// restoreCache copies the cached gems into dst (nothing when there is no
// cache yet). cp -a --reflink=auto shares blocks on a filesystem that can.
func restoreCache(cache, dst string) error {
	if _, err := os.Stat(cache); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return copyTree(cache+"/.", dst)
}

// saveCache replaces the cache with a copy of the installed gems.
func saveCache(gems, cache string) error {
	if _, err := os.Stat(gems); err != nil {
		return nil // no gems at all
	}
	tmp := cache + ".new"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
		return err
	}
	if err := copyTree(gems, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.RemoveAll(cache)
	return os.Rename(tmp, cache)
}

func copyTree(src, dst string) error {
	out, err := exec.Command("cp", "-a", "--reflink=auto", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cp %s %s: %v: %s", src, dst, err, strings.TrimSpace(string(out)))
	}
	return nil
}
