package maven

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/catalog/extract/extracttest"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// FuzzParsePOM parses a pom and resolves it alone and as the parent of a
// fixed child: no panic, and never a package whose version is not a single
// literal version.
func FuzzParsePOM(f *testing.F) {
	for _, p := range []string{"multi/pom.xml", "multi/app/pom.xml", "multi/lib/pom.xml", "multi/bom/pom.xml", "broken/pom.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	child, err := os.ReadFile(filepath.Join("testdata", "multi", "app", "pom.xml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ParsePOM("/p/pom.xml", data)
		if err != nil {
			return
		}
		kid, err := ParsePOM("/p/app/pom.xml", child)
		if err != nil {
			t.Fatal(err)
		}
		out := (Extractor{}).Resolve(map[string]extract.Result{"/p/pom.xml": res, "/p/app/pom.xml": kid})
		for _, r := range append([]extract.Result{res}, out["/p/pom.xml"], out["/p/app/pom.xml"]) {
			for _, p := range r.Packages {
				g, a, ok := strings.Cut(p.Name, ":")
				if !ok || !validCoord(g) || !validCoord(a) || !validVersion(p.Version) {
					t.Fatalf("package %q@%q", p.Name, p.Version)
				}
			}
		}
	})
}

func FuzzParseGradleLock(f *testing.F) {
	f.Add([]byte("# x\norg.a:b:1.0=compileClasspath\nempty=\n"))
	f.Add([]byte("a:b:c:d=x\n\n:::\n=\n"))
	extracttest.Fuzz(f, ParseGradleLock, "/g/gradle.lockfile", func(p model.Package) bool {
		return validVersion(p.Version) && strings.Count(p.Name, ":") == 1
	})
}

func FuzzParseArchive(f *testing.F) {
	inner := zipOf(f, map[string][]byte{"META-INF/maven/g/i/pom.properties": props("g", "i", "2")})
	f.Add(zipOf(f, map[string][]byte{
		"META-INF/maven/g/a/pom.properties": props("g", "a", "1"),
		"WEB-INF/lib/i.jar":                 inner,
	}))
	f.Add(inner)
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ParseArchive(context.Background(), "/a.war", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, p := range res.Packages {
			if !validVersion(p.Version) {
				t.Fatalf("package %q@%q", p.Name, p.Version)
			}
		}
	})
}

// BenchmarkParsePOM parses the largest real pom (zeppelin's parent, 74 kB).
func BenchmarkParsePOM(b *testing.B) {
	extracttest.BenchFile(b, ParsePOM, "lockfiles/maven/zeppelin-server-osv-scalibr/parent/pom.xml")
}

// BenchmarkResolveZeppelin resolves zeppelin-server against its two
// parents (parsing not included).
func BenchmarkResolveZeppelin(b *testing.B) {
	dir := testutil.Data(b, "lockfiles/maven/zeppelin-server-osv-scalibr")
	in := map[string]extract.Result{}
	for _, rel := range []string{"pom.xml", "parent/pom.xml", "parent/parent/pom.xml"} {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			b.Fatal(err)
		}
		res, err := ParsePOM("/"+rel, data)
		if err != nil {
			b.Fatal(err)
		}
		in["/"+rel] = res
	}
	b.ReportAllocs()
	for b.Loop() {
		if out := (Extractor{}).Resolve(in); len(out["/pom.xml"].Packages) != 37 {
			b.Fatalf("%d packages", len(out["/pom.xml"].Packages))
		}
	}
}

// BenchmarkParseArchive reads the largest real jar on the machine
// (Debian's guava.jar, 2.9 MB, 2,000 entries).
func BenchmarkParseArchive(b *testing.B) {
	RealJars(b)
	data, err := os.ReadFile("/usr/share/java/guava.jar")
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := ParseArchive(context.Background(), "/guava.jar", bytes.NewReader(data), int64(len(data)))
		if err != nil || len(res.Packages) != 1 {
			b.Fatalf("%v, %v", res, err)
		}
	}
}

// BenchmarkParseGradleLock reads a generated lock file of 5,000 lines.
func BenchmarkParseGradleLock(b *testing.B) {
	var sb strings.Builder
	for i := range 5000 {
		sb.WriteString("org.example.group" + string(rune('a'+i%26)) + ":artifact-" + strings.Repeat("x", i%7) + string(rune('a'+i/26%26)) + ":1." + string(rune('0'+i%10)) + ".0=compileClasspath,runtimeClasspath\n")
	}
	extracttest.Bench(b, ParseGradleLock, "/g/gradle.lockfile", []byte(sb.String()))
}
