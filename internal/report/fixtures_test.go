package report

import (
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Fixed inputs for the golden and structure tests: a Debian 12 image with
// an npm app and a Go binary on top, the vulnerabilities a scan of it
// reports, a posture audit and a policy lint. Versions, advisories and fixes
// are real ones.

var (
	fixedTime = time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)
	fixedTool = model.Tool{Name: "lockdown", Version: "0.3.0"}

	layer0 = model.LayerRef{
		Index:     0,
		DiffID:    "sha256:1f5d3e8c2b7a4e9f0d6c1b3a5e7f9d2c4b6a8e0f1d3c5b7a9e2f4d6c8b0a1e3f",
		Digest:    "sha256:9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b",
		CreatedBy: "/bin/sh -c #(nop) ADD file:4b1e0e6f in / ",
	}
	layer1 = model.LayerRef{
		Index:     1,
		DiffID:    "sha256:7e3c9a1b5d2f8e4a6c0b9d3f1e5a7c2b4d6f8a0e3c5b7d9f1a2c4e6b8d0f3a5c",
		CreatedBy: "COPY app /app # buildkit",
	}
)

func pkg(p model.Package) model.Package {
	p.ID = model.StableID(p)
	return p
}

func fixturePackages() []model.Package {
	l0, l1 := layer0, layer1
	return []model.Package{
		pkg(model.Package{
			Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Type: model.TypeDeb, Ecosystem: "Debian:12",
			PURL: "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12", Arch: "amd64",
			SourceName: "zlib", SourceVersion: "1:1.2.13.dfsg-1",
			Location: "/var/lib/dpkg/status", Layer: &l0, Licenses: []string{"Zlib"},
		}),
		pkg(model.Package{
			Name: "libc6", Version: "2.36-9+deb12u4", Type: model.TypeDeb, Ecosystem: "Debian:12",
			PURL: "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12", Arch: "amd64",
			SourceName: "glibc", Location: "/var/lib/dpkg/status", Layer: &l0,
			Licenses: []string{"GPL-2.0-only", "LGPL-2.1-or-later"},
		}),
		pkg(model.Package{
			Name: "libssl3", Version: "3.0.11-1~deb12u1", Type: model.TypeDeb, Ecosystem: "Debian:12",
			PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12", Arch: "amd64",
			SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u1",
			Location: "/var/lib/dpkg/status", Layer: &l0, Licenses: []string{"Apache-2.0"},
		}),
		pkg(model.Package{
			Name: "base-files", Version: "12.4+deb12u5", Type: model.TypeDeb, Ecosystem: "Debian:12",
			PURL: "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12", Arch: "amd64",
			SourceName: "base-files", Location: "/var/lib/dpkg/status", Layer: &l0,
			Licenses: []string{"GPL, see /usr/share/common-licenses"},
		}),
		pkg(model.Package{
			Name: "lodash", Version: "4.17.15", Type: model.TypeNPM, Ecosystem: "npm",
			PURL: "pkg:npm/lodash@4.17.15", Location: "/app/package-lock.json", Layer: &l1,
			Licenses: []string{"MIT"},
		}),
		pkg(model.Package{
			Name: "golang.org/x/net", Version: "v0.7.0", Type: model.TypeGolang, Ecosystem: "Go",
			PURL: "pkg:golang/golang.org/x/net@v0.7.0", Location: "/app/server", Layer: &l1,
			Metadata: map[string]string{"goVersion": "go1.20.1", "mainModule": "example.com/server"},
		}),
	}
}

func fixtureSBOM() *model.SBOM {
	return &model.SBOM{
		Target: model.Target{
			Input:    "docker-archive:/tmp/app.tar",
			Kind:     "docker-archive",
			Name:     "example.com/app:1.4",
			Digest:   "sha256:4c2d9e7a1f3b5c8d0e6a2b4f9c1d3e5a7b9c0d2e4f6a8b1c3d5e7f9a0b2c4d6e",
			ImageID:  "sha256:b0e1f2a3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1",
			Platform: "linux/amd64",
			RepoTags: []string{"example.com/app:1.4"},
		},
		Distro: &model.Distro{
			ID: "debian", VersionID: "12", Codename: "bookworm",
			PrettyName: "Debian GNU/Linux 12 (bookworm)",
		},
		Layers:   []model.LayerRef{layer0, layer1},
		Packages: fixturePackages(),
		Warnings: []model.Warning{
			{Layer: layer1.DiffID, Path: "/app/node_modules/bad/package.json", Message: "parse package.json: unexpected end of JSON input"},
		},
		CreatedAt: fixedTime,
		Tool:      fixedTool,
	}
}

func pkgNamed(ps []model.Package, name string) *model.Package {
	for i := range ps {
		if ps[i].Name == name {
			p := ps[i]
			return &p
		}
	}
	panic("no package " + name)
}

