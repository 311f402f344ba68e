package build

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// What the JVM builds (Maven here; Gradle, sbt and Leiningen beside it)
// share with Heroku's JVM buildpacks: the system.properties pin, the
// JAVA_OPTS default, the project's own wrapper before the installed tool,
// and a dependency cache kept between builds. They always run: they
// compile the app, so there is no "unchanged, skipping".

// DefaultJavaOpts is JAVA_OPTS unless the app sets it, as Heroku's JVM
// buildpacks' .profile.d/jvmcommon.sh sets it for a standard dyno.
const DefaultJavaOpts = "-Xmx300m -Xss512k -XX:CICompilerCount=2 -Dfile.encoding=UTF-8"

// jvmMarker, in the state directory, says the last build was a JVM one:
// RuntimeEnv then adds the JAVA_OPTS default to the app's processes.
const jvmMarker = "jvm"

// JVMEnv sets JAVA_OPTS to DefaultJavaOpts unless env has it.
func JVMEnv(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "JAVA_OPTS=") {
			return env
		}
	}
	return setenv(env, "JAVA_OPTS", DefaultJavaOpts)
}

// jvmRuntimeEnv is JVMEnv when the last build in stateDir was a JVM one.
func jvmRuntimeEnv(env []string, stateDir string) []string {
	if _, err := os.Stat(filepath.Join(stateDir, jvmMarker)); err != nil {
		return env
	}
	return JVMEnv(env)
}

// jvmProfile is what a slug build writes to .profile.d/jvmcommon.sh, as
// Heroku's JVM buildpacks do: sourced at dyno start.
const jvmProfile = `export JAVA_OPTS=${JAVA_OPTS:-"` + DefaultJavaOpts + `"}` + "\n"

// jvmPrepare runs before a JVM build: the pin check, and where the app's
// processes get their JAVA_OPTS default from (the state directory's
// marker, or the slug's .profile.d).
func (b *builder) jvmPrepare(ctx context.Context) error {
	b.env = JVMEnv(b.env)
	b.checkJavaPin(ctx)
	if b.slug {
		d := filepath.Join(b.appDir, ".profile.d")
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(d, "jvmcommon.sh"), []byte(jvmProfile), 0o644)
	}
	if err := os.MkdirAll(b.stateDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.stateDir, jvmMarker), nil, 0o600)
}

// cacheDir is a directory kept between builds (Heroku's CACHE_DIR), made.
func (b *builder) cacheDir(elem ...string) (string, error) {
	d := filepath.Join(append([]string{b.stateDir, "cache"}, elem...)...)
	return d, os.MkdirAll(d, 0o700)
}

// wrapper is the argv prefix that runs the project's own wrapper script
// (mvnw, gradlew, sbt, lein) when it has one, with sh when it lost its
// executable bit (a zip download), or else tool from the PATH.
func (b *builder) wrapper(script, tool string) (label string, argv []string) {
	p := filepath.Join(b.appDir, script)
	fi, err := os.Stat(p)
	switch {
	case err != nil || fi.IsDir():
		return tool, []string{tool}
	case fi.Mode()&0o111 == 0:
		return "sh " + script, []string{"/bin/sh", p}
	}
	return "./" + script, []string{p}
}

// fetchStep runs a build tool that downloads (Maven, Gradle, sbt,
// Leiningen, Composer); when it fails on a download, the log and
// the error say the build needs the network.
func (b *builder) fetchStep(ctx context.Context, s step, needs string) error {
	err := b.exec(ctx, s)
	if err == nil || ctx.Err() != nil {
		return err
	}
	// The tail of this build's output: the tool's last lines say why.
	if networkFailure.MatchString(b.out.String()) {
		msg := "this build needs the network: " + needs + ", and it could not be reached"
		b.out.line(" !     " + msg)
		return fmt.Errorf("%w (%s)", err, msg)
	}
	return err
}

// networkFailure matches what Maven, Gradle, sbt (Coursier/Ivy),
// Leiningen and Composer print when a download fails or they are offline.
var networkFailure = regexp.MustCompile(`(?i)could not (resolve|transfer|download|get|find artifact)|offline mode|in offline|cannot access \S+ in offline|unknownhostexception|unknown host|name or service not known|temporary failure in name resolution|network is unreachable|connection refused|server certificate verification failed|failed to download|error downloading|unresolved dependenc|could not fetch`)

