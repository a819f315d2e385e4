package catalog

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lockdown-sec/lockdown/internal/cache"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestLayerCache: a second catalog of the same image reads no layer, an
// image sharing its base layers reads only its new one, and the SBOMs are
// exactly those of an uncached run.
func TestLayerCache(t *testing.T) {
	bin, err := os.ReadFile(testutil.GoBinary(t, gobinaryProgram))
	if err != nil {
		t.Fatal(err)
	}
	base := []testutil.TarEntry{
		testutil.TarDir("etc"), testutil.TarDir("usr/lib"),
		testutil.TarFile("usr/lib/os-release", debian12OSRelease),
		testutil.TarSymlink("etc/os-release", "../usr/lib/os-release"),
		testutil.TarDir("var/lib/dpkg"),
		testutil.TarFile("var/lib/dpkg/status", para("libc6", "2.36-9+deb12u4", "amd64", "glibc", installed)+para("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", installed)),
	}
	app := []testutil.TarEntry{
		testutil.TarFile("var/lib/dpkg/status", para("libc6", "2.36-9+deb12u7", "amd64", "glibc", installed)+para("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", installed)),
		{Name: "usr/local/bin/app", Body: string(bin), Mode: 0o755},
	}
	extra := []testutil.TarEntry{
		testutil.TarFile("var/lib/dpkg/status.d/extra", para("extra", "1.0", "all", "", "")),
		testutil.TarFile("etc/broken-ignored", "x"),
	}
	imgA := "docker-archive:" + testutil.LayeredImage(t, base, app)
	imgB := "docker-archive:" + testutil.LayeredImage(t, base, app, extra)

	lc, err := cache.Open(t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ignore := cmpopts.IgnoreFields(model.SBOM{}, "CreatedAt", "Target")
	run := func(target string, useCache bool) (*model.SBOM, int) {
		hits := 0
		opts := Options{CacheHits: &hits}
		if useCache {
			opts.Cache = lc
		}
		return catalogTarget(t, target, opts), hits
	}
	uncachedA, _ := run(imgA, false)
	uncachedB, _ := run(imgB, false)
	for _, c := range []struct {
		name     string
		target   string
		want     *model.SBOM
		wantHits int
	}{
		{"A cold", imgA, uncachedA, 0},
		{"A warm", imgA, uncachedA, 2},
		{"B shares A's two layers", imgB, uncachedB, 2},
		{"B warm", imgB, uncachedB, 3},
	} {
		got, hits := run(c.target, true)
		if hits != c.wantHits {
			t.Errorf("%s: %d layers from the cache, want %d", c.name, hits, c.wantHits)
		}
		if diff := cmp.Diff(c.want, got, ignore); diff != "" {
			t.Errorf("%s: SBOM differs from the uncached one (-want +got):\n%s", c.name, diff)
		}
	}
	if len(uncachedA.Packages) < 4 {
		t.Fatalf("image A has %d packages; the test image should have dpkg and Go packages", len(uncachedA.Packages))
	}

	// Another extractor set must not reuse those entries.
	hits := 0
	catalogTarget(t, imgA, Options{Cache: lc, CacheHits: &hits, Extractors: []string{"dpkg"}})
	if hits != 0 {
		t.Errorf("dpkg-only run: %d layers from the cache of the full extractor set, want 0", hits)
	}
}

func TestCacheKey(t *testing.T) {
	a := CacheKey(Default())
	if a == "" || a != CacheKey(Default()) {
		t.Fatalf("CacheKey not stable: %q", a)
	}
	if b := CacheKey(Default()[:1]); b == a {
		t.Errorf("CacheKey ignores the extractor set: %q", b)
	}
}
