package audit

// CIS section 1: host configuration — Docker's own partition, auditd rules
// for its binaries and files, who controls the daemon, and whether the
// engine and its components are up to date (1.2.2).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/model"
)

var dataRootPartitionInfo = Info{ID: "LD-HST-220", CIS: "1.1.1", Title: "Docker's data root is on its own partition", Severity: model.SeverityLow,
	Tags:        []string{"cis", "storage"},
	Rationale:   "Containers filling Docker's data root must not fill the host's root filesystem.",
	Remediation: "mount a dedicated filesystem at the data root (/var/lib/docker, or \"data-root\" in daemon.json)"}

// dataRootPartition: 1.1.1.
func dataRootPartition(t *Target) Result { return partitionResult(t) }

var dockerGroupInfo = Info{ID: "LD-HST-224", CIS: "1.1.2", Title: "Only trusted users control the Docker daemon", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "users"},
	Rationale:   "Members of the docker group are root on the host in all but name.",
	Remediation: "gpasswd -d USER docker for every user who should not be root"}

// dockerGroup: 1.1.2.
func dockerGroup(t *Target) Result {
	b, err := os.ReadFile(t.Host.path("/etc/group"))
	if err != nil {
		return skip("read /etc/group: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 4 && f[0] == "docker" {
			if f[3] == "" {
				return pass("group docker (gid %s) has no members", f[2])
			}
			return info("group docker (gid %s) members: %s; each is effectively root: confirm they are trusted", f[2], f[3])
		}
	}
	return pass("no docker group in /etc/group")
}

var (
	auditDockerdInfo = auditInfo("LD-HST-221", "1.1.3", "Audit rules watch the dockerd binary")
	auditFilesInfo   = auditInfo("LD-HST-222", "1.1.4-1.1.13", "Audit rules watch Docker's files and directories")
	auditRuntimeInfo = auditInfo("LD-HST-223", "1.1.14-1.1.18", "Audit rules watch containerd and runc binaries")
)

func auditInfo(id, cis, title string) Info {
	return Info{ID: id, CIS: cis, Title: title, Severity: model.SeverityLow, Tags: []string{"cis", "auditd"},
		Rationale:   "Audit records of changes to Docker's binaries and files are what an investigation of a compromise starts from.",
		Remediation: "add \"-w PATH -k docker\" to /etc/audit/rules.d/docker.rules for each path listed, then augenrules --load"}
}

// auditDockerd: 1.1.3.
func auditDockerd(t *Target) Result {
	var ps []string
	if t.Host.DaemonPID > 0 {
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", t.Host.DaemonPID)); err == nil {
			ps = append(ps, strings.TrimSuffix(exe, " (deleted)"))
		}
	}
	return auditWatched(t, append(ps, hostBinaries(t, "dockerd")...))
}

// auditFiles: 1.1.4 to 1.1.13.
func auditFiles(t *Target) Result {
	ps := []string{orDefault(t.Daemon.Info.DockerRootDir, "/var/lib/docker"), "/etc/docker", "/run/containerd", "/etc/default/docker",
		"/etc/sysconfig/docker", configFile(t), "/etc/containerd/config.toml"}
	ps = append(ps, systemdUnits("docker.service")...)
	ps = append(ps, systemdUnits("docker.socket")...)
	ps = append(ps, containerdSockets(t)...)
	return auditWatched(t, existing(t, ps))
}

