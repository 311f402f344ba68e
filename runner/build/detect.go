package build

import (
	"os"
	"path/filepath"
)

// detectOrder is Heroku's default buildpack order for the languages we
// build: the first whose files are present wins, so a Go app with a
// package.json for its assets builds as Node.js, as it would on Heroku.
// Configure a command (Plan{Kind: Command}) for anything else.
var detectOrder = []struct {
	kind  Kind
	files []string
}{
	{Ruby, []string{"Gemfile"}},
	{Node, []string{"package.json"}},
	{Python, []string{"requirements.txt", "pyproject.toml", "setup.py", "Pipfile", "uv.lock", "poetry.lock", "manage.py"}},
	{Go, []string{"go.mod"}},
}

// Detect picks the buildpack for appDir from the files at its root, as
// Heroku's bin/detect scripts do; no match is Plan{Kind: None}. It only
// stats files: call it before each build, so a new package.json counts.
func Detect(appDir string) (Plan, error) {
	if _, err := os.Stat(appDir); err != nil {
		return Plan{}, err
	}
	if urls, _, err := BuildpackList(appDir); err != nil || len(urls) > 0 {
		return Plan{Kind: Buildpacks, Buildpacks: urls}, err
	}
	for _, d := range detectOrder {
		for _, f := range d.files {
			if fi, err := os.Stat(filepath.Join(appDir, f)); err == nil && !fi.IsDir() {
				return Plan{Kind: d.kind}, nil
			}
		}
	}
	return Plan{Kind: None}, nil
}
