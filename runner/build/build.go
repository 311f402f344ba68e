// Package build builds an app the way its Heroku buildpack would: Go
// binaries into bin/, npm/pip/Bundler installs when their manifests change,
// the package.json build script, or a configured command.
//
// What a build keeps, per kind, so a rollback can return to it:
//   - Go: the binaries, copied into StateDir/builds/ID/bin; Restore puts
//     them back in bin/. The last Options.Keep builds are kept.
//   - Node.js, Python, Ruby: nothing per build. Their builds install
//     dependencies (node_modules, the virtualenv, gems) that follow the
//     manifest in the work tree, and a rollback does not touch the work tree
//     (source snapshots are out of scope), so copies of node_modules would
//     cost hundreds of MB to restore a state the code no longer matches.
//   - Java, Gradle, Scala, Clojure, PHP: nothing either; their outputs
//     (target/, build/libs, vendor/) are in the work tree, as above.
//   - A configured command: its outputs are unknown, so nothing.
//
// A slug build (Options.Slug) installs into the app directory instead:
// the virtualenv at .heroku/python (made relocatable, as a dyno runs a
// copy of it elsewhere), gems at vendor/bundle; SlugEnv is what its
// processes need.
//
// Its contract: Run blocks until the build ends and never prints: every
// output line goes to Options.Log, the last 64 KiB into Result.Output. A
// failed build is an error naming the failed step and its exit status;
// cancelling ctx kills every process of the build. bin/ changes only on
// success.
package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Kind is the buildpack a Plan follows.
type Kind string

const (
	None    Kind = "none"
	Go      Kind = "go"
	Node    Kind = "nodejs"
	Python  Kind = "python"
	Ruby    Kind = "ruby"
	Command Kind = "command"
	// The seed's JVM languages and PHP (java.go, gradle.go, scala.go,
	// clojure.go, php.go).
	Java    Kind = "java" // Maven
	Gradle  Kind = "gradle"
	Scala   Kind = "scala" // sbt
	Clojure Kind = "clojure"
	PHP     Kind = "php"
)

// Plan says how to build an app. Detect makes one; so can a caller, for a
// configured command (Plan{Kind: Command, Command: "make"}) or no build.
type Plan struct {
	Kind Kind
	// Command is run with /bin/sh -c in the app directory (Kind Command).
	Command string
	// GoInstall overrides the Go packages to build (patterns such as
	// "./cmd/..."). Empty: GO_INSTALL_PACKAGE_SPEC from the app's env, else
	// go.mod's "// +heroku install" line, else every main package.
	GoInstall []string
	// Buildpacks are the app's buildpack URLs, run in order (Kind Buildpacks).
	Buildpacks []string
}

func (p Plan) String() string {
	switch p.Kind {
	case Go:
		return "Go"
	case Node:
		return "Node.js"
	case Python:
		return "Python"
	case Ruby:
		return "Ruby"
	case Java:
		return "Java (Maven)"
	case Gradle:
		return "Gradle"
	case Scala:
		return "Scala (sbt)"
	case Clojure:
		return "Clojure (Leiningen)"
	case PHP:
		return "PHP"
	case Command:
		return "command " + p.Command
	case Buildpacks:
		return "buildpacks " + strings.Join(p.Buildpacks, ", ")
	}
	return "no build"
}

// Options configure one Run.
type Options struct {
	AppDir   string
	StateDir string   // default AppDir/.dynobox
	Env      []string // the app's environment (config vars); nil: dynobox's own
	// ConfigVars are the app's config (env files, config vars, add-on
	// vars): what a buildpack's ENV_DIR holds. nil: every variable of Env.
	ConfigVars map[string]string
	// Log receives every output line, one call per line, as it comes.
	Log func(line string)
	// Keep is how many successful builds keep their artifacts; default 5.
	Keep int
	// Slug says AppDir is a clean checkout that becomes a slug (git push):
	// dependencies go inside it, where Heroku's buildpacks put them
	// (.heroku/python, vendor/bundle), so the slug runs with nothing from
	// StateDir, and no install is skipped as unchanged.
	Slug bool
}

// Result describes a finished build.
type Result struct {
	ID       string // b1, b2, …: numbered per state directory
	Kind     Kind
	Started  time.Time
	Duration time.Duration
	Status   string // Succeeded or Failed
	Output   string // the last 64 KiB of output, from a line start
	// Binaries are the Go binaries installed into bin/ and kept for Restore.
	Binaries []string
	// DefaultProcessTypes are the buildpack's process types (Heroku's
	// bin/release default_process_types), used where the Procfile lacks
	// one: e.g. web for a Spring Boot jar.
	DefaultProcessTypes map[string]string
}