// auditRuntime: 1.1.14 to 1.1.18.
func auditRuntime(t *Target) Result {
	return auditWatched(t, hostBinaries(t, "containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "runc"))
}

func auditWatched(t *Target, ps []string) Result {
	ps = dedupe(ps)
	if len(ps) == 0 {
		return info("none of the files exist on this host")
	}
	watched, read := auditRules(t.Host)
	if len(read) == 0 {
		r := fail("no auditd rules on this host (/etc/audit/audit.rules and /etc/audit/rules.d/*.rules are missing); unwatched: %s", strings.Join(ps, ", "))
		r.Remediation = "apt-get install auditd, then add to /etc/audit/rules.d/docker.rules: " + auditLines(ps) + "; augenrules --load"
		return r
	}
	var miss []string
	for _, p := range ps {
		if !watched[p] {
			miss = append(miss, p)
		}
	}
	if len(miss) > 0 {
		r := fail("not watched by %s: %s", strings.Join(read, ", "), strings.Join(miss, ", "))
		r.Remediation = "add to /etc/audit/rules.d/docker.rules: " + auditLines(miss) + "; augenrules --load"
		return r
	}
	return pass("watched by %s: %s", strings.Join(read, ", "), strings.Join(ps, ", "))
}

// Versions (1.2.2). Every check that recommends a Docker Engine release
// names the same one: engineUpgrade.

var (
	engineVulnsInfo     = componentInfo("LD-DKR-101", "Docker Engine", model.SeverityHigh, ModDocker, ModMoby)
	containerdVulnsInfo = componentInfo("LD-DKR-102", "containerd", model.SeverityHigh, ModContainerd)
	runcVulnsInfo       = componentInfo("LD-DKR-103", "runc", model.SeverityHigh, ModRunc)
	engineLineInfo      = Info{ID: "LD-DKR-104", CIS: "1.2.2", Severity: model.SeverityMedium, Tags: []string{"cis", "version"},
		Title:       "Docker Engine is on the newest release line",
		Rationale:   "Only the newest release lines get security fixes; the newest line is the highest fixed version of github.com/docker/docker in the advisory data.",
		Remediation: "upgrade Docker Engine to the newest release line"}
)

func componentInfo(id, component string, sev model.Severity, modules ...string) Info {
	return Info{ID: id, CIS: "1.2.2", Severity: sev, Tags: []string{"cis", "version", "vulnerability"},
		Title:       fmt.Sprintf("%s has no known vulnerabilities", component),
		Rationale:   fmt.Sprintf("Known vulnerabilities in %s are public and exploitable; the Go advisory database lists them by module (%s).", component, strings.Join(modules, ", ")),
		Remediation: fmt.Sprintf("upgrade %s to a release that fixes the listed advisories (distribution packages may carry backported fixes: check the package changelog)", component)}
}

func engineVersion(t *Target) (string, string) {
	if v := t.Daemon.Version.Version; v != "" {
		return v, "/version"
	}
	return t.Daemon.Info.ServerVersion, "/info ServerVersion"
}

// engineVulns: 1.2.2 for the engine.
func engineVulns(ctx context.Context, t *Target) Result {
	raw, where := engineVersion(t)
	return componentVulnsResult(ctx, t, "Docker Engine", raw, where, ModDocker, ModMoby)
}

// containerdVulns: 1.2.2 for containerd.
func containerdVulns(ctx context.Context, t *Target) Result {
	raw, where := componentVersion(t, "containerd")
	return componentVulnsResult(ctx, t, "containerd", raw, where, ModContainerd)
}

// runcVulns: 1.2.2 for runc.
func runcVulns(ctx context.Context, t *Target) Result {
	raw, where := componentVersion(t, "runc")
	return componentVulnsResult(ctx, t, "runc", raw, where, ModRunc)
}

func componentVulnsResult(ctx context.Context, t *Target, component, raw, where string, modules ...string) Result {
	if t.Daemon.Podman && component != "runc" {
		return notApplicable("the engine is Podman, which is neither Docker Engine nor uses containerd")
	}
	if raw == "" {
		return skip("the engine does not report a %s version (%s)", component, where)
	}
	if t.Advisories == nil {
		return skip("no advisory database given (lockdown db update, or --osv-zip)")
	}
	v, ok := GoModuleVersion(modules[0], raw)
	if !ok {
		return skip("%s version %q (%s) is not a release version", component, raw, where)
	}
	adv := &cachedAdvisories{adv: t.Advisories}
	// Without a single record for the modules, the data does not cover
	// them (a database built without the Go ecosystem): no verdict, rather
	// than a PASS that nothing was checked for.
	known := 0
	for _, mod := range modules {
		recs, err := adv.Lookup(ctx, "Go", mod)
		if err != nil {
			return skip("look up advisories for %s: %v", mod, err)
		}
		known += len(recs)
	}
	if known == 0 {
		return skip("the advisory data has no Go advisories for %s (add the Go ecosystem: lockdown db update --ecosystem Go, or --osv-zip go.zip)", strings.Join(modules, ", "))
	}
	vulns, err := componentVulns(ctx, adv, v, modules...)
	if err != nil {
		return skip("%v", err)
	}
	if len(vulns) == 0 {
		return pass("%s %s (%s, Go module version %s): no advisories affect it", component, raw, where, v)
	}
	ids := make([]string, len(vulns))
	var refs []string
	for i, vu := range vulns {
		ids[i] = vu.ID
		refs = append(refs, "https://pkg.go.dev/vuln/"+vu.ID)
	}
	r := fail("%s %s (%s, Go module version %s) is affected by %d advisories: %s", component, raw, where, v, len(vulns), strings.Join(ids, ", "))
	r.References = refs
	if component == "Docker Engine" {
		r.Remediation, err = engineUpgrade(ctx, adv, v)
		if err != nil {
			return skip("%v", err)
		}
		return r
	}
	// The highest of the listed fixes can itself be affected by advisories
	// of a later line: recommend the lowest release that no advisory
	// affects, when the data knows one.
	clean, err := lowestUnaffected(ctx, adv, v, "", modules...)
	switch {
	case err != nil:
		return skip("%v", err)
	case clean != "":
		r.Remediation = fmt.Sprintf("upgrade %s to %s or later, the lowest release no known advisory affects", component, clean)
	default:
		r.Remediation = fmt.Sprintf("upgrade %s to its newest release: every release the advisory data knows is affected by at least one advisory; apply the mitigations the advisories describe", component)
	}
	return r
}

// engineLine: 1.2.2, the release line.
func engineLine(ctx context.Context, t *Target) Result {
	if t.Daemon.Podman {
		return notApplicable("the engine is Podman, not Docker Engine")
	}
	raw, _ := engineVersion(t)
	if t.Advisories == nil {
		return skip("no advisory database given (lockdown db update, or --osv-zip)")
	}
	v, ok := GoModuleVersion(ModDocker, raw)
	if !ok {
		return skip("engine version %q is not a release version", raw)
	}
	adv := &cachedAdvisories{adv: t.Advisories}
	newest, err := newestFixed(ctx, adv, ModDocker)
	if err != nil {
		return skip("%v", err)
	}
	if newest == "" {
		return skip("the advisory data has no fixed version for %s", ModDocker)
	}
	line, newLine := semver.MajorMinor(v), semver.MajorMinor("v"+newest)
	if semver.Compare(line, newLine) >= 0 {
		return pass("engine %s is on the %s line, the newest known to the advisory data (%s)", raw, strings.TrimPrefix(line, "v"), newest)
	}
	r := fail("engine %s is on the %s line; the newest release line known to the advisory data is %s (%s fixed in %s)",
		raw, strings.TrimPrefix(line, "v"), strings.TrimPrefix(newLine, "v"), ModDocker, newest)
	if r.Remediation, err = engineUpgrade(ctx, adv, v); err != nil {
		return skip("%v", err)
	}
	return r
}

// engineUpgrade is the one Docker Engine upgrade advice: the lowest
// release on the newest release line that no known advisory affects, else
// the newest fixed release.
func engineUpgrade(ctx context.Context, adv Advisories, v string) (string, error) {
	newest, err := newestFixed(ctx, adv, ModDocker)
	if err != nil || newest == "" {
		return "upgrade Docker Engine to the newest release", err
	}
	line := semver.MajorMinor("v" + newest)
	clean, err := lowestUnaffected(ctx, adv, v, line, ModDocker, ModMoby)
	if err != nil {
		return "", err
	}
	if clean != "" {
		return fmt.Sprintf("upgrade Docker Engine to %s or later, the lowest release on the newest line (%s) that no known advisory affects", clean, strings.TrimPrefix(line, "v")), nil
	}
	return fmt.Sprintf("upgrade Docker Engine to %s or later (the newest line, %s): every release the advisory data knows is affected by at least one advisory; apply the mitigations the advisories describe",
		strings.TrimSuffix(newest, "+incompatible"), strings.TrimPrefix(line, "v")), nil
}

// componentVersion returns the version of the named component from
// /version, or from /info's commit fields.
func componentVersion(t *Target, name string) (string, string) {
	for _, c := range t.Daemon.Version.Components {
		// Podman names its runtime "OCI Runtime (runc)", with the output
		// of runc --version as the version.
		if strings.EqualFold(c.Name, name) || strings.EqualFold(c.Name, "OCI Runtime ("+name+")") {
			v, _, _ := strings.Cut(c.Version, "\n")
			return strings.TrimPrefix(v, name+" version "), "/version components." + c.Name
		}
	}
	switch name {
	case "containerd":
		return t.Daemon.Info.ContainerdCommit.ID, "/info ContainerdCommit"
	case "runc":
		return t.Daemon.Info.RuncCommit.ID, "/info RuncCommit"
	}
	return "", "/version"
}

func existing(t *Target, ps []string) []string {
	var out []string
	for _, p := range dedupe(ps) {
		if _, err := os.Stat(t.Host.path(p)); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// hostBinaries finds the named programs in the usual host directories.
func hostBinaries(t *Target, names ...string) []string {
	var out []string
	for _, n := range names {
		for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"} {
			if fi, err := os.Lstat(t.Host.path(dir)); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
				continue // merged /usr: /bin is a link to /usr/bin
			}
			p := dir + "/" + n
			fi, err := os.Lstat(t.Host.path(p))
			if err == nil && fi.Mode().IsRegular() {
				out = append(out, p)
			}
		}
	}
	return dedupe(out)
}

// auditRules reads the host's auditd rule files and returns the watched
// paths and the files read.
func auditRules(h *Host) (map[string]bool, []string) {
	files := []string{"/etc/audit/audit.rules"}
	if ents, err := os.ReadDir(h.path("/etc/audit/rules.d")); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".rules") {
				files = append(files, "/etc/audit/rules.d/"+e.Name())
			}
		}
	}
	watched := map[string]bool{}
	var read []string
	for _, f := range files {
		b, err := os.ReadFile(h.path(f))
		if err != nil {
			continue
		}
		read = append(read, f)
		for k := range parseAuditRules(b) {
			watched[k] = true
		}
	}
	return watched, read
}

