package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/package-url/packageurl-go"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/testutil"
)

// TestSBOMDebianEveryForm: the real Debian minbase image in every target
// form; `lockdown sbom` lists exactly what dpkg-query lists (name,
// version, architecture, source package and source version), attributed
// to the image's one layer.
func TestSBOMDebianEveryForm(t *testing.T) {
	deb := testutil.DebianImage(t)
	want := testutil.DpkgQuery(t, filepath.Join(deb.Rootfs, "var", "lib", "dpkg"))
	if len(want) < 50 {
		t.Fatalf("dpkg-query lists %d packages; a minbase system has ~90", len(want))
	}
	host := testutil.StartRegistry(t)
	regRef := testutil.PushToRegistry(t, host, deb)
	targets := map[string][]string{
		"dir":            {"dir:" + deb.Rootfs},
		"docker-archive": {"docker-archive:" + deb.DockerArchive},
		"oci-archive":    {"oci-archive:" + deb.OCIArchive},
		"oci-dir":        {"oci-dir:" + deb.OCIDir},
		"registry":       {"registry:" + regRef, "--insecure-registry", host},
		"docker":         {"docker:" + testutil.DebianDockerRef(t)},
	}
	for name, args := range targets {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"sbom", "--format", "json", "--no-cache"}, args...)...)
			if code != ExitOK {
				t.Fatalf("sbom %v: exit %d: %s", args, code, errOut)
			}
			var s model.SBOM
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range s.Packages {
				if p.Type != model.TypeDeb {
					continue
				}
				src, srcVer := p.SourceName, p.SourceVersion
				if src == "" {
					src, srcVer = p.Name, p.Version
				}
				got = append(got, strings.Join([]string{p.Name, p.Version, p.Arch, src, srcVer}, "\t"))
				pu, err := packageurl.FromString(p.PURL)
				if err != nil || pu.Type != "deb" || pu.Namespace != "debian" || pu.Name != p.Name || pu.Version != p.Version || p.Ecosystem != "Debian:12" || p.ID == "" {
					t.Errorf("%s: ecosystem %q purl %q id %q", p.Name, p.Ecosystem, p.PURL, p.ID)
				}
				if p.Layer == nil || (name != "dir" && p.Layer.DiffID != deb.DiffID) {
					t.Errorf("%s: layer %+v, want diff ID %s", p.Name, p.Layer, deb.DiffID)
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("packages (-dpkg-query +lockdown):\n%s", diff)
			}
			if s.Distro == nil || s.Distro.ID != "debian" || s.Distro.VersionID != "12" || s.Distro.Codename != "bookworm" {
				t.Errorf("distro = %+v, want debian 12 bookworm", s.Distro)
			}
		})
	}
}

// TestSBOMFormats: every format is written and names every package.
func TestSBOMFormats(t *testing.T) {
	target := "docker-archive:" + testutil.Data(t, "images/alpine-3.11-docker-save.tar.gz")
	for _, f := range []string{"json", "table", "cyclonedx-json", "spdx-json"} {
		t.Run(f, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sbom."+f)
			code, stdout, errOut := runCLI(t, "sbom", "--format", f, "-o", out, target)
			if code != ExitOK || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and the report in the file", code, stdout, errOut)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"musl-utils", "libcrypto1.1", "ssl_client"} {
				if !strings.Contains(string(b), name) {
					t.Errorf("%s output lacks %s", f, name)
				}
			}
		})
	}
}

// TestSBOMBadInput: hostile and broken targets exit 2 with one line naming
// the problem, and nothing is written outside the temp dir.
func TestSBOMBadInput(t *testing.T) {
	cwd, _ := os.Getwd()
	before := testutil.DirSnapshot(t, cwd)
	cases := map[string]struct {
		target string
		want   string
	}{}
	for _, k := range testutil.HostileKinds {
		want := map[testutil.Hostile]string{
			testutil.HostileTruncatedTar:      "layer sha256:",
			testutil.HostileCorruptGzip:       "layer sha256:",
			testutil.HostileDotDot:            "../../etc/passwd",
			testutil.HostileAbsolute:          "/etc/passwd",
			testutil.HostileGzipBomb:          "layer sha256:",
			testutil.HostileMissingBlob:       "sha256:",
			testutil.HostileMissingOCIBlob:    "sha256:",
			testutil.HostileUnknownMediaType:  "application/vnd.example.unknown",
			testutil.HostileMultiPlatformOnly: "linux/arm64/v8",
		}[k]
		cases[string(k)] = struct{ target, want string }{testutil.HostileImage(t, k), want}
	}
	cases["missing file"] = struct{ target, want string }{"docker-archive:/nonexistent/x.tar", "/nonexistent/x.tar"}
	cases["unknown scheme"] = struct{ target, want string }{"ftp:x", "ftp:x"}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "sbom", "--no-cache", "--max-layer-bytes", fmt.Sprint(64<<20), "--format", "json", c.target)
			if code != ExitBadInput {
				t.Fatalf("sbom %s: exit %d (stdout %.200q), want 2", c.target, code, out)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "lockdown: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr = %q, want one line `lockdown: …%s…`", errOut, c.want)
			}
		})
	}
	if diff := cmp.Diff(before, testutil.DirSnapshot(t, cwd)); diff != "" {
		t.Errorf("the working directory changed:\n%s", diff)
	}
}

// TestSBOMEdgeCaseImages: the hostile layers from ../shared/data walk (or
// fail cleanly) and never reach outside the image.
func TestSBOMEdgeCaseImages(t *testing.T) {
	dir := testutil.Data(t, "images/scalibr-edge-cases")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "layers-") {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			code, _, errOut := runCLI(t, "sbom", "--no-cache", "--format", "json", "docker-archive:"+filepath.Join(dir, e.Name()))
			if code != ExitOK && code != ExitBadInput {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if code == ExitBadInput && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr has more than one line: %q", errOut)
			}
		})
	}
}
