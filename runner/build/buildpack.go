package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Buildpacks is the Kind of a Plan that runs the app's buildpack list
// (Plan.Buildpacks) in order, as Heroku does with several buildpacks.
const Buildpacks Kind = "buildpacks"

// BuildpacksFile is where `dynobox buildpacks:set/add/remove/clear`
// remember the app's list, relative to the app directory; it wins over
// app.json's "buildpacks" and a .buildpacks file, as `heroku buildpacks:set`
// wins over app.json on Heroku.
const BuildpacksFile = ".dynobox/buildpacks"

// builtinBuildpacks are Heroku's buildpack names that dynobox's own build
// steps stand in for.
var builtinBuildpacks = map[string]Kind{
	"heroku/go":      Go,
	"heroku/nodejs":  Node,
	"heroku/python":  Python,
	"heroku/ruby":    Ruby,
	"heroku/java":    Java,
	"heroku/gradle":  Gradle,
	"heroku/scala":   Scala,
	"heroku/clojure": Clojure,
	"heroku/php":     PHP,
}

// BuiltinNames lists the Heroku buildpack names dynobox builds itself,
// sorted, for messages.
func BuiltinNames() string {
	names := make([]string, 0, len(builtinBuildpacks))
	for n := range builtinBuildpacks {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// BuiltinKind is the built-in build step that stands in for the Heroku
// buildpack url (heroku/go, or its GitHub URL), if any.
func BuiltinKind(url string) (Kind, bool) {
	u := strings.TrimSuffix(strings.TrimSuffix(url, "/"), ".git")
	if rest, ok := strings.CutPrefix(u, "https://github.com/heroku/heroku-buildpack-"); ok {
		u = "heroku/" + rest
	}
	k, ok := builtinBuildpacks[u]
	return k, ok
}

// BuildpackList is the app's buildpack list and where it came from
// (the file that names it); nil when the app names none.
func BuildpackList(appDir string) (urls []string, source string, err error) {
	if urls, err := readLines(filepath.Join(appDir, BuildpacksFile)); err == nil {
		return urls, BuildpacksFile, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	raw, err := os.ReadFile(filepath.Join(appDir, "app.json"))
	if err == nil {
		var aj struct {
			Buildpacks []struct {
				URL string `json:"url"`
			} `json:"buildpacks"`
		}
		if err := json.Unmarshal(raw, &aj); err != nil {
			return nil, "", fmt.Errorf("app.json: %w", err)
		}
		for _, b := range aj.Buildpacks {
			if b.URL != "" {
				urls = append(urls, b.URL)
			}
		}
		if len(urls) > 0 {
			return urls, "app.json", nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	if urls, err := readLines(filepath.Join(appDir, ".buildpacks")); err == nil {
		return urls, ".buildpacks", nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	return nil, "", nil
}

// SaveBuildpackList remembers urls as the app's list; an empty list
// removes the file, so app.json or .buildpacks count again.
func SaveBuildpackList(appDir string, urls []string) error {
	path := filepath.Join(appDir, BuildpacksFile)
	if len(urls) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readLines reads one entry a line, skipping blanks and # comments.
func readLines(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, nil
}

// ErrNeedsNetwork marks a buildpack that only the network has.
var ErrNeedsNetwork = errors.New("needs the network")

// NetworkError says what to do about a buildpack dynobox cannot fetch.
func NetworkError(url string) error {
	return fmt.Errorf("buildpack %s %w, which dynobox does not use: clone it and name the local copy (a directory, or file:///path/repo.git#ref), or use a built-in (%s)", url, ErrNeedsNetwork, BuiltinNames())
}

// CheckBuildpack says whether url can be used here without fetching it:
// a built-in, a directory, or a git repository on disk. It resolves a
// relative path against appDir.
func CheckBuildpack(appDir, url string) error {
	if _, ok := BuiltinKind(url); ok {
		return nil
	}
	path, _, isLocal := localBuildpack(appDir, url)
	if !isLocal {
		return NetworkError(url)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("buildpack %s: %w", url, err)
	}
	return nil
}

// localBuildpack splits a local buildpack url into its path and git ref;
// false for anything that needs the network.
func localBuildpack(appDir, url string) (path, ref string, ok bool) {
	u := url
	if rest, isFile := strings.CutPrefix(u, "file://"); isFile {
		u = rest
	} else if strings.Contains(u, "://") || strings.HasPrefix(u, "git@") {
		return "", "", false
	} else if !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, ".") {
		// heroku/nodejs-style registry names and bare words.
		if _, err := os.Stat(filepath.Join(appDir, strings.SplitN(u, "#", 2)[0])); err != nil {
			return "", "", false
		}
	}
	u, ref, _ = strings.Cut(u, "#")
	if !filepath.IsAbs(u) {
		u = filepath.Join(appDir, u)
	}
	return u, ref, true
}

// resolveBuildpack is the directory holding bin/compile for a local
// buildpack: the directory itself, or a checkout of a git repository
// (at its ref) under cacheRoot.
func (b *builder) resolveBuildpack(url, cacheRoot string) (string, error) {
	path, ref, ok := localBuildpack(b.appDir, url)
	if !ok {
		return "", NetworkError(url)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("buildpack %s: %w", url, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("buildpack %s: %s is not a directory", url, path)
	}
	if ref == "" && isFile(filepath.Join(path, "bin", "compile")) {
		return path, nil
	}
	// A git repository on disk: a fresh clone at ref for each build.
	sum := sha256.Sum256([]byte(url))
	dest := filepath.Join(cacheRoot, "checkout-"+hex.EncodeToString(sum[:6]))
	if err := os.RemoveAll(dest); err != nil {
		return "", err
	}
	if err := os.MkdirAll(cacheRoot, 0o755); err != nil {
		return "", err
	}
	if out, err := exec.Command("git", "clone", "--quiet", path, dest).CombinedOutput(); err != nil {
		return "", fmt.Errorf("buildpack %s: git clone: %v: %s", url, err, strings.TrimSpace(string(out)))
	}
	if ref != "" {
		if out, err := exec.Command("git", "-C", dest, "checkout", "--quiet", ref).CombinedOutput(); err != nil {
			return "", fmt.Errorf("buildpack %s: git checkout %s: %v: %s", url, ref, err, strings.TrimSpace(string(out)))
		}
	}
	if !isFile(filepath.Join(dest, "bin", "compile")) {
		return "", fmt.Errorf("buildpack %s has no bin/compile", url)
	}
	return dest, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}