func vuln(p *model.Package, id string, sev model.Severity, fixed, title, cvss string, aliases ...string) model.Finding {
	status := model.StatusUnfixed
	if fixed != "" {
		status = model.StatusFixed
	}
	return model.Finding{
		Kind: model.KindVulnerability, RuleID: id, Aliases: aliases, Title: title,
		Severity: sev, Status: status, Subject: p.Name + " " + p.Version, Scope: "package",
		Package: p, InstalledVersion: p.Version, FixedVersion: fixed, Layer: p.Layer,
		CVSS: cvss, Source: "osv",
	}
}

func fixtureScan() *model.Report {
	s := fixtureSBOM()
	ps := s.Packages
	ssl, lodash, xnet, zlib, libc := pkgNamed(ps, "libssl3"), pkgNamed(ps, "lodash"), pkgNamed(ps, "golang.org/x/net"), pkgNamed(ps, "zlib1g"), pkgNamed(ps, "libc6")
	findings := []model.Finding{
		vuln(ssl, "CVE-2023-5678", model.SeverityMedium, "3.0.13-1~deb12u1", "Excessive time spent in DH check / generation with large Q parameter value", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"),
		vuln(ssl, "CVE-2024-0727", model.SeverityMedium, "3.0.13-1~deb12u1", "NULL dereference on malformed PKCS12 files", "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"),
		vuln(lodash, "CVE-2020-8203", model.SeverityHigh, "4.17.19", "Prototype pollution in zipObjectDeep", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", "GHSA-p6mc-m468-83gw"),
		vuln(lodash, "CVE-2021-23337", model.SeverityHigh, "4.17.21", "Command injection via template", "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H", "GHSA-35jh-r3h4-6jhm"),
		vuln(xnet, "GO-2023-1988", model.SeverityUnknown, "0.13.0", "Improper rendering of text nodes in golang.org/x/net/html", "", "CVE-2023-3978", "GHSA-2wrh-6pvc-2jm9"),
		vuln(zlib, "CVE-2023-45853", model.SeverityCritical, "", "Integer overflow and heap-based buffer overflow in zipOpenNewFileInZip4_6 (MiniZip)", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
		vuln(libc, "CVE-2024-2961", model.SeverityHigh, "2.36-9+deb12u6", "ISO-2022-CN-EXT out-of-bounds write in iconv", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H"),
	}
	findings[2].References = []string{"https://github.com/advisories/GHSA-p6mc-m468-83gw", "https://github.com/lodash/lodash/issues/4874"}
	findings[4].Reachability = &model.Reachability{State: model.ReachAbsent, Reason: "(looked for golang.org/x/net/html.Render)"}
	resolved := vuln(ssl, "CVE-2023-3817", model.SeverityLow, "3.0.10-1~deb12u1", "Excessive time spent checking DH q parameter value", "")
	resolved.Status = model.StatusResolved
	// Another record says CVE-2023-5678 is fixed in an older libssl3: the
	// finding (affected) wins, OpenVEX states it once.
	contradicted := vuln(ssl, "DSA-5532-1", model.SeverityLow, "3.0.11-1~deb12u2", "openssl security update", "", "CVE-2023-5678")
	contradicted.Status = model.StatusResolved
	sup := vuln(libc, "CVE-2010-4756", model.SeverityLow, "", "glob implementation can cause excessive CPU and memory consumption", "")
	sup2 := vuln(xnet, "GO-2023-2102", model.SeverityMedium, "0.17.0", "HTTP/2 rapid reset can cause excessive work in net/http", "", "CVE-2023-39325")
	return &model.Report{
		Kind: "scan", Tool: fixedTool, CreatedAt: fixedTime,
		Target: &s.Target, Distro: s.Distro, Packages: ps, Findings: findings,
		Suppressed: []model.Suppressed{
			{Finding: sup, Reason: "disputed upstream; not a vulnerability in glibc", By: "ignore-file"},
			{Finding: sup2, Reason: "vulnerable_code_not_in_execute_path", By: "vex"},
		},
		Warnings: []model.Warning{
			{Layer: layer1.DiffID, Path: "/app/node_modules/bad/package.json", Message: "parse package.json: unexpected end of JSON input"},
			{Kind: model.WarnUnreadable, Layer: layer1.DiffID, Path: "/usr/local/bin/tool", Message: "gobinary: read go binary /usr/local/bin/tool: it has Go build information that cannot be read (corrupt or truncated)"},
			{Path: "/app/server", Message: "example.com/server (devel) (Go): version not comparable, only exact versions lists checked against 2 advisories: invalid semantic version"},
		},
		NotChecked: []model.NotChecked{
			{Reason: model.NotCheckedUnreadable, Path: "/usr/local/bin/tool", Layer: layer1.DiffID, Message: "/usr/local/bin/tool NOT READ: the packages it lists were not checked (gobinary: read go binary /usr/local/bin/tool: it has Go build information that cannot be read (corrupt or truncated))"},
			{Reason: model.NotCheckedUnparsableVersion, Ecosystem: "Go", Packages: 1, Message: "1 Go package NOT FULLY CHECKED: its installed version cannot be parsed, so only the advisories' exact version lists were compared"},
		},
		Fixed: []model.Finding{resolved, contradicted},
		Meta:  map[string]string{"DB built": "2026-11-26T00:00:00Z"},
	}
}

func fixtureAudit() *model.Report {
	check := func(id, cis string, sev model.Severity, status, scope, subject, title string) model.Finding {
		return model.Finding{
			Kind: model.KindPosture, RuleID: id, CIS: cis, Severity: sev, Status: status,
			Scope: scope, Subject: subject, Title: title,
		}
	}
	icc := check("LD-DAEMON-ICC", "2.2", model.SeverityMedium, model.StatusFail, "daemon", "daemon", "Network traffic is restricted between containers on the default bridge")
	icc.Evidence = "icc=true (default)"
	icc.Remediation = `set "icc": false in /etc/docker/daemon.json`
	icc.Location = "/etc/docker/daemon.json"
	icc.Rationale = "Containers on the default bridge can talk to each other freely."
	live := check("LD-DAEMON-LIVE-RESTORE", "2.15", model.SeverityLow, model.StatusWarn, "daemon", "daemon", "Live restore is enabled")
	live.Evidence = "live-restore=false"
	live.Remediation = `set "live-restore": true in /etc/docker/daemon.json`
	live.Location = "/etc/docker/daemon.json:7"
	userns := check("LD-DAEMON-USERNS", "2.9", model.SeverityMedium, model.StatusInfo, "daemon", "daemon", "User namespace support is enabled")
	userns.Evidence = "userns-remap not set (manual review)"
	priv := check("LD-CONTAINER-PRIVILEGED", "5.5", model.SeverityCritical, model.StatusFail, "container", "web", "Privileged containers are not used")
	priv.Evidence = "HostConfig.Privileged=true"
	priv.Remediation = "run without --privileged; add only the capabilities it needs with --cap-add"
	priv.Location = "/containers/3f1c2b/json"
	mem := check("LD-CONTAINER-MEMORY", "5.11", model.SeverityMedium, model.StatusWarn, "container", "web", "Memory usage for containers is limited")
	mem.Evidence = "HostConfig.Memory=0\nHostConfig.MemorySwap=0"
	mem.Remediation = "run with --memory 512m (or what the service needs)"
	mem2 := mem
	mem2.Subject = "api"
	return &model.Report{
		Kind: "audit", Tool: fixedTool, CreatedAt: fixedTime,
		Findings: []model.Finding{
			check("LD-HOST-AUDITD", "1.1.3", model.SeverityLow, model.StatusSkip, "host", "host", "Auditing is configured for the Docker daemon"),
			check("LD-DAEMON-TLS", "2.7", model.SeverityHigh, model.StatusPass, "daemon", "daemon", "TLS authentication for the Docker daemon is configured"),
			icc, live, userns, priv, mem, mem2,
			check("LD-CONTAINER-PIDS", "5.29", model.SeverityMedium, model.StatusPass, "container", "web", "The PIDs cgroup limit is used"),
			check("LD-CONTAINER-PRIVILEGED", "5.5", model.SeverityCritical, model.StatusPass, "container", "db", "Privileged containers are not used"),
			check("LD-HOST-PARTITION", "1.1.1", model.SeverityMedium, model.StatusPass, "host", "host", "A separate partition for containers has been created"),
			check("LD-HOST-DOCKER-GROUP", "1.1.2", model.SeverityMedium, model.StatusPass, "host", "host", "Only trusted users are allowed to control the Docker daemon"),
			check("LD-HOST-AUDIT-FILES", "1.1.10", model.SeverityLow, model.StatusPass, "host", "host", "Auditing is configured for Docker files and directories"),
		},
		Meta: map[string]string{"engine": "Docker Engine 20.10.24", "containers": "2", "score": "57"},
	}
}

func fixtureLint() *model.Report {
	lint := func(rule string, sev model.Severity, subject, loc, title, evidence, fix string) model.Finding {
		return model.Finding{
			Kind: model.KindPolicyLint, RuleID: rule, Severity: sev, Status: model.StatusFail,
			Scope: "policy", Subject: subject, Location: loc, Title: title, Evidence: evidence, Remediation: fix,
		}
	}
	return &model.Report{
		Kind: "netpol-lint", Tool: fixedTool, CreatedAt: fixedTime,
		Findings: []model.Finding{
			lint("NP-EMPTY-SELECTOR", model.SeverityLow, "shop/allow-web", "policies/shop.yaml:14", "Policy selects no pods", "podSelector app=wbe matches no workload", "fix the label: app=web"),
			lint("NP-ALLOW-ALL-INGRESS", model.SeverityHigh, "shop/allow-web", "policies/shop.yaml:22", "Ingress rule allows every source", "from: [{}]", "name the sources with podSelector or namespaceSelector"),
			lint("NP-SHADOWED", model.SeverityMedium, "kube-system/default-deny", "policies/system.yaml:3", "Rule is shadowed by an earlier rule with higher precedence", "order 100 deny is behind order 10 allow", ""),
		},
	}
}
