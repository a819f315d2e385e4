package report

import (
	"bytes"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", name, diff)
	}
}

func sbomOut(t testing.TB, format string, s *model.SBOM, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSBOM(&b, format, s, opts); err != nil {
		t.Fatalf("WriteSBOM(%s) = %v", format, err)
	}
	return b.Bytes()
}

func reportOut(t testing.TB, format string, r *model.Report, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteReport(&b, format, r, opts); err != nil {
		t.Fatalf("WriteReport(%s, %s) = %v", r.Kind, format, err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, f := range SBOMFormats() {
		t.Run("sbom/"+f, func(t *testing.T) {
			golden(t, "sbom."+f+".golden", sbomOut(t, f, fixtureSBOM(), Options{}))
		})
	}
	reports := map[string]func() *model.Report{"scan": fixtureScan, "audit": fixtureAudit, "netpol-lint": fixtureLint}
	for kind, mk := range reports {
		for _, f := range ReportFormats(kind) {
			t.Run(kind+"/"+f, func(t *testing.T) {
				golden(t, kind+"."+f+".golden", reportOut(t, f, mk(), Options{}))
			})
		}
		t.Run(kind+"/table-color", func(t *testing.T) {
			golden(t, kind+".table-color.golden", reportOut(t, "table", mk(), Options{Color: true}))
		})
		t.Run(kind+"/table-width60", func(t *testing.T) {
			golden(t, kind+".table-width60.golden", reportOut(t, "table", mk(), Options{Width: 60}))
		})
	}
	t.Run("sbom/table-width80", func(t *testing.T) {
		golden(t, "sbom.table-width80.golden", sbomOut(t, "table", fixtureSBOM(), Options{Width: 80}))
	})
}

func TestFormats(t *testing.T) {
	tests := []struct {
		kind string
		want []string
	}{
		{"scan", []string{"table", "json", "sarif", "cyclonedx-json", "openvex"}},
		{"audit", []string{"table", "json", "sarif"}},
		{"netpol-lint", []string{"table", "json", "sarif"}},
		{"bogus", nil},
	}
	for _, tt := range tests {
		if got := ReportFormats(tt.kind); !cmp.Equal(got, tt.want) {
			t.Errorf("ReportFormats(%q) = %v, want %v", tt.kind, got, tt.want)
		}
	}
	if got, want := SBOMFormats(), []string{"table", "json", "cyclonedx-json", "spdx-json"}; !cmp.Equal(got, want) {
		t.Errorf("SBOMFormats() = %v, want %v", got, want)
	}
}

func TestUnknownFormat(t *testing.T) {
	tests := []struct {
		name    string
		write   func() error
		wantMsg string
	}{
		{"sbom xml", func() error { return WriteSBOM(&bytes.Buffer{}, "xml", fixtureSBOM(), Options{}) },
			`unknown format "xml" for sbom (valid: table, json, cyclonedx-json, spdx-json)`},
		{"sbom sarif", func() error { return WriteSBOM(&bytes.Buffer{}, "sarif", fixtureSBOM(), Options{}) },
			`unknown format "sarif" for sbom (valid: table, json, cyclonedx-json, spdx-json)`},
		{"scan spdx", func() error { return WriteReport(&bytes.Buffer{}, "spdx-json", fixtureScan(), Options{}) },
			`unknown format "spdx-json" for scan report (valid: table, json, sarif, cyclonedx-json, openvex)`},
		{"audit cyclonedx", func() error { return WriteReport(&bytes.Buffer{}, "cyclonedx-json", fixtureAudit(), Options{}) },
			`unknown format "cyclonedx-json" for audit report (valid: table, json, sarif)`},
		{"lint empty", func() error { return WriteReport(&bytes.Buffer{}, "", fixtureLint(), Options{}) },
			`unknown format "" for netpol-lint report (valid: table, json, sarif)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write()
			if !errors.Is(err, ErrUnknownFormat) {
				t.Fatalf("error = %v, want ErrUnknownFormat", err)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("error = %q, want %q", err, tt.wantMsg)
			}
		})
	}
}

func TestBadReport(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantMsg string
	}{
		{"nil report", WriteReport(&bytes.Buffer{}, "json", nil, Options{}), "write report: no report"},
		{"nil sbom", WriteSBOM(&bytes.Buffer{}, "json", nil, Options{}), "write sbom: no sbom"},
		{"unknown kind", WriteReport(&bytes.Buffer{}, "json", &model.Report{Kind: "sbom"}, Options{}),
			`write report: unknown report kind "sbom" (want scan, audit, netpol-lint or lint)`},
	}
	for _, tt := range tests {
		if tt.err == nil || tt.err.Error() != tt.wantMsg {
			t.Errorf("%s: error = %v, want %q", tt.name, tt.err, tt.wantMsg)
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	for _, f := range SBOMFormats() {
		err := WriteSBOM(failWriter{}, f, fixtureSBOM(), Options{})
		if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.HasPrefix(err.Error(), "write sbom "+f+": ") {
			t.Errorf("WriteSBOM(failing writer, %s) = %v, want write sbom %s: … disk full", f, err, f)
		}
	}
	for _, f := range ReportFormats("scan") {
		err := WriteReport(failWriter{}, f, fixtureScan(), Options{})
		if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.HasPrefix(err.Error(), "write scan report "+f+": ") {
			t.Errorf("WriteReport(failing writer, %s) = %v, want write scan report %s: … disk full", f, err, f)
		}
	}
}

func shuffled[T any](r *rand.Rand, s []T) []T {
	c := append([]T(nil), s...)
	r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

// TestDeterministic: the order of the input does not change a byte of the
// output, and the writers leave their input as it was.
func TestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range SBOMFormats() {
		t.Run("sbom/"+f, func(t *testing.T) {
			want := sbomOut(t, f, fixtureSBOM(), Options{})
			for range 5 {
				s := fixtureSBOM()
				s.Packages = shuffled(rng, s.Packages)
				s.Layers = shuffled(rng, s.Layers)
				before := fixtureSBOM()
				before.Packages = append([]model.Package(nil), s.Packages...)
				before.Layers = append([]model.LayerRef(nil), s.Layers...)
				if got := sbomOut(t, f, s, Options{}); !bytes.Equal(got, want) {
					t.Fatalf("WriteSBOM(%s) of shuffled packages differs:\n%s", f, cmp.Diff(string(want), string(got)))
				}
				if diff := cmp.Diff(before, s); diff != "" {
					t.Fatalf("WriteSBOM(%s) changed its input (-before +after):\n%s", f, diff)
				}
			}
		})
	}
	for kind, mk := range map[string]func() *model.Report{"scan": fixtureScan, "audit": fixtureAudit, "netpol-lint": fixtureLint} {
		for _, f := range ReportFormats(kind) {
			t.Run(kind+"/"+f, func(t *testing.T) {
				want := reportOut(t, f, mk(), Options{})
				for range 5 {
					r := mk()
					r.Findings = shuffled(rng, r.Findings)
					r.Packages = shuffled(rng, r.Packages)
					r.Suppressed = shuffled(rng, r.Suppressed)
					before := *r
					before.Findings = append([]model.Finding(nil), r.Findings...)
					before.Packages = append([]model.Package(nil), r.Packages...)
					before.Suppressed = append([]model.Suppressed(nil), r.Suppressed...)
					if got := reportOut(t, f, r, Options{}); !bytes.Equal(got, want) {
						t.Fatalf("WriteReport(%s, %s) of shuffled findings differs:\n%s", kind, f, cmp.Diff(string(want), string(got)))
					}
					if diff := cmp.Diff(&before, r); diff != "" {
						t.Fatalf("WriteReport(%s, %s) changed its input (-before +after):\n%s", kind, f, diff)
					}
				}
			})
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.1.2", "1.1.10", -1},
		{"1.1.10", "1.1.2", 1},
		{"CVE-2023-999", "CVE-2023-1000", -1},
		{"CVE-2023-1000", "CVE-2023-1000", 0},
		{"5.5", "5.29", -1},
		{"a", "ab", -1},
		{"01", "1", -1}, // equal as numbers: text decides
		{"", "", 0},
		{"x9", "x10y", -1},
		{"GHSA-a", "GO-2023", -1},
	}
	for _, tt := range tests {
		if got := naturalCompare(tt.a, tt.b); got != tt.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
