package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/catalog/extract"
	"github.com/lockdown-sec/lockdown/internal/image"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// statusOf is a dpkg status file of n installed packages named prefix0….
func statusOf(prefix string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Package: %s%d\nStatus: install ok installed\nVersion: 1\n\n", prefix, i)
	}
	return b.String()
}

func catalogErr(t *testing.T, target string) (*model.SBOM, error) {
	t.Helper()
	ctx := context.Background()
	src, err := image.Open(ctx, target, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	c, err := New(Default()...)
	if err != nil {
		t.Fatal(err)
	}
	return c.Catalog(ctx, src, Options{TempDir: t.TempDir()})
}

// TestRunPackageCap: an image whose files list more than MaxRunPackages
// packages in all (each file under the per-file cap) is refused as bad
// input, naming the limit.
func TestRunPackageCap(t *testing.T) {
	half := MaxRunPackages/2 + 1
	archive := testutil.LayeredImage(t, []testutil.TarEntry{
		testutil.TarFile("var/lib/dpkg/status.d/a", statusOf("a", half)),
		testutil.TarFile("var/lib/dpkg/status.d/b", statusOf("b", half)),
	})
	sbom, err := catalogErr(t, "docker-archive:"+archive)
	if !errors.Is(err, image.ErrBadInput) || !strings.Contains(err.Error(), fmt.Sprintf("more than %d packages in the image", MaxRunPackages)) {
		n := 0
		if sbom != nil {
			n = len(sbom.Packages)
		}
		t.Fatalf("Catalog(2 × %d packages) = %d packages, error %v; want the run cap", half, n, err)
	}
}

// TestFileLimits: a file over extract.MaxPackages, or a lock file over
// extract.MaxLockFileBytes, is a warning naming it (its packages are
// refused, not cut; a large file is not skipped in silence).
func TestFileLimits(t *testing.T) {
	var req strings.Builder
	for i := range extract.MaxPackages + 1 {
		fmt.Fprintf(&req, "p%d==1.0\n", i)
	}
	archive := testutil.LayeredImage(t, []testutil.TarEntry{
		testutil.TarFile("app/requirements.txt", req.String()),
		testutil.TarFile("var/lib/dpkg/status", statusOf("ok", 3)),
		testutil.TarFile("app/package-lock.json", "{"+strings.Repeat(" ", extract.MaxLockFileBytes)+"}"),
	})
	sbom, err := catalogErr(t, "docker-archive:"+archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(sbom.Packages) != 3 {
		t.Errorf("Catalog() = %d packages, want the 3 of dpkg", len(sbom.Packages))
	}
	for _, want := range []model.Warning{
		{Path: "/app/requirements.txt", Message: "python: /app/requirements.txt: more than 100000 packages"},
		{Path: "/app/package-lock.json", Message: "npm: read /app/package-lock.json: larger than 16777216 bytes: over the size limit"},
	} {
		found := false
		for _, w := range sbom.Warnings {
			if w.Path == want.Path && w.Message == want.Message {
				found = true
			}
		}
		if !found {
			t.Errorf("warnings = %v, want %+v", sbom.Warnings, want)
		}
	}
}
