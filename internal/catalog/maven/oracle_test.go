package maven

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// The oracle for pom resolution is Maven's own model builder, from the
// maven packages of the machine (Debian's /usr/share/java jars), driven by
// testdata/oracle/EffectiveDeps.java offline.

// oracleJars are the jars Maven's model builder needs.
var oracleJars = []string{
	"maven3-model-builder", "maven3-model", "maven3-builder-support", "maven3-artifact",
	"plexus-utils2", "plexus-interpolation", "commons-lang3", "atinject-jsr330-api", "guava",
}

// skipOrFail skips, or fails under CI where every component must be there.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// oracleClasspath compiles the oracle once per source version (cached) and
// returns the classpath to run it with.
func oracleClasspath(t testing.TB) string {
	t.Helper()
	javac := testutil.RequireCmd(t, "javac", "java")
	var cp []string
	for _, j := range oracleJars {
		p := filepath.Join("/usr/share/java", j+".jar")
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "needs Maven's jars (apt-get install maven): %v", err)
		}
		cp = append(cp, p)
	}
	srcs, err := filepath.Glob(filepath.Join("testdata", "oracle", "*.java"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("oracle sources: %v", err)
	}
	h := sha256.New()
	for i, src := range srcs {
		code, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(src))
		h.Write(code)
		srcs[i], _ = filepath.Abs(src)
	}
	out := filepath.Join(testutil.CacheDir(t, "maven-oracle"), hex.EncodeToString(h.Sum(nil)[:8]))
	if _, err := os.Stat(filepath.Join(out, "done")); err != nil {
		tmp, err := os.MkdirTemp(filepath.Dir(out), "build-")
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{"-nowarn", "-cp", strings.Join(cp, ":"), "-d", tmp}, srcs...)
		if b, err := exec.Command(javac, args...).CombinedOutput(); err != nil {
			t.Fatalf("javac: %v\n%s", err, b)
		}
		if err := os.WriteFile(filepath.Join(tmp, "done"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, out); err != nil {
			os.RemoveAll(tmp) // another test process won the race
			if _, serr := os.Stat(filepath.Join(out, "done")); serr != nil {
				t.Fatalf("install oracle: %v", err)
			}
		}
	}
	return strings.Join(append(cp, out), ":")
}

// mavenEffective returns, per pom, Maven's effective dependencies as
// "group:artifact@version scope[ optional]", one per group:artifact@version
// (the widest scope kept when a pom lists one twice, as with a "tests"
// classifier), sorted; errors holds the poms Maven could not build.
func mavenEffective(t testing.TB, poms ...string) (deps map[string][]string, errors map[string]string) {
	t.Helper()
	cp := oracleClasspath(t)
	out, err := exec.Command("java", append([]string{"-cp", cp, "EffectiveDeps"}, poms...)...).Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	type entry struct{ scope, optional string }
	byPOM := map[string]map[string]entry{}
	errors = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		kind, rest, _ := strings.Cut(line, " ")
		pom, what, _ := strings.Cut(rest, " ")
		switch kind {
		case "ERROR":
			errors[pom] = what
		case "DEP":
			f := strings.Split(what, ":")
			if len(f) != 5 {
				t.Fatalf("oracle line %q", line)
			}
			k := f[0] + ":" + f[1] + "@" + f[2]
			if byPOM[pom] == nil {
				byPOM[pom] = map[string]entry{}
			}
			e := entry{f[3], f[4]}
			if old, ok := byPOM[pom][k]; ok && scopeRank(old.scope) <= scopeRank(e.scope) {
				e = old
			}
			byPOM[pom][k] = e
		default:
			t.Fatalf("oracle line %q", line)
		}
	}
	deps = map[string][]string{}
	for _, pom := range poms {
		list := []string{}
		for k, e := range byPOM[pom] {
			s := k + " " + e.scope
			if e.optional == "true" {
				s += " optional"
			}
			list = append(list, s)
		}
		slices.Sort(list)
		deps[pom] = list
	}
	return deps, errors
}

// javaPomProps returns, per archive, what Java's zip and properties readers
// find in its pom.properties files (and those of the archives inside it),
// as sorted "group:artifact@version" lines, one each.
func javaPomProps(t testing.TB, archives ...string) map[string][]string {
	t.Helper()
	cp := oracleClasspath(t)
	out, err := exec.Command("java", append([]string{"-cp", cp, "PomProps"}, archives...)...).Output()
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "PROPS" {
			t.Fatalf("oracle line %q", line)
		}
		if !slices.Contains(got[f[1]], f[2]) {
			got[f[1]] = append(got[f[1]], f[2])
		}
	}
	for _, v := range got {
		slices.Sort(v)
	}
	return got
}

// Exported for the external tests (e2e_test.go).
var (
	MavenEffective = mavenEffective
	JavaPomProps   = javaPomProps
	RealJars       = realJars
)

// realJars lists the regular (not symlinked) jars of /usr/share/java that
// Debian's maven packages install.
func realJars(t testing.TB) []string {
	t.Helper()
	all, _ := filepath.Glob("/usr/share/java/*.jar")
	var out []string
	for _, p := range all {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			out = append(out, p)
		}
	}
	if len(out) < 10 {
		skipOrFail(t, "needs the jars of Debian's maven package in /usr/share/java (found %d)", len(out))
	}
	return out
}
