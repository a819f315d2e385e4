package report

import (
	"fmt"
	"io"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// benchPackages makes n packages spread over three ecosystems and layers.
func benchPackages(n int) []model.Package {
	l0, l1 := layer0, layer1
	ps := make([]model.Package, n)
	for i := range ps {
		var p model.Package
		switch i % 3 {
		case 0:
			p = model.Package{Name: fmt.Sprintf("lib%04d", i), Version: fmt.Sprintf("1.%d.%d-1+deb12u1", i%7, i%13), Type: model.TypeDeb,
				Arch: "amd64", SourceName: fmt.Sprintf("src%04d", i/4), Location: "/var/lib/dpkg/status", Layer: &l0, Licenses: []string{"GPL-2.0-only"}}
			p.PURL = "pkg:deb/debian/" + p.Name + "@" + p.Version + "?arch=amd64&distro=debian-12"
		case 1:
			p = model.Package{Name: fmt.Sprintf("@scope/pkg-%04d", i), Version: fmt.Sprintf("%d.%d.%d", i%5, i%11, i%17), Type: model.TypeNPM,
				Location: "/app/package-lock.json", Layer: &l1, Licenses: []string{"MIT"}}
			p.PURL = "pkg:npm/%40scope/pkg-" + fmt.Sprintf("%04d", i) + "@" + p.Version
		default:
			p = model.Package{Name: fmt.Sprintf("github.com/org/mod%04d", i), Version: fmt.Sprintf("v0.%d.%d", i%9, i%3), Type: model.TypeGolang,
				Location: "/app/server", Layer: &l1, Metadata: map[string]string{"goVersion": "go1.22.3"}}
			p.PURL = "pkg:golang/" + p.Name + "@" + p.Version
		}
		p.ID = model.StableID(p)
		ps[i] = p
	}
	return ps
}

func benchSBOM(n int) *model.SBOM {
	s := fixtureSBOM()
	s.Packages = benchPackages(n)
	return s
}

// benchScan: n findings, five per package.
func benchScan(n int) *model.Report {
	ps := benchPackages(n / 5)
	fs := make([]model.Finding, n)
	for i := range fs {
		p := &ps[i/5]
		fs[i] = vuln(p, fmt.Sprintf("CVE-20%02d-%05d", 10+i%15, i), model.Severity(1+i%5), fmt.Sprintf("9.%d", i%4),
			"Heap-based buffer overflow in the parser of a widely used library", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", fmt.Sprintf("GHSA-%04d", i))
	}
	r := fixtureScan()
	r.Packages, r.Findings = ps, fs
	return r
}

func BenchmarkWriteSBOM(b *testing.B) {
	s := benchSBOM(5000)
	for _, f := range SBOMFormats() {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := WriteSBOM(io.Discard, f, s, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteReportScan(b *testing.B) {
	r := benchScan(10000)
	for _, f := range ReportFormats(KindScan) {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := WriteReport(io.Discard, f, r, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