// Statuses, as Heroku's builds API names them.
const (
	Succeeded = "succeeded"
	Failed    = "failed"
)

// DefaultKeep is how many builds keep their artifacts.
const DefaultKeep = 5

// builder holds one run's state.
type builder struct {
	plan     Plan
	appDir   string
	stateDir string
	env      []string
	config   map[string]string // ENV_DIR's variables; nil: env's
	out      *output
	id       string
	keepN    int      // builds whose artifacts are kept
	slug     bool     // Options.Slug
	stage    string   // Go: where binaries are built before they are kept
	binaries []string // Go: what was built

	defaults map[string]string // Result.DefaultProcessTypes (bin/release)
}

// Run builds the app following plan. Builds of one app must not overlap.
// It returns an error, naming the failed step and its exit status, when
// the build fails or ctx is cancelled (which kills every process of the
// build); Result is filled in either way. bin/ changes only on success.
func Run(ctx context.Context, plan Plan, opts Options) (Result, error) {
	res := Result{Kind: plan.Kind, Started: time.Now(), Status: Failed}
	b, err := newBuilder(plan, opts)
	if err != nil {
		res.Duration = time.Since(res.Started)
		return res, fmt.Errorf("build: %w", err)
	}
	res.ID = b.id
	b.out.line("-----> Build " + b.id + ": " + plan.String())
	err = b.run(ctx)
	if err == nil && plan.Kind != Buildpacks {
		// a built-in's release: its runtime env and default process types
		// (a Spring Boot jar's web), kept where a buildpack's would be
		rel := builtinRelease(plan.Kind, b.appDir)
		rel.merge(Release{ProcessTypes: b.defaults})
		if b.slug {
			err = saveRelease(b.appDir, "", rel)
		} else {
			err = saveRelease("", b.stateDir, rel)
		}
	}
	res.Duration = time.Since(res.Started)
	if err != nil {
		b.discard()
		b.out.line(fmt.Sprintf(" !     Build %s failed after %v: %v", b.id, res.Duration.Round(time.Millisecond), err))
		res.Output = b.out.String()
		return res, fmt.Errorf("build %s: %w", b.id, err)
	}
	res.Status = Succeeded
	res.Binaries = b.binaries
	res.DefaultProcessTypes = b.defaults
	b.out.line(fmt.Sprintf("-----> Build %s succeeded in %v", b.id, res.Duration.Round(time.Millisecond)))
	res.Output = b.out.String()
	return res, nil
}

func newBuilder(plan Plan, opts Options) (*builder, error) {
	appDir, err := filepath.Abs(opts.AppDir)
	if err != nil {
		return nil, err
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		stateDir = filepath.Join(appDir, ".dynobox")
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return nil, err
	}
	env := opts.Env
	if env == nil {
		env = os.Environ()
	}
	keep := opts.Keep
	if keep <= 0 {
		keep = DefaultKeep
	}
	id, err := nextID(stateDir)
	if err != nil {
		return nil, err
	}
	return &builder{
		keepN:    keep,
		slug:     opts.Slug,
		plan:     plan,
		appDir:   appDir,
		stateDir: stateDir,
		env:      env,
		config:   opts.ConfigVars,
		out:      &output{log: opts.Log},
		id:       id,
	}, nil
}

func (b *builder) run(ctx context.Context) error {
	b.notePins(ctx, b.plan.Kind)
	switch b.plan.Kind {
	case Go:
		return b.goBuild(ctx)
	case Node:
		return b.nodeBuild(ctx)
	case Python:
		return b.pythonBuild(ctx)
	case Ruby:
		return b.rubyBuild(ctx)
	case Java:
		return b.mavenBuild(ctx)
	case Gradle:
		return b.gradleBuild(ctx)
	case Scala:
		return b.sbtBuild(ctx)
	case Clojure:
		return b.leinBuild(ctx)
	case PHP:
		return b.phpBuild(ctx)
	case Buildpacks:
		return b.buildpacksBuild(ctx)
	case Command:
		return b.exec(ctx, b.step("sh -c "+quote(b.plan.Command), "/bin/sh", "-c", b.plan.Command))
	case None, "":
		return nil
	}
	return fmt.Errorf("unknown build kind %q", b.plan.Kind)
}

// step is a command run in the app directory with the app's env, announced
// in the log as Heroku's buildpacks do.
func (b *builder) step(name string, argv ...string) step {
	b.out.line("-----> Running: " + name)
	return step{name: name, dir: b.appDir, env: b.env, argv: argv}
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
