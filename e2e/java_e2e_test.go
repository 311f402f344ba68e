package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// javaPOM is a Maven project with no dependencies that Debian's maven builds
// offline (../runner/build/testdata/debian-pom.xml).
func javaPOM(t *testing.T) string {
	t.Helper()
	pom, err := os.ReadFile("../runner/build/testdata/debian-pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(pom), "ARTIFACT", "web")
}

// javaWeb serves its JAVA_OPTS on $PORT with the JDK's own HTTP server.
const javaWeb = `package web;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
public class Main {
  public static void main(String[] a) throws Exception {
    HttpServer s = HttpServer.create(new InetSocketAddress(Integer.parseInt(System.getenv("PORT"))), 0);
    s.createContext("/", x -> {
      byte[] b = ("java web, JAVA_OPTS=" + System.getenv("JAVA_OPTS")).getBytes();
      x.sendResponseHeaders(200, b.length);
      x.getResponseBody().write(b);
      x.close();
    });
    s.start();
  }
}
`

// A Maven app (pom.xml) is detected and built with Debian's Maven, offline
// (MAVEN_CUSTOM_OPTS from .env, as a Heroku config var), its
// system.properties pin is compared with the JDK that builds it, and its
// web dyno serves with Heroku's JAVA_OPTS default.
func TestMavenAppBuildsAndServes(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"pom.xml":                     javaPOM(t),
		"src/main/java/web/Main.java": javaWeb,
		"system.properties":           "java.runtime.version=21\n",
		".env":                        "MAVEN_CUSTOM_OPTS=-DskipTests -o\n",
		"Procfile":                    "web: exec java $JAVA_OPTS -cp target/web-1.0.jar web.Main\n",
	})
	// The build cache's local repository holds Debian's plugins, as a first
	// online build would have downloaded them.
	repo := filepath.Join(dir, ".dynobox", "cache", "m2", "repository")
	err := filepath.WalkDir("/usr/share/maven-repo", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("/usr/share/maven-repo", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(repo, rel), 0o755)
		}
		return os.Symlink(p, filepath.Join(repo, rel))
	})
	if err != nil {
		t.Fatalf("Debian's Maven repository (.ci/run installs maven and its plugins): %v", err)
	}
	port := freePort(t)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port))
	p.waitOutputWithin("Build b1: Java (Maven)", time.Minute)
	p.waitOutput("system.properties asks for Java 21, but this machine builds with Java ")
	p.waitOutputWithin("[INFO] BUILD SUCCESS", 5*time.Minute) // Maven on a loaded 2-core machine
	p.waitAPI(dir)
	waitBody(t, p, "http://127.0.0.1:"+strconv.Itoa(port)+"/", "java web, JAVA_OPTS=-Xmx300m -Xss512k -XX:CICompilerCount=2 -Dfile.encoding=UTF-8", 2*time.Minute)
	stopApp(t, p)
}

// An sbt app with no Procfile serves from the one start script
// sbt-native-packager's stage made, as Heroku's Scala buildpack runs it
// (the sbt here is a stand-in: this machine reaches no sbt repository).
func TestSbtAppServesItsStageScript(t *testing.T) {
	t.Parallel()
	sbt := `#!/bin/sh
set -e
case " $* " in *" stage "*) ;; *) exit 1 ;; esac
mkdir -p target/universal/stage/bin
cat > target/universal/stage/bin/hello <<'END'
#!/bin/sh
exec python3 -m http.server "${1#-Dhttp.port=}" --bind 127.0.0.1
END
chmod +x target/universal/stage/bin/hello
touch target/universal/stage/bin/hello.bat
echo '[success] staged'
`
	dir := writeApp(t, map[string]string{
		"build.sbt":  `name := "hello"` + "\n",
		"index.html": "served by the stage script\n",
	})
	port := freePort(t)
	p := startDynoboxEnv(t, dir, standInOnPath(t, "sbt", sbt), "start", "-p", strconv.Itoa(port))
	p.waitOutputWithin("Build b1: Scala", time.Minute)
	p.waitOutput("[success] staged")
	p.waitAPI(dir)
	waitBody(t, p, "http://127.0.0.1:"+strconv.Itoa(port)+"/", "served by the stage script\n", time.Minute)
	out, _, code := runDynobox(t, dir, "ps")
	if code != 0 || !strings.Contains(out, "target/universal/stage/bin/hello -Dhttp.port=$PORT") {
		t.Errorf("ps (exit %d) does not show the default web command:\n%s", code, out)
	}
	stopApp(t, p)
}

// A Maven app that is not Spring Boot has no default web: with no
// Procfile, start says what to add instead of running nothing silently.
func TestJVMAppWithoutDefaultWebSaysToAddAProcfile(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{"pom.xml": "<project/>\n"})
	p := startDynoboxEnv(t, dir, standInOnPath(t, "mvn", "#!/bin/sh\necho '[INFO] BUILD SUCCESS'\n"), "start", "-p", strconv.Itoa(freePort(t)))
	p.waitOutputWithin("[INFO] BUILD SUCCESS", time.Minute)
	p.waitOutput(`No Procfile, and the build's release names no default process types: add a Procfile with a line like "web: ./server"`)
	stopApp(t, p)
}

// standInOnPath puts script as the tool name on a new PATH directory in
// front of the PATH and returns the env to run dynobox with.
func standInOnPath(t *testing.T, name, script string) []string {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
}
