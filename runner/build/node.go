package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// nodeLockfiles are what an install depends on, with package.json.
var nodeLockfiles = []string{"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"}

type packageJSON struct {
	Scripts         map[string]string `json:"scripts"`
	Dependencies    map[string]any    `json:"dependencies"`
	DevDependencies map[string]any    `json:"devDependencies"`
}

// nodeBuild installs dependencies when package.json or the lockfile
// changed since the last successful install (or node_modules is gone),
// then runs the heroku-postbuild script, or else the build script, as
// Heroku's Node.js buildpack does.
func (b *builder) nodeBuild(ctx context.Context) error {
	data, err := os.ReadFile(filepath.Join(b.appDir, "package.json"))
	if err != nil {
		return err
	}
	var pkg packageJSON
	if err := json.Unmarshal(data, &pkg); err != nil {
		return fmt.Errorf("package.json: %w", err)
	}
	tool, install := nodeInstaller(b.appDir)

	// The tool, not the install command, goes into the stamp: npm install
	// writes package-lock.json, which turns the next install into npm ci.
	stamp := b.stampOf([]string{tool}, nodeLockfiles...)
	_, nmErr := os.Stat(filepath.Join(b.appDir, "node_modules"))
	needModules := len(pkg.Dependencies)+len(pkg.DevDependencies) > 0 && nmErr != nil
	if b.stampMatches(Node, stamp) && !needModules {
		b.out.line("-----> Dependencies unchanged: skipping " + strings.Join(install, " "))
	} else {
		if err := b.exec(ctx, b.step(strings.Join(install, " "), install...)); err != nil {
			return err
		}
		if err := b.saveStamp(Node, b.stampOf([]string{tool}, nodeLockfiles...)); err != nil {
			return err
		}
	}

	for _, script := range []string{"heroku-postbuild", "build"} {
		if _, ok := pkg.Scripts[script]; ok {
			return b.exec(ctx, b.step(tool+" run "+script, tool, "run", script))
		}
	}
	return nil
}

// nodeInstaller picks the package manager from the lockfile, as Heroku
// does: npm ci with a package-lock, yarn or pnpm with theirs, else npm
// install. Audit and funding notices are off: they need the registry and
// say nothing about the build.
func nodeInstaller(appDir string) (tool string, argv []string) {
	has := func(f string) bool {
		_, err := os.Stat(filepath.Join(appDir, f))
		return err == nil
	}
	switch {
	case has("package-lock.json") || has("npm-shrinkwrap.json"):
		return "npm", []string{"npm", "ci", "--no-audit", "--no-fund"}
	case has("yarn.lock"):
		return "yarn", []string{"yarn", "install", "--frozen-lockfile"}
	case has("pnpm-lock.yaml"):
		return "pnpm", []string{"pnpm", "install", "--frozen-lockfile"}
	}
	return "npm", []string{"npm", "install", "--no-audit", "--no-fund"}
}