// mavenGoals and mavenOpts are Heroku's defaults for MAVEN_CUSTOM_GOALS
// and MAVEN_CUSTOM_OPTS, config vars that replace them.
const (
	mavenGoals = "clean dependency:list install"
	mavenOpts  = "-DskipTests"
)

// mavenBuild runs ./mvnw, or Maven from the PATH, as Heroku's Java
// buildpack does: batch mode, the local repository in the build cache,
// then MAVEN_CUSTOM_OPTS (default -DskipTests) and MAVEN_CUSTOM_GOALS
// (default clean dependency:list install). A Spring Boot project gets
// Heroku's default web process.
func (b *builder) mavenBuild(ctx context.Context) error {
	if err := b.jvmPrepare(ctx); err != nil {
		return err
	}
	repo, err := b.cacheDir("m2", "repository")
	if err != nil {
		return err
	}
	label, argv := b.wrapper("mvnw", "mvn")
	args := []string{"-B", "-Dmaven.repo.local=" + repo}
	args = append(args, strings.Fields(envOr(b.env, "MAVEN_CUSTOM_OPTS", mavenOpts))...)
	args = append(args, strings.Fields(envOr(b.env, "MAVEN_CUSTOM_GOALS", mavenGoals))...)
	s := b.step(label+" "+strings.Join(args, " "), append(argv, args...)...)
	if err := b.fetchStep(ctx, s, "Maven downloads the project's plugins and dependencies from its repositories (Maven Central)"); err != nil {
		return err
	}
	if b.fileContains("pom.xml", "org.springframework.boot") {
		b.defaults = map[string]string{"web": "java -Dserver.port=$PORT $JAVA_OPTS -jar target/*.jar"}
	}
	return nil
}

// envOr is env's value of key, or def when it is unset or empty.
func envOr(env []string, key, def string) string {
	if v := getenv(env, key); v != "" {
		return v
	}
	return def
}

// fileContains reports whether the app's file rel contains s.
func (b *builder) fileContains(rel, s string) bool {
	data, err := os.ReadFile(filepath.Join(b.appDir, rel))
	return err == nil && strings.Contains(string(data), s)
}

// checkJavaPin compares system.properties' java.runtime.version with the
// java on the build's PATH and says in the log what the app asks for and
// what builds it. dynobox installs no JDK: a mismatch is a warning, not a
// failure, but never silent.
func (b *builder) checkJavaPin(ctx context.Context) {
	want := javaPin(filepath.Join(b.appDir, "system.properties"))
	if want == "" {
		return
	}
	have, err := javaVersion(ctx, b.env)
	switch {
	case err != nil:
		b.out.line(fmt.Sprintf(" !     system.properties asks for Java %s; no java to build with: %v", want, err))
	case javaMatches(want, have):
		b.out.line(fmt.Sprintf("-----> system.properties asks for Java %s; building with Java %s", want, have))
	default:
		b.out.line(fmt.Sprintf(" !     system.properties asks for Java %s, but this machine builds with Java %s (java -version): install it, or change java.runtime.version", want, have))
	}
}

// javaPin reads java.runtime.version from a system.properties file.
func javaPin(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == "java.runtime.version" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

var javaVersionRE = regexp.MustCompile(`version "([^"]+)"`)

// javaVersion is the version java -version prints, with env's PATH.
func javaVersion(ctx context.Context, env []string) (string, error) {
	java, err := lookPath("java", env)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, java, "-version")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("java -version: %w", err)
	}
	m := javaVersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("java -version printed no version: %q", firstLine(string(out)))
	}
	return string(m[1]), nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// javaMatches reports whether the installed version have satisfies the
// pin want: the same major release for a bare major ("17", "1.8"),
// else the same version or a longer one that starts with it. A vendor
// prefix ("zulu-17", "heroku-21") is dropped.
func javaMatches(want, have string) bool {
	if i := strings.LastIndexByte(want, '-'); i >= 0 {
		want = want[i+1:]
	}
	norm := func(v string) string { return strings.TrimPrefix(v, "1.") }
	w, h := norm(want), norm(have)
	return h == w || strings.HasPrefix(h, w+".") || strings.HasPrefix(h, w+"_")
}
