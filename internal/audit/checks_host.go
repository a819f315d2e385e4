package audit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// hostOrSkip returns a SKIP result when the audit is not on the daemon's host.
func hostOrSkip(t *Target) *Result {
	if t.Host != nil {
		return nil
	}
	r := skip("not on the daemon's host: %s", orDefault(t.HostReason, "host checks disabled"))
	return &r
}

func (h *Host) path(p string) string {
	root := h.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, filepath.FromSlash(p))
}

// fileRule is an ownership and mode rule for host files.
type fileRule struct {
	groups  []string    // allowed group names; owner is always root
	maxMode fs.FileMode // permission bits allowed
}

// checkFiles applies rule to every existing path; missing paths are listed
// but do not fail.
func checkFiles(t *Target, paths []string, rule fileRule) Result {
	var bad, good, missing []string
	groups := groupNames(t.Host)
	for _, p := range dedupe(paths) {
		fi, err := os.Stat(t.Host.path(p))
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, p)
			continue
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", p, err))
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			bad = append(bad, p+": no ownership information")
			continue
		}
		gname := groups[st.Gid]
		if gname == "" {
			gname = strconv.Itoa(int(st.Gid))
		}
		uname := "root"
		if st.Uid != 0 {
			uname = strconv.Itoa(int(st.Uid))
		}
		perm := fi.Mode().Perm()
		desc := fmt.Sprintf("%s %s:%s %04o", p, uname, gname, perm)
		var why []string
		if st.Uid != 0 {
			why = append(why, "owner not root")
		}
		if !slices.Contains(rule.groups, gname) {
			why = append(why, "group not "+strings.Join(rule.groups, " or "))
		}
		if perm&^rule.maxMode != 0 {
			why = append(why, fmt.Sprintf("mode wider than %04o", rule.maxMode))
		}
		if len(why) > 0 {
			bad = append(bad, desc+" ("+strings.Join(why, ", ")+")")
		} else {
			good = append(good, desc)
		}
	}
	switch {
	case len(bad) > 0:
		r := fail("%s", strings.Join(bad, "; "))
		r.Location = strings.Join(dedupe(paths), ", ")
		return r
	case len(good) > 0:
		return pass("%s", strings.Join(good, "; "))
	}
	return info("not present: %s", strings.Join(missing, ", "))
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// groupNames reads /etc/group on the host: gid → name.
func groupNames(h *Host) map[uint32]string {
	out := map[uint32]string{0: "root"}
	b, err := os.ReadFile(h.path("/etc/group"))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			out[uint32(gid)] = f[0]
		}
	}
	return out
}

// daemonSockets returns the unix socket paths the daemon serves.
func daemonSockets(t *Target) []string {
	var out []string
	add := func(h string) {
		if p, ok := strings.CutPrefix(h, "unix://"); ok {
			out = append(out, p)
		}
	}
	if c := t.Daemon.Config; c != nil {
		for _, h := range c.Hosts {
			add(h)
		}
		if len(c.Hosts) == 0 {
			out = append(out, "/var/run/docker.sock")
		}
	}
	add(t.Daemon.Endpoint)
	return dedupe(out)
}

func configFile(t *Target) string {
	if t.Host != nil && t.Host.ConfigFile != "" {
		return t.Host.ConfigFile
	}
	return "/etc/docker/daemon.json"
}

// tlsFile returns the daemon's TLS file for which ("ca", "cert", "key"),
// or "" when TLS is off.
func tlsFile(t *Target, which string) string {
	c := t.Daemon.Config
	if c == nil || !c.tlsOn() {
		return ""
	}
	switch which {
	case "ca":
		return orDefault(c.TLSCACert, "/root/.docker/ca.pem")
	case "cert":
		return orDefault(c.TLSCert, "/root/.docker/cert.pem")
	}
	return orDefault(c.TLSKey, "/root/.docker/key.pem")
}

func systemdUnits(name string) []string {
	return []string{"/etc/systemd/system/" + name, "/lib/systemd/system/" + name, "/usr/lib/systemd/system/" + name}
}

func containerdSockets(t *Target) []string {
	out := []string{"/run/containerd/containerd.sock"}
	if c := t.Daemon.Config; c != nil {
		if c.Containerd != "" {
			out = append([]string{strings.TrimPrefix(c.Containerd, "unix://")}, out...)
		} else {
			out = append(out, path.Join(orDefault(c.ExecRoot, "/var/run/docker"), "containerd", "containerd.sock"))
		}
	}
	return out
}