// parseAuditRules returns the paths watched by auditctl rules: "-w PATH"
// and "-F path=PATH" / "-F dir=PATH".
func parseAuditRules(b []byte) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		for i := 0; i < len(f); i++ {
			switch {
			case f[i] == "-w" && i+1 < len(f):
				out[path.Clean(f[i+1])] = true
				i++
			case f[i] == "-F" && i+1 < len(f):
				if v, ok := strings.CutPrefix(f[i+1], "path="); ok {
					out[path.Clean(v)] = true
				} else if v, ok := strings.CutPrefix(f[i+1], "dir="); ok {
					out[path.Clean(v)] = true
				}
				i++
			}
		}
	}
	return out
}

func auditLines(ps []string) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "-w %s -k docker", p)
	}
	return b.String()
}

// mountInfo is one line of /proc/PID/mountinfo.
type mountInfo struct {
	major, minor, root, mountPoint, fsType, source string
}

func parseMountInfo(b []byte) []mountInfo {
	var out []mountInfo
	for _, line := range strings.Split(string(b), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 2 {
			continue
		}
		maj, min, _ := strings.Cut(f[2], ":")
		out = append(out, mountInfo{major: maj, minor: min, root: unescapeMount(f[3]), mountPoint: unescapeMount(f[4]), fsType: g[0], source: g[1]})
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func partitionResult(t *Target) Result {
	dataRoot := orDefault(t.Daemon.Info.DockerRootDir, "/var/lib/docker")
	mf := "/proc/self/mountinfo"
	if t.Host.DaemonPID > 0 {
		mf = fmt.Sprintf("/proc/%d/mountinfo", t.Host.DaemonPID)
	}
	b, err := os.ReadFile(mf)
	if err != nil {
		return skip("read %s: %v", mf, err)
	}
	mounts := parseMountInfo(b)
	var best, rootMnt *mountInfo
	for i := range mounts {
		m := &mounts[i]
		if m.mountPoint == "/" {
			rootMnt = m
		}
		if dataRoot == m.mountPoint || strings.HasPrefix(dataRoot, strings.TrimSuffix(m.mountPoint, "/")+"/") {
			if best == nil || len(m.mountPoint) >= len(best.mountPoint) {
				best = m
			}
		}
	}
	if best == nil || best.mountPoint == "/" {
		return fail("%s is on the root filesystem (%s)", dataRoot, mf)
	}
	if rootMnt != nil && best.major == rootMnt.major && best.minor == rootMnt.minor {
		return fail("%s is mounted at %s from device %s:%s (%s, root %s), the same device as / (a bind mount, not a partition)",
			dataRoot, best.mountPoint, best.major, best.minor, best.source, best.root)
	}
	return pass("%s is on %s mounted at %s (%s, device %s:%s)", dataRoot, best.source, best.mountPoint, best.fsType, best.major, best.minor)
}
