package runner

import (
	"os"
	"path/filepath"

	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/slug"
)

// ciTestCache is the state directory's cache of what test runs install
// (node_modules, with its install stamp), kept between runs: each run
// builds in a private copy of the work tree, which starts without them.
const ciTestCache = "test-cache"

// nodeStamp is where a build keeps the hash of its last Node.js install,
// under its state directory (runner/build's stamp.go).
var nodeStamp = filepath.Join("deps", string(build.Node))

// copyWorkTree copies the app's work tree at src into dest (which exists)
// for a test run, so that the build and the tests write there and the app
// directory stays as it was. It leaves out .git, the state directory skip
// and the top-level node_modules (restored from the test cache instead).
// Modes and symlinks are kept.
func copyWorkTree(src, dest, skip string) error {
	// dest is under the state directory, which may be inside src: both are
	// compared as the same directory, not by how their paths are spelt.
	var skips []os.FileInfo
	for _, d := range []string{skip, dest} {
		if fi, err := os.Stat(d); err == nil {
			skips = append(skips, fi)
		}
	}
	return slug.CopyTree(src, dest, func(rel, path string) bool {
		if rel == ".git" || rel == "node_modules" || rel == ".dynobox" {
			return true
		}
		if fi, err := os.Stat(path); err == nil {
			for _, s := range skips {
				if os.SameFile(fi, s) {
					return true
				}
			}
		}
		return false
	})
}

// restoreTestCache moves the cached node_modules into srcDir and its
// install stamp into the run's build state directory, so that an
// unchanged package.json skips the install. A run that finds the cache
// taken by a parallel run installs afresh.
func restoreTestCache(stateDir *StateDir, srcDir, buildState string) {
	cache := stateDir.File(ciTestCache)
	if os.Rename(filepath.Join(cache, "node_modules"), filepath.Join(srcDir, "node_modules")) != nil {
		return
	}
	if os.MkdirAll(filepath.Join(buildState, "deps"), 0o700) == nil {
		os.Rename(filepath.Join(cache, nodeStamp), filepath.Join(buildState, nodeStamp))
	}
}

// saveTestCache moves node_modules and its stamp back into the cache
// after a successful build, unless a parallel run put its own there first.
func saveTestCache(stateDir *StateDir, srcDir, buildState string) {
	cache := stateDir.File(ciTestCache)
	if os.MkdirAll(filepath.Join(cache, "deps"), 0o700) != nil {
		return
	}
	if _, err := os.Stat(filepath.Join(buildState, nodeStamp)); err != nil {
		return // no successful install: nothing worth keeping
	}
	if os.Rename(filepath.Join(srcDir, "node_modules"), filepath.Join(cache, "node_modules")) == nil {
		os.Rename(filepath.Join(buildState, nodeStamp), filepath.Join(cache, nodeStamp))
	}
}