// fileCheck builds a host file ownership/mode check.
func fileCheck(id, cis, title string, sev model.Severity, rule fileRule, remediation string, paths func(t *Target) ([]string, string)) Check {
	return check{
		info: Info{ID: id, CIS: cis, Title: title, Severity: sev, Scope: ScopeHost, Tags: []string{"cis", "files"},
			Rationale:   "Whoever can write these files controls the daemon's configuration, its credentials or its socket, and so the host.",
			Remediation: remediation},
		run: func(_ context.Context, t *Target) Result {
			if sk := hostOrSkip(t); sk != nil {
				return *sk
			}
			ps, why := paths(t)
			if len(ps) == 0 {
				return info("%s", why)
			}
			return checkFiles(t, ps, rule)
		},
	}
}

func hostChecks() []Check {
	rootOnly := []string{"root"}
	static := func(ps ...string) func(*Target) ([]string, string) {
		return func(*Target) ([]string, string) { return ps, "" }
	}
	tlsPaths := func(which string) func(*Target) ([]string, string) {
		return func(t *Target) ([]string, string) {
			if f := tlsFile(t, which); f != "" {
				return []string{f}, ""
			}
			if t.Daemon.Config == nil {
				return nil, "TLS settings unknown: " + t.Daemon.ConfigReason
			}
			return nil, "TLS is not configured on the daemon; no file to check"
		}
	}
	return []Check{
		fileCheck("LD-HST-201", "3.15,3.16", "The Docker socket is root:docker and mode 660 or stricter", model.SeverityHigh,
			fileRule{groups: []string{"root", "docker"}, maxMode: 0o660}, "chown root:docker SOCKET && chmod 660 SOCKET",
			func(t *Target) ([]string, string) { return daemonSockets(t), "" }),
		fileCheck("LD-HST-202", "3.17,3.18", "daemon.json is root:root and mode 644 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o644}, "chown root:root /etc/docker/daemon.json && chmod 644 /etc/docker/daemon.json",
			func(t *Target) ([]string, string) { return []string{configFile(t)}, "" }),
		fileCheck("LD-HST-203", "3.5,3.6", "/etc/docker is root:root and mode 755 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o755}, "chown root:root /etc/docker && chmod 755 /etc/docker",
			static("/etc/docker")),
		fileCheck("LD-HST-204", "3.9,3.10", "The TLS CA certificate is root:root and mode 444 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o444}, "chown root:root CAFILE && chmod 444 CAFILE (the file named by \"tlscacert\")",
			tlsPaths("ca")),
		fileCheck("LD-HST-205", "3.11,3.12", "The daemon's TLS certificate is root:root and mode 444 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o444}, "chown root:root CERT && chmod 444 CERT (the file named by \"tlscert\")",
			tlsPaths("cert")),
		fileCheck("LD-HST-206", "3.13,3.14", "The daemon's TLS key is root:root and mode 400", model.SeverityHigh,
			fileRule{groups: rootOnly, maxMode: 0o400}, "chown root:root KEY && chmod 400 KEY (the file named by \"tlskey\")",
			tlsPaths("key")),
		fileCheck("LD-HST-207", "3.7,3.8", "Registry certificates are root:root and mode 444 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o444}, "chown root:root /etc/docker/certs.d/*/* && chmod 444 /etc/docker/certs.d/*/*",
			func(t *Target) ([]string, string) {
				var ps []string
				dirs, _ := os.ReadDir(t.Host.path("/etc/docker/certs.d"))
				for _, d := range dirs {
					if !d.IsDir() {
						continue
					}
					files, _ := os.ReadDir(t.Host.path("/etc/docker/certs.d/" + d.Name()))
					for _, f := range files {
						if !f.IsDir() {
							ps = append(ps, "/etc/docker/certs.d/"+d.Name()+"/"+f.Name())
						}
					}
				}
				return ps, "no registry certificates in /etc/docker/certs.d"
			}),
		fileCheck("LD-HST-208", "3.1,3.2", "The docker.service unit is root:root and mode 644 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o644}, "chown root:root docker.service && chmod 644 docker.service",
			static(systemdUnits("docker.service")...)),
		fileCheck("LD-HST-209", "3.3,3.4", "The docker.socket unit is root:root and mode 644 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o644}, "chown root:root docker.socket && chmod 644 docker.socket",
			static(systemdUnits("docker.socket")...)),
		fileCheck("LD-HST-210", "3.19-3.22", "Docker environment files are root:root and mode 644 or stricter", model.SeverityMedium,
			fileRule{groups: rootOnly, maxMode: 0o644}, "chown root:root /etc/default/docker /etc/sysconfig/docker && chmod 644 them",
			static("/etc/default/docker", "/etc/sysconfig/docker")),
		fileCheck("LD-HST-211", "3.23,3.24", "The containerd socket is root:root and mode 660 or stricter", model.SeverityHigh,
			fileRule{groups: rootOnly, maxMode: 0o660}, "chown root:root containerd.sock && chmod 660 containerd.sock",
			func(t *Target) ([]string, string) { return containerdSockets(t), "" }),
		check{
			info: Info{ID: "LD-HST-220", CIS: "1.1.1", Title: "Docker's data root is on its own partition", Severity: model.SeverityLow,
				Scope: ScopeHost, Tags: []string{"cis", "storage"},
				Rationale:   "Containers filling Docker's data root must not fill the host's root filesystem.",
				Remediation: "mount a dedicated filesystem at the data root (/var/lib/docker, or \"data-root\" in daemon.json)"},
			run: func(_ context.Context, t *Target) Result {
				if sk := hostOrSkip(t); sk != nil {
					return *sk
				}
				return partitionResult(t)
			},
		},
		auditRuleCheck("LD-HST-221", "1.1.3", "Audit rules watch the dockerd binary", func(t *Target) []string {
			var ps []string
			if t.Host.DaemonPID > 0 {
				if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", t.Host.DaemonPID)); err == nil {
					ps = append(ps, strings.TrimSuffix(exe, " (deleted)"))
				}
			}
			return append(ps, hostBinaries(t, "dockerd")...)
		}),
		auditRuleCheck("LD-HST-222", "1.1.4-1.1.13", "Audit rules watch Docker's files and directories", func(t *Target) []string {
			ps := []string{orDefault(t.Daemon.Info.DockerRootDir, "/var/lib/docker"), "/etc/docker", "/run/containerd", "/etc/default/docker",
				"/etc/sysconfig/docker", configFile(t), "/etc/containerd/config.toml"}
			ps = append(ps, systemdUnits("docker.service")...)
			ps = append(ps, systemdUnits("docker.socket")...)
			ps = append(ps, containerdSockets(t)...)
			return existing(t, ps)
		}),
		auditRuleCheck("LD-HST-223", "1.1.14-1.1.18", "Audit rules watch containerd and runc binaries", func(t *Target) []string {
			return hostBinaries(t, "containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "runc")
		}),
		check{
			info: Info{ID: "LD-HST-224", CIS: "1.1.2", Title: "Only trusted users control the Docker daemon", Severity: model.SeverityMedium,
				Scope: ScopeHost, Tags: []string{"cis", "users"},
				Rationale:   "Members of the docker group are root on the host in all but name.",
				Remediation: "gpasswd -d USER docker for every user who should not be root"},
			run: func(_ context.Context, t *Target) Result {
				if sk := hostOrSkip(t); sk != nil {
					return *sk
				}
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
						return info("group docker (gid %s) members: %s — each is effectively root; confirm they are trusted", f[2], f[3])
					}
				}
				return pass("no docker group in /etc/group")
			},
		},
	}
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

func auditRuleCheck(id, cis, title string, paths func(t *Target) []string) Check {
	const rem = "add \"-w PATH -k docker\" to /etc/audit/rules.d/docker.rules for each path listed, then augenrules --load"
	return check{
		info: Info{ID: id, CIS: cis, Title: title, Severity: model.SeverityLow, Scope: ScopeHost, Tags: []string{"cis", "auditd"},
			Rationale:   "Audit records of changes to Docker's binaries and files are what an investigation of a compromise starts from.",
			Remediation: rem},
		run: func(_ context.Context, t *Target) Result {
			if sk := hostOrSkip(t); sk != nil {
				return *sk
			}
			ps := dedupe(paths(t))
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
		},
	}
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
