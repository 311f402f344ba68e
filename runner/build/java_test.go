package build

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// debianMavenRepo is Debian's Maven repository: the plugins a build needs
// come from Debian packages (libmaven-*-plugin-java, .ci/run installs
// them), as this machine reaches no Maven repository.
const debianMavenRepo = "/usr/share/maven-repo"

// helloPOM is a Maven project with no dependencies that Debian's maven builds
// offline (testdata/debian-pom.xml).
func helloPOM(t *testing.T) string {
	t.Helper()
	pom, err := os.ReadFile("testdata/debian-pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(pom), "ARTIFACT", "hello")
}

const helloJava = `package hello;
public class Main { public static void main(String[] a) { System.out.println("hello from maven"); } }
`

// seedMavenRepo fills the build cache's local repository with links to
// Debian's, as a first online build would have filled it: files are
// links, directories are new, so what the build installs stays in repo.
func seedMavenRepo(t *testing.T, repo string) {
	t.Helper()
	err := filepath.WalkDir(debianMavenRepo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(debianMavenRepo, p)
		dst := filepath.Join(repo, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		return os.Symlink(p, dst)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMavenOfflineBuild builds a real Maven project with Debian's maven,
// offline (MAVEN_CUSTOM_OPTS=-DskipTests -o, a config var Heroku's Java
// buildpack reads), and runs the jar it made.
func TestMavenOfflineBuild(t *testing.T) {
	slow(t, "a Maven build")
	need(t, "mvn")
	need(t, "java")
	if _, err := os.Stat(filepath.Join(debianMavenRepo, "org/apache/maven/plugins/maven-jar-plugin/3.3.0")); err != nil {
		t.Fatalf("Debian's Maven plugins are not installed (.ci/run installs libmaven-jar-plugin-java and the others): %v", err)
	}
	app, state := t.TempDir(), t.TempDir()
	writeFiles(t, app, map[string]string{
		"pom.xml":                       helloPOM(t),
		"src/main/java/hello/Main.java": helloJava,
		"system.properties":             "java.runtime.version=17\n",
	})
	seedMavenRepo(t, filepath.Join(state, "cache", "m2", "repository"))
	env := append(os.Environ(), "MAVEN_CUSTOM_OPTS=-DskipTests -o")
	_, logs := mustBuild(t, app, Plan{Kind: Java}, Options{StateDir: state, Env: env})
	for _, want := range []string{
		"-----> system.properties asks for Java 17; building with Java 17",
		"-----> Running: mvn -B -Dmaven.repo.local=" + filepath.Join(state, "cache", "m2", "repository") + " -DskipTests -o clean dependency:list install",
		"[INFO] BUILD SUCCESS",
	} {
		if !strings.Contains(logs.text(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.text())
		}
	}
	out, err := exec.Command("java", "-cp", filepath.Join(app, "target", "hello-1.0.jar"), "hello.Main").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello from maven" {
		t.Fatalf("the jar: %v: %s", err, out)
	}
	// install put it in the cache's repository, not Debian's.
	if _, err := os.Stat(filepath.Join(state, "cache", "m2", "repository", "dev", "dynobox", "hello", "1.0", "hello-1.0.jar")); err != nil {
		t.Error(err)
	}
}

// TestMavenOfflineNeedsNetwork builds with the real Maven and an empty
// repository: Maven cannot get its plugins, and the build says it needs
// the network.
func TestMavenOfflineNeedsNetwork(t *testing.T) {
	slow(t, "a Maven build")
	need(t, "mvn")
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"pom.xml": helloPOM(t), "src/main/java/hello/Main.java": helloJava})
	env := append(os.Environ(), "MAVEN_CUSTOM_OPTS=-DskipTests -o")
	_, err, logs := build(t, app, Plan{Kind: Java}, Options{StateDir: t.TempDir(), Env: env})
	if err == nil || !strings.Contains(err.Error(), "mvn -B") || !strings.Contains(err.Error(), "(this build needs the network: Maven downloads") {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(logs.text(), "in offline mode") || !strings.Contains(logs.text(), " !     this build needs the network: Maven downloads") {
		t.Errorf("log:\n%s", logs.text())
	}
}
