package build

import (
	"context"
	"regexp"
	"strings"
)

// gradleStageTask matches a stage task in a Groovy or Kotlin build script.
var gradleStageTask = regexp.MustCompile(`\btask\s*\(?\s*["']?stage\b|tasks\.(register|create|named)\s*(<[^>]*>)?\s*\(\s*["']stage["']`)

// gradleBuild runs ./gradlew, or Gradle from the PATH, as Heroku's Gradle
// buildpack does: the stage task when the build defines one, else
// build -x test; GRADLE_TASK (a config var) replaces either. Gradle's
// home is in the build cache and its daemon is off (a daemon would outlive
// the build). A Spring Boot project gets Heroku's default web process.
func (b *builder) gradleBuild(ctx context.Context) error {
	if err := b.jvmPrepare(ctx); err != nil {
		return err
	}
	if getenv(b.env, "GRADLE_USER_HOME") == "" {
		home, err := b.cacheDir("gradle")
		if err != nil {
			return err
		}
		b.env = setenv(b.env, "GRADLE_USER_HOME", home)
	}
	b.env = setenv(b.env, "GRADLE_OPTS", strings.TrimSpace(getenv(b.env, "GRADLE_OPTS")+" -Dorg.gradle.daemon=false"))

	tasks := []string{"build", "-x", "test"}
	if b.gradleScriptMatches(gradleStageTask.MatchString) {
		tasks = []string{"stage"}
	}
	if t := getenv(b.env, "GRADLE_TASK"); t != "" {
		tasks = strings.Fields(t)
	}
	label, argv := b.wrapper("gradlew", "gradle")
	s := b.step(label+" "+strings.Join(tasks, " "), append(argv, tasks...)...)
	if err := b.fetchStep(ctx, s, "Gradle downloads its distribution, plugins and dependencies (services.gradle.org, Maven Central, the Gradle Plugin Portal)"); err != nil {
		return err
	}
	if b.gradleScriptMatches(func(s string) bool { return strings.Contains(s, "org.springframework.boot") }) {
		b.defaults = map[string]string{"web": "java -Dserver.port=$PORT $JAVA_OPTS -jar build/libs/*.jar"}
	}
	return nil
}

// gradleScriptMatches reports whether the root build script matches.
func (b *builder) gradleScriptMatches(match func(string) bool) bool {
	for _, f := range []string{"build.gradle", "build.gradle.kts"} {
		if data, err := readApp(b.appDir, f); err == nil && match(data) {
			return true
		}
	}
	return false
}
