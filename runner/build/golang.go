package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// goBuild builds the app's main packages as Heroku's Go buildpack does
// (go install -tags heroku): one binary per main package, named by go
// install's rule. They are built into the build's artifact directory first
// and copied into bin/ only when all of them built, so a failed build
// leaves the running version's binaries alone.
func (b *builder) goBuild(ctx context.Context) error {
	spec, from := b.goSpec()
	b.out.line(fmt.Sprintf("-----> Packages: %s (%s)", strings.Join(spec, " "), from))

	stage, err := b.newStage()
	if err != nil {
		return err
	}
	// go list names the binaries and catches two main packages that would
	// share a name (go build -o DIR/ silently keeps one). It runs alongside
	// the build, which takes the same patterns, to keep it off the
	// save-to-serving path.
	var listed bytes.Buffer
	list := b.step("go list -tags heroku "+strings.Join(spec, " "), append([]string{"go", "list", "-tags", "heroku",
		"-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`}, spec...)...)
	list.name, list.stdout = "go list", &listed
	listed.Grow(1024)
	var listErr error
	listDone := make(chan struct{})
	go func() {
		defer close(listDone)
		listErr = b.exec(ctx, list)
	}()
	argv := append([]string{"go", "build", "-tags", "heroku", "-o", stage + "/"}, spec...)
	s := b.step("go build -tags heroku -o bin/ "+strings.Join(spec, " "), argv...)
	s.name = "go build"
	buildErr := b.exec(ctx, s)
	<-listDone
	if listErr != nil {
		return listErr
	}
	byName := map[string]string{}
	sc := bufio.NewScanner(&listed)
	for sc.Scan() {
		pkg := strings.TrimSpace(sc.Text())
		if pkg == "" {
			continue
		}
		name := execName(pkg)
		if other, dup := byName[name]; dup {
			return fmt.Errorf("main packages %s and %s would both be bin/%s; name one in go.mod's // +heroku install line", other, pkg, name)
		}
		byName[name] = pkg
		b.binaries = append(b.binaries, name)
	}
	if len(b.binaries) == 0 {
		return fmt.Errorf("no main package in %s; list the ones to build in go.mod: // +heroku install ./cmd/...", strings.Join(spec, " "))
	}
	if buildErr != nil {
		return buildErr
	}
	if err := b.keep(); err != nil {
		return err
	}
	for _, name := range b.binaries {
		b.out.line("       bin/" + name)
	}
	return nil
}

// goSpec is what to build and where that came from: the plan, then
// GO_INSTALL_PACKAGE_SPEC, then go.mod's "// +heroku install" line, then
// every main package of the module.
func (b *builder) goSpec() ([]string, string) {
	if len(b.plan.GoInstall) > 0 {
		return b.plan.GoInstall, "configured"
	}
	if v := strings.Fields(getenv(b.env, "GO_INSTALL_PACKAGE_SPEC")); len(v) > 0 {
		return v, "GO_INSTALL_PACKAGE_SPEC"
	}
	if v := herokuInstall(filepath.Join(b.appDir, "go.mod")); len(v) > 0 {
		return v, "go.mod // +heroku install"
	}
	return []string{"./..."}, "every main package"
}

// herokuInstall reads the package patterns of go.mod's "// +heroku install"
// comment line, if any.
func herokuInstall(gomod string) []string {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "//" && f[1] == "+heroku" && f[2] == "install" {
			return f[3:]
		}
	}
	return nil
}

// execName is the binary name go install gives package pkg: the import
// path's last element, or the one before a major version suffix
// (example.com/cmd/v2 → cmd). A root package thus gets the module path's
// last element, any other its directory's name.
func execName(pkg string) string {
	dir, elem := path.Split(pkg)
	if dir != "" && isMajorVersion(elem) {
		elem = path.Base(dir)
	}
	return elem
}

func isMajorVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] == '0' || s == "v1" {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
