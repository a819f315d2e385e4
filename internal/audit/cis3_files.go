package audit

// CIS section 3: Docker daemon configuration files — owner, group and mode
// of the socket, daemon.json, /etc/docker, TLS material, registry
// certificates, systemd units, environment files and the containerd
// socket.

import (
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

// fileRule is an ownership and mode rule for host files: owner root, a
// group among groups, no permission bit beyond maxMode.
type fileRule struct {
	groups  []string
	maxMode fs.FileMode
}

var (
	rootDocker660 = fileRule{groups: []string{"root", "docker"}, maxMode: 0o660}
	rootOnly      = []string{"root"}
	root644       = fileRule{groups: rootOnly, maxMode: 0o644}
	root755       = fileRule{groups: rootOnly, maxMode: 0o755}
	root444       = fileRule{groups: rootOnly, maxMode: 0o444}
	root400       = fileRule{groups: rootOnly, maxMode: 0o400}
	root660       = fileRule{groups: rootOnly, maxMode: 0o660}
)

func fileInfo(id, cis, title string, sev model.Severity, remediation string) Info {
	return Info{ID: id, CIS: cis, Title: title, Severity: sev, Tags: []string{"cis", "files"},
		Rationale:   "Whoever can write these files controls the daemon's configuration, its credentials or its socket, and so the host.",
		Remediation: remediation}
}

var (
	socketFileInfo = fileInfo("LD-HST-201", "3.15,3.16", "The Docker socket is root:docker and mode 660 or stricter", model.SeverityHigh,
		"chown root:docker SOCKET && chmod 660 SOCKET")
	daemonJSONFileInfo = fileInfo("LD-HST-202", "3.17,3.18", "daemon.json is root:root and mode 644 or stricter", model.SeverityMedium,
		"chown root:root /etc/docker/daemon.json && chmod 644 /etc/docker/daemon.json")
	etcDockerInfo = fileInfo("LD-HST-203", "3.5,3.6", "/etc/docker is root:root and mode 755 or stricter", model.SeverityMedium,
		"chown root:root /etc/docker && chmod 755 /etc/docker")
	tlsCAFileInfo = fileInfo("LD-HST-204", "3.9,3.10", "The TLS CA certificate is root:root and mode 444 or stricter", model.SeverityMedium,
		`chown root:root CAFILE && chmod 444 CAFILE (the file named by "tlscacert")`)
	tlsCertFileInfo = fileInfo("LD-HST-205", "3.11,3.12", "The daemon's TLS certificate is root:root and mode 444 or stricter", model.SeverityMedium,
		`chown root:root CERT && chmod 444 CERT (the file named by "tlscert")`)
	tlsKeyFileInfo = fileInfo("LD-HST-206", "3.13,3.14", "The daemon's TLS key is root:root and mode 400", model.SeverityHigh,
		`chown root:root KEY && chmod 400 KEY (the file named by "tlskey")`)
	registryCertsInfo = fileInfo("LD-HST-207", "3.7,3.8", "Registry certificates are root:root and mode 444 or stricter", model.SeverityMedium,
		"chown root:root /etc/docker/certs.d/*/* && chmod 444 /etc/docker/certs.d/*/*")
	serviceUnitInfo = fileInfo("LD-HST-208", "3.1,3.2", "The docker.service unit is root:root and mode 644 or stricter", model.SeverityMedium,
		"chown root:root docker.service && chmod 644 docker.service")
	socketUnitInfo = fileInfo("LD-HST-209", "3.3,3.4", "The docker.socket unit is root:root and mode 644 or stricter", model.SeverityMedium,
		"chown root:root docker.socket && chmod 644 docker.socket")
	envFilesInfo = fileInfo("LD-HST-210", "3.19-3.22", "Docker environment files are root:root and mode 644 or stricter", model.SeverityMedium,
		"chown root:root /etc/default/docker /etc/sysconfig/docker && chmod 644 /etc/default/docker /etc/sysconfig/docker")
	containerdSocketInfo = fileInfo("LD-HST-211", "3.23,3.24", "The containerd socket is root:root and mode 660 or stricter", model.SeverityHigh,
		"chown root:root containerd.sock && chmod 660 containerd.sock")
)

// socketFile: 3.15, 3.16.
func socketFile(t *Target) Result { return checkFiles(t, daemonSockets(t), rootDocker660) }

// daemonJSONFile: 3.17, 3.18.
func daemonJSONFile(t *Target) Result { return checkFiles(t, []string{configFile(t)}, root644) }

// etcDockerDir: 3.5, 3.6.
func etcDockerDir(t *Target) Result { return checkFiles(t, []string{"/etc/docker"}, root755) }

// tlsCAFile: 3.9, 3.10.
func tlsCAFile(t *Target) Result { return tlsFileResult(t, "ca", root444) }

// tlsCertFile: 3.11, 3.12.
func tlsCertFile(t *Target) Result { return tlsFileResult(t, "cert", root444) }

// tlsKeyFile: 3.13, 3.14.
func tlsKeyFile(t *Target) Result { return tlsFileResult(t, "key", root400) }

// registryCerts: 3.7, 3.8.
func registryCerts(t *Target) Result {
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
	if len(ps) == 0 {
		return info("no registry certificates in /etc/docker/certs.d")
	}
	return checkFiles(t, ps, root444)
}

// serviceUnit: 3.1, 3.2.
func serviceUnit(t *Target) Result { return checkFiles(t, systemdUnits("docker.service"), root644) }

// socketUnit: 3.3, 3.4.
func socketUnit(t *Target) Result { return checkFiles(t, systemdUnits("docker.socket"), root644) }

// envFiles: 3.19 to 3.22.
func envFiles(t *Target) Result {
	return checkFiles(t, []string{"/etc/default/docker", "/etc/sysconfig/docker"}, root644)
}

// containerdSocket: 3.23, 3.24.
func containerdSocket(t *Target) Result { return checkFiles(t, containerdSockets(t), root660) }

func tlsFileResult(t *Target, which string, rule fileRule) Result {
	if f := tlsFile(t, which); f != "" {
		return checkFiles(t, []string{f}, rule)
	}
	if t.Daemon.Config == nil {
		return skip("TLS settings unknown: %s", t.Daemon.ConfigReason)
	}
	return info("TLS is not configured on the daemon; no file to check")
}

func (h *Host) path(p string) string {
	root := h.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, filepath.FromSlash(p))
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
