package build

import (
	"os"
	"path/filepath"
	"strings"
)

// detectOrder is Heroku's default buildpack order: the first whose files
// are present wins, so a Go app with a package.json for its assets builds
// as Node.js, and a Maven project with a build.gradle as Maven, as they
// would on Heroku. Each list is the files its Heroku buildpack's bin/detect
// looks for (a name with * is a pattern). Configure a command
// (Plan{Kind: Command}) for anything else.
var detectOrder = []struct {
	kind  Kind
	files []string
}{
	{Ruby, []string{"Gemfile"}},
	{Node, []string{"package.json"}},
	{Clojure, []string{"project.clj"}},
	{Python, []string{"requirements.txt", "pyproject.toml", "setup.py", "Pipfile", "uv.lock", "poetry.lock", "manage.py"}},
	{Java, []string{"pom.xml", "pom.atom", "pom.clj", "pom.groovy", "pom.rb", "pom.scala", "pom.yaml", "pom.yml"}},
	{Gradle, []string{"gradlew", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"}},
	{Scala, []string{"*.sbt", "project/*.scala", ".sbt/*.scala", "project/build.properties"}},
	{PHP, []string{"composer.json", "index.php"}},
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
			if hasFile(appDir, f) {
				return Plan{Kind: d.kind}, nil
			}
		}
	}
	return Plan{Kind: None}, nil
}

// NamesProcessTypes says whether a build of p may name the app's default
// process types, as Heroku's default_process_types: buildpacks' bin/release,
// or a built-in language whose Heroku buildpack has a default web.
func (p Plan) NamesProcessTypes() bool {
	switch p.Kind {
	case Buildpacks, Java, Gradle, Scala, Clojure, PHP:
		return true
	}
	return false
}

// hasFile reports whether a regular file named (or matching) f exists
// under dir.
func hasFile(dir, f string) bool {
	names := []string{filepath.Join(dir, f)}
	if strings.Contains(f, "*") {
		names, _ = filepath.Glob(filepath.Join(dir, f))
	}
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil && !fi.IsDir() {
			return true
		}
	}
	return false
}
