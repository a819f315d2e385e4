package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// TestCanonicalRef: the spellings Docker treats as one image have one
// canonical form (what `docker inspect` shows as the normalised name).
func TestCanonicalRef(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nginx", "docker.io/library/nginx:latest"},
		{"nginx:1.25", "docker.io/library/nginx:1.25"},
		{"library/nginx:1.25", "docker.io/library/nginx:1.25"},
		{"docker.io/nginx:1.25", "docker.io/library/nginx:1.25"},
		{"docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25"},
		{"index.docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25"},
		{"bitnami/redis", "docker.io/bitnami/redis:latest"},
		{"nginx@" + digestA, "docker.io/library/nginx@" + digestA},
		{"nginx:1.25@" + digestA, "docker.io/library/nginx@" + digestA}, // the tag beside a digest is ignored
		{"registry.example.com/shop/api", "registry.example.com/shop/api:latest"},
		{"Registry.Example.com/shop/api:1.4", "registry.example.com/shop/api:1.4"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost:5000/app:2", "localhost:5000/app:2"},
		{"ghcr.io/org/app:v1.2.3", "ghcr.io/org/app:v1.2.3"},
		// Not image references: themselves.
		{"dir:/srv/rootfs", "dir:/srv/rootfs"},
		{"Shop/API:1", "Shop/API:1"},
		{"nginx@sha256:short", "nginx@sha256:short"},
		{"", ""},
	} {
		if got := CanonicalRef(c.in); got != c.want {
			t.Errorf("CanonicalRef(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzCanonicalRef(f *testing.F) {
	for _, s := range []string{"nginx", "docker.io/library/nginx:1.25@" + digestA, "localhost:5000/a/b:c", "dir:/x", "a:b:c", "@", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		c := CanonicalRef(ref)
		if again := CanonicalRef(c); again != c {
			t.Errorf("CanonicalRef(%q) = %q, but CanonicalRef(%q) = %q: not a fixed point", ref, c, c, again)
		}
	})
}

// TestLatestImageFor: a result stored under one spelling is found under
// every equivalent one and by its digest; other tags and repositories are
// not found; the latest scan wins.
func TestLatestImageFor(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		put := func(digest, image string, at time.Time) {
			t.Helper()
			if err := s.PutImage(ctx, ImageResult{Digest: digest, Image: image, Target: "docker:" + image, ScannedAt: at,
				Counts: map[string]int{}, Report: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
		put(digestA, "nginx", t0)                           // stored as Docker shows it
		put(digestB, "docker.io/library/redis:7", t0)       // fully qualified
		put("sha256:local", "registry.example.com/x:1", t0) // no manifest digest (an image ID, say)
		for _, c := range []struct{ ref, want string }{
			{"nginx", digestA},
			{"nginx:latest", digestA},
			{"docker.io/nginx", digestA},
			{"index.docker.io/library/nginx:latest", digestA},
			{"redis:7", digestB},
			{"library/redis:7", digestB},
			{"docker.io/redis:7", digestB},
			{"registry.example.com/x", ""}, // latest is another tag
			{"registry.example.com/x:1", "sha256:local"},
			{"nginx:1.25", ""},
			{"redis", ""},
			{"ghcr.io/library/nginx", ""},
			{"myorg/nginx@" + digestA, digestA}, // by digest, whatever the name
			{"nginx:1.25@" + digestB, digestB},  // the digest wins over the tag
			{"nginx@sha256:" + fmt.Sprintf("%064d", 0), ""},
		} {
			got, err := s.LatestImageFor(ctx, c.ref)
			switch {
			case c.want == "" && !errors.Is(err, ErrNotFound):
				t.Errorf("LatestImageFor(%q) = %s, %v; want ErrNotFound", c.ref, got.Digest, err)
			case c.want != "" && (err != nil || got.Digest != c.want):
				t.Errorf("LatestImageFor(%q) = %s, %v; want %s", c.ref, got.Digest, err, c.want)
			}
		}
		// The tag moved: the later scan is the answer.
		put(digestB, "nginx:latest", t0.Add(time.Minute))
		if got, err := s.LatestImageFor(ctx, "docker.io/library/nginx"); err != nil || got.Digest != digestB || got.Ref != "docker.io/library/nginx:latest" {
			t.Errorf("after the tag moved: LatestImageFor(nginx) = %s (ref %s), %v; want %s", got.Digest, got.Ref, err, digestB)
		}
	})
}

// TestImagesVersion: storing or pruning results moves the version (for
// every replica sharing the store); reading does not; a prune that deletes
// nothing does not.
func TestImagesVersion(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, u string) {
		ctx := context.Background()
		other := openT(t, u) // another replica
		version := func() int64 {
			t.Helper()
			v, err := other.ImagesVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		v0 := version()
		if err := s.PutImage(ctx, ImageResult{Digest: digestA, Image: "nginx", Target: "x", ScannedAt: time.Now().Add(-time.Hour),
			Counts: map[string]int{}, Report: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		v1 := version()
		if v1 == v0 {
			t.Errorf("ImagesVersion after PutImage = %d, unchanged", v1)
		}
		if _, err := s.LatestImageFor(ctx, "nginx"); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneImages(ctx, time.Now().Add(-2*time.Hour)); err != nil || n != 0 {
			t.Fatalf("PruneImages(-2h) = %d, %v; want 0", n, err)
		}
		if v := version(); v != v1 {
			t.Errorf("ImagesVersion after a read and an empty prune = %d, want %d", v, v1)
		}
		if n, err := s.PruneImages(ctx, time.Now()); err != nil || n != 1 {
			t.Fatalf("PruneImages(now) = %d, %v; want 1", n, err)
		}
		if v := version(); v == v1 {
			t.Errorf("ImagesVersion after a prune that deleted = %d, unchanged", v)
		}
	})
}

// TestRefBackfill: results stored before migration 5 get their canonical
// reference when it is applied, and are found by equivalent names.
func TestRefBackfill(t *testing.T) {
	ctx := context.Background()
	u := "sqlite://" + filepath.Join(t.TempDir(), "old.db")
	s := openT(t, u)
	for i, im := range []string{"nginx:1.25", "dir:/srv/rootfs"} {
		if err := s.PutImage(ctx, ImageResult{Digest: fmt.Sprint("sha256:", i), Image: im, Target: im, ScannedAt: time.Now(),
			Counts: map[string]int{}, Report: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// Back to the schema of migration 4, rows kept.
	for _, q := range []string{`DROP INDEX images_ref_scanned`, `ALTER TABLE images DROP COLUMN ref`, `DROP TABLE images_version`,
		`DELETE FROM schema_migrations WHERE version = 5`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s = openT(t, u)
	for ref, want := range map[string]string{"docker.io/library/nginx:1.25": "sha256:0", "dir:/srv/rootfs": "sha256:1"} {
		if got, err := s.LatestImageFor(ctx, ref); err != nil || got.Digest != want || got.Ref != ref {
			t.Errorf("after the migration: LatestImageFor(%q) = %s (ref %q), %v; want %s", ref, got.Digest, got.Ref, err, want)
		}
	}
}
