package build

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Tests of the seed's other languages (java.go, gradle.go, scala.go,
// clojure.go, php.go) with stand-in tools: a script on PATH, or the
// project's own wrapper, that records its argv and the environment it got.
// java_test.go has the builds with the real Maven.

func TestDetectLanguages(t *testing.T) {
	for _, tt := range []struct {
		files []string
		want  Kind
	}{
		{[]string{"project.clj"}, Clojure},
		{[]string{"pom.xml"}, Java},
		{[]string{"pom.yml"}, Java},
		{[]string{"build.gradle"}, Gradle},
		{[]string{"build.gradle.kts"}, Gradle},
		{[]string{"gradlew"}, Gradle},
		{[]string{"build.sbt"}, Scala},
		{[]string{"app.sbt"}, Scala},
		{[]string{"project/build.properties"}, Scala},
		{[]string{"composer.json"}, PHP},
		{[]string{"index.php"}, PHP},
		// Heroku's order: Ruby, Node.js, Clojure, Python, Java, Gradle,
		// Scala, PHP, Go.
		{[]string{"package.json", "project.clj"}, Node},
		{[]string{"project.clj", "requirements.txt"}, Clojure},
		{[]string{"requirements.txt", "pom.xml"}, Python},
		{[]string{"pom.xml", "build.gradle"}, Java},
		{[]string{"build.gradle", "build.sbt"}, Gradle},
		{[]string{"build.sbt", "composer.json"}, Scala},
		{[]string{"composer.json", "go.mod"}, PHP},
		{[]string{"index.php", "go.mod"}, PHP},
	} {
		app := t.TempDir()
		for _, f := range tt.files {
			writeFiles(t, app, map[string]string{f: ""})
		}
		if p, err := Detect(app); err != nil || p.Kind != tt.want {
			t.Errorf("Detect(%v) = %v, %v; want %s", tt.files, p.Kind, err, tt.want)
		}
	}
	// A directory named like a build file is not one.
	app := t.TempDir()
	if err := os.Mkdir(filepath.Join(app, "pom.xml"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, _ := Detect(app); p.Kind != None {
		t.Errorf("a pom.xml directory detected as %s", p.Kind)
	}
}

// recorder is a stand-in tool: each run appends "argv: a b c" and the
// variables in vars to its record file, prints out, and exits with code.
type recorder struct {
	t      *testing.T
	record string
	bin    string // the PATH directory of the last tool
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, record: filepath.Join(t.TempDir(), "record")}
}

// write puts the stand-in at path.
func (r *recorder) write(path, out string, code int) {
	r.t.Helper()
	script := "#!/bin/sh\n" +
		`echo "argv0: ${0##*/}" >> ` + r.record + "\n" +
		`echo "argv: $*" >> ` + r.record + "\n" +
		`echo "JAVA_OPTS: $JAVA_OPTS" >> ` + r.record + "\n" +
		`echo "GRADLE_USER_HOME: $GRADLE_USER_HOME" >> ` + r.record + "\n" +
		`echo "GRADLE_OPTS: $GRADLE_OPTS" >> ` + r.record + "\n" +
		"printf '%s\\n' '" + strings.ReplaceAll(out, "'", `'\''`) + "'\n" +
		"exit " + string(rune('0'+code)) + "\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// tool puts the stand-in on a new PATH directory and returns the env to
// build with.
func (r *recorder) tool(name, out string, code int, env ...string) []string {
	r.bin = r.t.TempDir()
	r.write(filepath.Join(r.bin, name), out, code)
	return append([]string{"PATH=" + r.bin + ":/usr/bin:/bin"}, env...)
}

// value is what the last run recorded for key ("argv", "JAVA_OPTS", …).
func (r *recorder) value(key string) string {
	r.t.Helper()
	data, err := os.ReadFile(r.record)
	if err != nil {
		r.t.Fatalf("the tool did not run: %v", err)
	}
	v := "(unset)"
	for _, l := range strings.Split(string(data), "\n") {
		if s, ok := strings.CutPrefix(l, key+": "); ok {
			v = s
		} else if l == key+":" {
			v = ""
		}
	}
	return v
}

func (r *recorder) ran() bool {
	_, err := os.Stat(r.record)
	return err == nil
}

func TestMavenCommand(t *testing.T) {
	app, state := t.TempDir(), t.TempDir()
	writeFiles(t, app, map[string]string{"pom.xml": "<project/>"})
	r := newRecorder(t)
	res, logs := mustBuild(t, app, Plan{Kind: Java}, Options{StateDir: state, Env: r.tool("mvn", "[INFO] BUILD SUCCESS", 0)})
	repo := filepath.Join(state, "cache", "m2", "repository")
	if got, want := r.value("argv"), "-B -Dmaven.repo.local="+repo+" -DskipTests clean dependency:list install"; got != want {
		t.Errorf("mvn argv:\n got %s\nwant %s", got, want)
	}
	if got := r.value("JAVA_OPTS"); got != DefaultJavaOpts {
		t.Errorf("JAVA_OPTS = %q", got)
	}
	if !strings.Contains(logs.text(), "-----> Running: mvn -B") || !strings.Contains(logs.text(), "Build b1: Java (Maven)") {
		t.Errorf("log:\n%s", logs.text())
	}
	if res.DefaultProcessTypes != nil {
		t.Errorf("a plain Maven project has no default process: %v", res.DefaultProcessTypes)
	}
	// The processes get the JAVA_OPTS default; the app's own wins.
	if got := getenv(RuntimeEnv([]string{"PATH=/bin"}, state), "JAVA_OPTS"); got != DefaultJavaOpts {
		t.Errorf("RuntimeEnv JAVA_OPTS = %q", got)
	}
	if got := getenv(RuntimeEnv([]string{"JAVA_OPTS=-Xmx1g"}, state), "JAVA_OPTS"); got != "-Xmx1g" {
		t.Errorf("RuntimeEnv replaced the app's JAVA_OPTS: %q", got)
	}

	// The project's wrapper wins over mvn; a Spring Boot project gets
	// Heroku's web process; MAVEN_CUSTOM_* replace the options and goals.
	r2 := newRecorder(t)
	r2.write(filepath.Join(app, "mvnw"), "", 0)
	writeFiles(t, app, map[string]string{"pom.xml": "<project><parent><groupId>org.springframework.boot</groupId></parent></project>"})
	env := r.tool("mvn", "", 0, "MAVEN_CUSTOM_OPTS=-DskipTests -o", "MAVEN_CUSTOM_GOALS=package", "JAVA_OPTS=-Xmx1g")
	res, logs = mustBuild(t, app, Plan{Kind: Java}, Options{StateDir: state, Env: env})
	if got := r2.value("argv0"); got != "mvnw" {
		t.Errorf("ran %s, not ./mvnw", got)
	}
	if got, want := r2.value("argv"), "-B -Dmaven.repo.local="+repo+" -DskipTests -o package"; got != want {
		t.Errorf("mvnw argv:\n got %s\nwant %s", got, want)
	}
	if got := r2.value("JAVA_OPTS"); got != "-Xmx1g" {
		t.Errorf("the app's JAVA_OPTS became %q", got)
	}
	want := map[string]string{"web": "java -Dserver.port=$PORT $JAVA_OPTS -jar target/*.jar"}
	if !reflect.DeepEqual(res.DefaultProcessTypes, want) {
		t.Errorf("default process types %v", res.DefaultProcessTypes)
	}
	// ... and the release the runner reads (as a buildpack's bin/release)
	// carries it, so an app with no Procfile web runs the jar.
	if got := LoadRelease(state).ProcessTypes; !reflect.DeepEqual(got, want) {
		t.Errorf("saved release's process types %v, want %v", got, want)
	}
	if !strings.Contains(logs.text(), "Running: ./mvnw -B") {
		t.Errorf("log:\n%s", logs.text())
	}
}

func TestGradleCommand(t *testing.T) {
	// No stage task, no wrapper: gradle build -x test from the PATH.
	app, state := t.TempDir(), t.TempDir()
	writeFiles(t, app, map[string]string{"build.gradle": "plugins { id 'java' }\n"})
	r := newRecorder(t)
	res, _ := mustBuild(t, app, Plan{Kind: Gradle}, Options{StateDir: state, Env: r.tool("gradle", "", 0)})
	if got := r.value("argv0") + " " + r.value("argv"); got != "gradle build -x test" {
		t.Errorf("ran %q", got)
	}
	if got := r.value("GRADLE_USER_HOME"); got != filepath.Join(state, "cache", "gradle") {
		t.Errorf("GRADLE_USER_HOME = %q", got)
	}
	if got := r.value("GRADLE_OPTS"); got != "-Dorg.gradle.daemon=false" {
		t.Errorf("GRADLE_OPTS = %q", got)
	}
	if res.DefaultProcessTypes != nil {
		t.Errorf("default process types %v", res.DefaultProcessTypes)
	}

	// A stage task (Kotlin DSL) and gradlew: ./gradlew stage; Spring Boot.
	app = t.TempDir()
	writeFiles(t, app, map[string]string{"build.gradle.kts": "plugins { id(\"org.springframework.boot\") version \"3.2.0\" }\ntasks.register(\"stage\") { dependsOn(\"build\") }\n"})
	r = newRecorder(t)
	r.write(filepath.Join(app, "gradlew"), "", 0)
	res, logs := mustBuild(t, app, Plan{Kind: Gradle}, Options{StateDir: state, Env: []string{"PATH=/usr/bin:/bin"}})
	if got := r.value("argv0") + " " + r.value("argv"); got != "gradlew stage" {
		t.Errorf("ran %q", got)
	}
	if !strings.Contains(logs.text(), "Running: ./gradlew stage") {
		t.Errorf("log:\n%s", logs.text())
	}
	if got := res.DefaultProcessTypes["web"]; got != "java -Dserver.port=$PORT $JAVA_OPTS -jar build/libs/*.jar" {
		t.Errorf("web = %q", got)
	}

	// Groovy's task stage, GRADLE_TASK replacing it.
	for script, want := range map[string]string{
		"task stage(dependsOn: ['build', 'clean'])\n": "stage",
		"task stage {\n}\n":                           "stage",
		"tasks.register('stage') {}\n":                "stage",
		"task stager {}\n":                            "build -x test",
	} {
		app = t.TempDir()
		writeFiles(t, app, map[string]string{"build.gradle": script})
		r = newRecorder(t)
		mustBuild(t, app, Plan{Kind: Gradle}, Options{StateDir: state, Env: r.tool("gradle", "", 0)})
		if got := r.value("argv"); got != want {
			t.Errorf("build.gradle %q: gradle %s, want %s", script, got, want)
		}
	}
	r = newRecorder(t)
	mustBuild(t, app, Plan{Kind: Gradle}, Options{StateDir: state, Env: r.tool("gradle", "", 0, "GRADLE_TASK=clean installDist")})
	if got := r.value("argv"); got != "clean installDist" {
		t.Errorf("GRADLE_TASK: gradle %s", got)
	}
}

func TestSbtCommand(t *testing.T) {
	app, state := t.TempDir(), t.TempDir()
	writeFiles(t, app, map[string]string{"build.sbt": `name := "hello"` + "\n"})
	r := newRecorder(t)
	mustBuild(t, app, Plan{Kind: Scala}, Options{StateDir: state, Env: r.tool("sbt", "", 0)})
	if got := r.value("argv0") + " " + r.value("argv"); got != "sbt -Dsbt.log.noformat=true compile stage" {
		t.Errorf("ran %q", got)
	}
	// The project's sbt launcher, without its executable bit; the config
	// vars Heroku's Scala buildpack reads.
	r = newRecorder(t)
	r.write(filepath.Join(app, "sbt"), "", 0)
	if err := os.Chmod(filepath.Join(app, "sbt"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, logs := mustBuild(t, app, Plan{Kind: Scala}, Options{StateDir: state, Env: []string{"PATH=/usr/bin:/bin", "SBT_CLEAN=true", "SBT_PRE_TASKS=update"}})
	if got := r.value("argv"); got != "-Dsbt.log.noformat=true update clean compile stage" {
		t.Errorf("./sbt %s", got)
	}
	if !strings.Contains(logs.text(), "Running: sh sbt -Dsbt.log.noformat=true update clean compile stage") {
		t.Errorf("log:\n%s", logs.text())
	}
}

// TestSbtDefaultWeb: Heroku's Scala buildpack's default web process — the
// one start script stage made, or Play's target/start.
func TestSbtDefaultWeb(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files map[string]string // "+x" at the end of a name: executable
		env   []string
		want  string
	}{
		{"one start script", map[string]string{"target/universal/stage/bin/hello+x": "", "target/universal/stage/bin/hello.bat": ""}, nil,
			"target/universal/stage/bin/hello -Dhttp.port=$PORT"},
		{"two start scripts", map[string]string{"target/universal/stage/bin/web+x": "", "target/universal/stage/bin/worker+x": ""}, nil, ""},
		{"play by its conf", map[string]string{"conf/application.conf": ""}, nil, "target/start -Dhttp.port=$PORT $JAVA_OPTS"},
		{"play by its plugin", map[string]string{"project/plugins.sbt": `addSbtPlugin("org.playframework" % "sbt-plugin" % "3.0.5")` + "\n"}, nil,
			"target/start -Dhttp.port=$PORT $JAVA_OPTS"},
		{"IS_PLAY_APP=false", map[string]string{"conf/application.conf": ""}, []string{"IS_PLAY_APP=false"}, ""},
		{"IS_PLAY_APP=true", nil, []string{"IS_PLAY_APP=true"}, "target/start -Dhttp.port=$PORT $JAVA_OPTS"},
		{"plain sbt", map[string]string{"project/plugins.sbt": `addSbtPlugin("com.github.sbt" % "sbt-native-packager" % "1.10.4")` + "\n"}, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := t.TempDir()
			writeFiles(t, app, map[string]string{"build.sbt": `name := "hello"` + "\n"})
			for name, body := range tt.files {
				rel, exec := strings.CutSuffix(name, "+x")
				writeFiles(t, app, map[string]string{rel: body})
				if exec {
					if err := os.Chmod(filepath.Join(app, rel), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			r := newRecorder(t)
			res, _ := mustBuild(t, app, Plan{Kind: Scala}, Options{StateDir: t.TempDir(), Env: r.tool("sbt", "", 0, tt.env...)})
			if got := res.DefaultProcessTypes["web"]; got != tt.want {
				t.Errorf("web = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLeinCommand(t *testing.T) {
	app, state := t.TempDir(), t.TempDir()
	writeFiles(t, app, map[string]string{"project.clj": "(defproject hello \"0.1.0\")\n"})
	r := newRecorder(t)
	res, _ := mustBuild(t, app, Plan{Kind: Clojure}, Options{StateDir: state, Env: r.tool("lein", "", 0)})
	if got := r.value("argv0") + " " + r.value("argv"); got != "lein uberjar" {
		t.Errorf("ran %q", got)
	}
	if got := res.DefaultProcessTypes["web"]; got != "lein trampoline run" {
		t.Errorf("web = %q, want Heroku's lein trampoline run", got)
	}
	if got := r.value("JAVA_OPTS"); got != DefaultJavaOpts {
		t.Errorf("JAVA_OPTS = %q", got)
	}
	r = newRecorder(t)
	mustBuild(t, app, Plan{Kind: Clojure}, Options{StateDir: state, Env: r.tool("lein", "", 0, "LEIN_BUILD_TASK=with-profile production compile :all")})
	if got := r.value("argv"); got != "with-profile production compile :all" {
		t.Errorf("LEIN_BUILD_TASK: lein %s", got)
	}
}

func TestPHPCommand(t *testing.T) {
	app, state := t.TempDir(), t.TempDir()
	writeFiles(t, app, map[string]string{"composer.json": "{}", "index.php": "<?php echo 'hi';"})
	r := newRecorder(t)
	res, _ := mustBuild(t, app, Plan{Kind: PHP}, Options{StateDir: state, Env: r.tool("composer", "", 0)})
	if got := r.value("argv"); got != "install --no-dev --prefer-dist --optimize-autoloader --no-interaction" {
		t.Errorf("composer %s", got)
	}
	if got := res.DefaultProcessTypes["web"]; got != "php -S 0.0.0.0:$PORT" {
		t.Errorf("web = %q", got)
	}
	// An index.php alone installs nothing and still serves.
	app = t.TempDir()
	writeFiles(t, app, map[string]string{"index.php": "<?php echo 'hi';"})
	r = newRecorder(t)
	res, logs := mustBuild(t, app, Plan{Kind: PHP}, Options{StateDir: state, Env: r.tool("composer", "", 0)})
	if r.ran() || res.DefaultProcessTypes["web"] != PHPWeb || !strings.Contains(logs.text(), "No composer.json") {
		t.Errorf("index.php only: composer ran %v, defaults %v, log:\n%s", r.ran(), res.DefaultProcessTypes, logs.text())
	}
}

func TestBuildNeedingNetworkSaysSo(t *testing.T) {
	for _, tt := range []struct {
		kind        Kind
		file, tool  string
		out, needle string
	}{
		{Java, "pom.xml", "mvn", "[ERROR] Failed to execute goal on project x: Could not resolve dependencies for project x", "Maven downloads"},
		{Gradle, "build.gradle", "gradle", "Exception in thread \"main\" java.net.UnknownHostException: services.gradle.org", "Gradle downloads"},
		{Scala, "build.sbt", "sbt", "[error] Server access Error: Connection refused url=https://repo1.maven.org/", "sbt downloads"},
		{Clojure, "project.clj", "lein", "Could not transfer artifact org.clojure:clojure:pom:1.11.1 from/to central", "Leiningen downloads"},
		{PHP, "composer.json", "composer", "curl error 6 while downloading https://repo.packagist.org/packages.json: Could not resolve host: repo.packagist.org", "Composer downloads"},
	} {
		app := t.TempDir()
		writeFiles(t, app, map[string]string{tt.file: "{}"})
		r := newRecorder(t)
		_, err, logs := build(t, app, Plan{Kind: tt.kind}, Options{StateDir: t.TempDir(), Env: r.tool(tt.tool, tt.out, 1)})
		if err == nil || !strings.Contains(err.Error(), "exit status 1 (this build needs the network: "+tt.needle) {
			t.Errorf("%s: err = %v", tt.kind, err)
		}
		if !strings.Contains(logs.text(), " !     this build needs the network: "+tt.needle) {
			t.Errorf("%s: log:\n%s", tt.kind, logs.text())
		}
	}
	// A failure that is not a download says nothing about the network.
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"pom.xml": "<project/>"})
	r := newRecorder(t)
	_, err, logs := build(t, app, Plan{Kind: Java}, Options{StateDir: t.TempDir(), Env: r.tool("mvn", "[ERROR] COMPILATION ERROR: Main.java:[3,1] ';' expected", 1)})
	if err == nil || strings.Contains(err.Error()+logs.text(), "network") {
		t.Errorf("err = %v, log:\n%s", err, logs.text())
	}
}

func TestJavaPin(t *testing.T) {
	for _, tt := range []struct {
		pin, java, want string
	}{
		{"21", `openjdk version "17.0.15" 2025-04-15`, " !     system.properties asks for Java 21, but this machine builds with Java 17.0.15 (java -version): install it, or change java.runtime.version"},
		{"17", `openjdk version "17.0.15" 2025-04-15`, "-----> system.properties asks for Java 17; building with Java 17.0.15"},
		{"1.8", `openjdk version "1.8.0_392"`, "-----> system.properties asks for Java 1.8; building with Java 1.8.0_392"},
		{"zulu-17", `openjdk version "17.0.2" 2022-01-18`, "-----> system.properties asks for Java zulu-17; building with Java 17.0.2"},
		{"17.0.9", `openjdk version "17.0.15" 2025-04-15`, " !     system.properties asks for Java 17.0.9, but this machine builds with Java 17.0.15"},
	} {
		app := t.TempDir()
		writeFiles(t, app, map[string]string{"pom.xml": "<project/>", "system.properties": "# pinned\njava.runtime.version = " + tt.pin + "\n"})
		r := newRecorder(t)
		env := r.tool("mvn", "", 0)
		// java -version prints to stderr.
		writeFiles(t, r.bin, map[string]string{"java": "#!/bin/sh\necho '" + tt.java + "' >&2\n"})
		if err := os.Chmod(filepath.Join(r.bin, "java"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, logs := mustBuild(t, app, Plan{Kind: Java}, Options{StateDir: t.TempDir(), Env: env})
		if !strings.Contains(logs.text(), tt.want) {
			t.Errorf("pin %s, %s: log lacks %q:\n%s", tt.pin, tt.java, tt.want, logs.text())
		}
	}
	// No java at all is named too; no system.properties says nothing.
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"pom.xml": "<project/>", "system.properties": "java.runtime.version=17\n"})
	r := newRecorder(t)
	r.tool("mvn", "", 0)
	_, logs := mustBuild(t, app, Plan{Kind: Java}, Options{StateDir: t.TempDir(), Env: []string{"PATH=" + r.bin}})
	if !strings.Contains(logs.text(), ` !     system.properties asks for Java 17; no java to build with: exec: "java": executable file not found in $PATH`) {
		t.Errorf("log:\n%s", logs.text())
	}
	os.Remove(filepath.Join(app, "system.properties"))
	_, logs = mustBuild(t, app, Plan{Kind: Java}, Options{StateDir: t.TempDir(), Env: r.tool("mvn", "", 0)})
	if strings.Contains(logs.text(), "system.properties") {
		t.Errorf("log:\n%s", logs.text())
	}
}

func TestJVMSlugProfile(t *testing.T) {
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"project.clj": ""})
	r := newRecorder(t)
	mustBuild(t, app, Plan{Kind: Clojure}, Options{StateDir: t.TempDir(), Slug: true, Env: r.tool("lein", "", 0)})
	data, err := os.ReadFile(filepath.Join(app, ".profile.d", "jvmcommon.sh"))
	if err != nil || string(data) != `export JAVA_OPTS=${JAVA_OPTS:-"`+DefaultJavaOpts+`"}`+"\n" {
		t.Errorf(".profile.d/jvmcommon.sh: %q, %v", data, err)
	}
}
