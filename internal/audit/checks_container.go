package audit

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// dangerousCaps are capabilities that, added to a container, give it a way
// out or control over the host.
var dangerousCaps = []string{
	"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH",
	"SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG", "NET_BROADCAST", "SYS_RESOURCE",
}

// sensitiveDirs are host paths a container must not mount (CIS 5.6).
var sensitiveDirs = []string{"/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"}

func normCap(c string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
}

// secOpts returns the container's --security-opt entries as key → value
// (both "key=value" and the old "key:value").
func secOpts(c *container.InspectResponse) map[string]string {
	out := map[string]string{}
	if c.HostConfig == nil {
		return out
	}
	for _, o := range c.HostConfig.SecurityOpt {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			k, v, ok = strings.Cut(o, ":")
		}
		if !ok {
			v = "true"
		}
		if cur, seen := out[k]; seen && k == "label" {
			v = cur + "," + v
		}
		out[k] = v
	}
	return out
}

func privileged(c *container.InspectResponse) bool {
	return c.HostConfig != nil && c.HostConfig.Privileged
}

// containerCheck is a container-scope check; the function gets the
// inspected container and never a nil HostConfig or Config.
func containerCheck(in Info, run func(t *Target, c *container.InspectResponse) Result) Check {
	in.Scope = ScopeContainer
	return check{info: in, run: func(_ context.Context, t *Target) Result {
		c := &t.Container.Inspect
		if c.ContainerJSONBase == nil || c.HostConfig == nil || c.Config == nil {
			return skip("container %s: inspect data is incomplete", t.Container.Name)
		}
		return run(t, c)
	}}
}

func containerChecks() []Check {
	return []Check{
		containerCheck(Info{ID: "LD-CTR-301", CIS: "5.5", Title: "Container is not privileged", Severity: model.SeverityCritical,
			Tags:        []string{"cis", "privileges"},
			Rationale:   "A privileged container has every capability, every device and no seccomp or AppArmor confinement: it is root on the host.",
			Remediation: "run without --privileged; add only the capabilities (--cap-add) and devices (--device) it needs"},
			func(t *Target, c *container.InspectResponse) Result {
				if privileged(c) {
					return fail("HostConfig.Privileged: true")
				}
				return pass("HostConfig.Privileged: false")
			}),
		containerCheck(Info{ID: "LD-CTR-302", CIS: "5.4", Title: "No dangerous capabilities are added", Severity: model.SeverityHigh,
			Tags:        []string{"cis", "capabilities"},
			Rationale:   "SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE and similar capabilities let a container escape or control the host.",
			Remediation: "remove --cap-add for the listed capabilities; run with --cap-drop ALL and add back only what is needed"},
			func(t *Target, c *container.InspectResponse) Result {
				if privileged(c) {
					return fail("privileged: every capability")
				}
				var bad []string
				for _, cp := range c.HostConfig.CapAdd {
					if slices.Contains(dangerousCaps, normCap(cp)) {
						bad = append(bad, normCap(cp))
					}
				}
				if len(bad) > 0 {
					return fail("HostConfig.CapAdd: %s", strings.Join(bad, ", "))
				}
				return pass("HostConfig.CapAdd: %s", listOrNone(c.HostConfig.CapAdd))
			}),
		containerCheck(Info{ID: "LD-CTR-303", CIS: "5.4", Title: "NET_RAW is dropped", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "capabilities", "network"},
			Rationale:   "NET_RAW is in Docker's default set and lets a container forge packets and spoof ARP/DNS on its network.",
			Remediation: "run with --cap-drop NET_RAW (or --cap-drop ALL)"},
			func(t *Target, c *container.InspectResponse) Result {
				if privileged(c) {
					return fail("privileged: NET_RAW is kept")
				}
				dropped := slices.ContainsFunc(c.HostConfig.CapDrop, func(s string) bool { n := normCap(s); return n == "NET_RAW" || n == "ALL" })
				readded := slices.ContainsFunc(c.HostConfig.CapAdd, func(s string) bool { n := normCap(s); return n == "NET_RAW" || n == "ALL" })
				if dropped && !readded {
					return pass("HostConfig.CapDrop: %s", strings.Join(c.HostConfig.CapDrop, ", "))
				}
				return fail("NET_RAW kept (CapDrop: %s; CapAdd: %s)", listOrNone(c.HostConfig.CapDrop), listOrNone(c.HostConfig.CapAdd))
			}),
		containerCheck(Info{ID: "LD-CTR-304", CIS: "5.2", Title: "An AppArmor profile confines the container", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "apparmor", "lsm"},
			Rationale:   "AppArmor limits what a process can reach even as root; docker-default blocks writes to /proc and /sys and mounts.",
			Remediation: "run with --security-opt apparmor=docker-default (or a custom profile: lockdown harden); on a host without AppArmor, use SELinux (--selinux-enabled) instead"},
			func(t *Target, c *container.InspectResponse) Result {
				hostHas := secOpt(t, "apparmor") != ""
				if !hostHas {
					if secOpt(t, "selinux") != "" && c.ProcessLabel != "" {
						return pass("the host kernel has no AppArmor; SELinux confines the container instead (ProcessLabel %s)", c.ProcessLabel)
					}
					r := warn("the host kernel has no AppArmor LSM (no name=apparmor in /info SecurityOptions), so no AppArmor profile can confine the container (AppArmorProfile: %q)", c.AppArmorProfile)
					r.Remediation = "enable AppArmor in the host kernel (security=apparmor) or run the daemon with SELinux (--selinux-enabled)"
					return r
				}
				switch {
				case privileged(c):
					return fail("privileged: AppArmor is off")
				case c.AppArmorProfile == "" || c.AppArmorProfile == "unconfined":
					return fail("AppArmorProfile: %q", orDefault(c.AppArmorProfile, "none"))
				}
				return pass("AppArmorProfile: %s", c.AppArmorProfile)
			}),
		containerCheck(Info{ID: "LD-CTR-305", CIS: "5.3", Title: "SELinux labelling is not disabled", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "selinux", "lsm"},
			Rationale:   "label=disable turns off SELinux separation between the container and the host.",
			Remediation: "remove --security-opt label=disable (or label:disable)"},
			func(t *Target, c *container.InspectResponse) Result {
				if l, ok := secOpts(c)["label"]; ok && strings.Contains(l, "disable") {
					h := c.HostConfig
					var why []string
					if h.Privileged {
						why = append(why, "--privileged")
					}
					if h.PidMode == "host" {
						why = append(why, "--pid host")
					}
					if h.IpcMode == "host" {
						why = append(why, "--ipc host")
					}
					if len(why) > 0 {
						r := fail("HostConfig.SecurityOpt: label=%s (set by the engine because of %s)", l, strings.Join(why, ", "))
						r.Remediation = "run without " + strings.Join(why, " and ") + ", which turn SELinux labelling off"
						return r
					}
					return fail("HostConfig.SecurityOpt: label=%s", l)
				}
				return pass("no label=disable in HostConfig.SecurityOpt (%s)", listOrNone(c.HostConfig.SecurityOpt))
			}),
		containerCheck(Info{ID: "LD-CTR-306", CIS: "5.22", Title: "Seccomp is not disabled", Severity: model.SeverityHigh,
			Tags:        []string{"cis", "seccomp"},
			Rationale:   "Without seccomp every system call, including those behind most kernel escapes, is open to the container.",
			Remediation: "remove --security-opt seccomp=unconfined (use a tailored profile: lockdown harden)"},
			func(t *Target, c *container.InspectResponse) Result {
				if privileged(c) {
					return fail("privileged: seccomp is off")
				}
				if v, ok := secOpts(c)["seccomp"]; ok && v == "unconfined" {
					return fail("HostConfig.SecurityOpt: seccomp=unconfined")
				}
				d := secOpt(t, "seccomp")
				if d == "" || strings.Contains(d, "profile=unconfined") {
					return fail("the daemon runs without seccomp (/info SecurityOptions: %s)", orDefault(d, "no name=seccomp"))
				}
				if v, ok := secOpts(c)["seccomp"]; ok {
					return pass("custom seccomp profile (%d bytes)", len(v))
				}
				return pass("the daemon's seccomp profile applies (%s)", d)
			}),
		containerCheck(Info{ID: "LD-CTR-307", CIS: "5.26", Title: "The container cannot gain new privileges", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "privileges"},
			Rationale:   "no-new-privileges stops setuid binaries and file capabilities inside the container from raising privileges.",
			Remediation: "run with --security-opt no-new-privileges (or set \"no-new-privileges\": true in daemon.json)"},
			func(t *Target, c *container.InspectResponse) Result {
				if v, ok := secOpts(c)["no-new-privileges"]; ok {
					if v == "true" {
						return pass("HostConfig.SecurityOpt: no-new-privileges")
					}
					return fail("HostConfig.SecurityOpt: no-new-privileges=%s", v)
				}
				if o := secOpt(t, "no-new-privileges"); o != "" {
					return pass("daemon default (/info SecurityOptions: %s)", o)
				}
				if dc := t.Daemon.Config; dc != nil && dc.NoNewPrivileges != nil && *dc.NoNewPrivileges {
					return pass("daemon default no-new-privileges true (%s)", cfgSources(dc))
				}
				return fail("no no-new-privileges in HostConfig.SecurityOpt (%s) and not the daemon default", listOrNone(c.HostConfig.SecurityOpt))
			}),
		containerCheck(Info{ID: "LD-CTR-308", CIS: "4.1", Title: "The container does not run as root", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "user"},
			Rationale:   "Root in a container is root on the host's kernel; one escape away from the host.",
			Remediation: "run with --user UID:GID (or set USER in the image)"},
			func(t *Target, c *container.InspectResponse) Result {
				u := c.Config.User
				if isRootUser(u) {
					return fail("Config.User: %q (root)", u)
				}
				return pass("Config.User: %s", u)
			}),
		containerCheck(Info{ID: "LD-CTR-309", CIS: "5.13", Title: "The root filesystem is read-only", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "filesystem"},
			Rationale:   "A read-only root filesystem stops an attacker from changing binaries and leaving tools behind.",
			Remediation: "run with --read-only (add --tmpfs /tmp and volumes for what must be written)"},
			func(t *Target, c *container.InspectResponse) Result {
				if c.HostConfig.ReadonlyRootfs {
					return pass("HostConfig.ReadonlyRootfs: true")
				}
				return fail("HostConfig.ReadonlyRootfs: false")
			}),
		nsCheck("LD-CTR-310", "5.10", "network", "--network host", model.SeverityHigh, func(h *container.HostConfig) string { return string(h.NetworkMode) }),
		nsCheck("LD-CTR-311", "5.16", "PID", "--pid host", model.SeverityHigh, func(h *container.HostConfig) string { return string(h.PidMode) }),
		nsCheck("LD-CTR-312", "5.17", "IPC", "--ipc host", model.SeverityHigh, func(h *container.HostConfig) string { return string(h.IpcMode) }),
		nsCheck("LD-CTR-313", "5.21", "UTS", "--uts host", model.SeverityMedium, func(h *container.HostConfig) string { return string(h.UTSMode) }),
		nsCheck("LD-CTR-314", "5.31", "user", "--userns host", model.SeverityMedium, func(h *container.HostConfig) string { return string(h.UsernsMode) }),
		containerCheck(Info{ID: "LD-CTR-315", CIS: "5.6", Title: "No sensitive host directory is mounted", Severity: model.SeverityHigh,
			Tags:        []string{"cis", "mounts"},
			Rationale:   "Mounting /, /etc, /proc, /sys, /dev, /boot, /lib or /usr gives the container the host's configuration, kernel interfaces or binaries.",
			Remediation: "remove the listed -v/--mount bind mounts; mount only the specific files needed, read-only"},
			func(t *Target, c *container.InspectResponse) Result {
				var bad []string
				for _, m := range c.Mounts {
					if m.Type != "bind" {
						continue
					}
					src := path.Clean(m.Source)
					for _, d := range sensitiveDirs {
						under := d != "/" && strings.HasPrefix(src, d+"/")
						if src == d || (under && m.RW) {
							bad = append(bad, fmt.Sprintf("%s:%s (%s)", m.Source, m.Destination, rwString(m.RW)))
							break
						}
					}
				}
				return mountResult(bad, "bind mounts", "no sensitive host directory among %d mounts", len(c.Mounts))
			}),
		containerCheck(Info{ID: "LD-CTR-316", CIS: "5.32", Title: "The Docker socket is not mounted", Severity: model.SeverityCritical,
			Tags:        []string{"cis", "mounts", "socket"},
			Rationale:   "A container with the Docker (or containerd) socket can start a privileged container and own the host.",
			Remediation: "remove the -v /var/run/docker.sock bind mount; use a narrowly scoped API proxy if the container must talk to Docker"},
			func(t *Target, c *container.InspectResponse) Result {
				socks := daemonSockets(t)
				var bad []string
				for _, m := range c.Mounts {
					src := path.Clean(m.Source)
					base := path.Base(src)
					switch {
					case base == "docker.sock" || base == "containerd.sock" || slices.Contains(socks, src):
						bad = append(bad, fmt.Sprintf("%s:%s", m.Source, m.Destination))
					case src == "/run" || src == "/var/run" || src == "/run/containerd":
						bad = append(bad, fmt.Sprintf("%s:%s (the directory holding the socket)", m.Source, m.Destination))
					}
				}
				return mountResult(bad, "mounts", "no Docker or containerd socket among %d mounts", len(c.Mounts))
			}),
		containerCheck(Info{ID: "LD-CTR-317", CIS: "5.20", Title: "No mount uses shared propagation", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "mounts"},
			Rationale:   "Shared propagation lets mounts made in the container appear on the host (and the reverse).",
			Remediation: "remove the shared/rshared propagation option from the listed mounts (use rprivate, the default)"},
			func(t *Target, c *container.InspectResponse) Result {
				var bad []string
				for _, m := range c.Mounts {
					if m.Propagation == "shared" || m.Propagation == "rshared" {
						bad = append(bad, fmt.Sprintf("%s:%s (%s)", m.Source, m.Destination, m.Propagation))
					}
				}
				return mountResult(bad, "mounts", "no shared propagation among %d mounts", len(c.Mounts))
			}),
		containerCheck(Info{ID: "LD-CTR-318", CIS: "5.18", Title: "No host devices are passed through", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "devices"},
			Rationale:   "A host device node in a container gives direct access to hardware or kernel interfaces (disks, /dev/mem).",
			Remediation: "remove --device for the listed devices"},
			func(t *Target, c *container.InspectResponse) Result {
				if privileged(c) {
					return fail("privileged: every host device")
				}
				var ds []string
				for _, d := range c.HostConfig.Devices {
					ds = append(ds, fmt.Sprintf("%s:%s:%s", d.PathOnHost, d.PathInContainer, d.CgroupPermissions))
				}
				if len(ds) > 0 {
					return fail("HostConfig.Devices: %s", strings.Join(ds, ", "))
				}
				return pass("HostConfig.Devices: none")
			}),
		containerCheck(Info{ID: "LD-CTR-319", CIS: "5.11", Title: "Memory is limited", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "resources"},
			Rationale:   "A container without a memory limit can exhaust the host's memory and take every other container down.",
			Remediation: "run with --memory (e.g. --memory 512m)"},
			func(t *Target, c *container.InspectResponse) Result {
				if m := c.HostConfig.Memory; m > 0 {
					return pass("HostConfig.Memory: %d bytes", m)
				}
				return fail("HostConfig.Memory: 0 (unlimited)")
			}),
		containerCheck(Info{ID: "LD-CTR-320", CIS: "5.12", Title: "CPU use is limited", Severity: model.SeverityLow,
			Tags:        []string{"cis", "resources"},
			Rationale:   "Without CPU shares or a quota one container can starve the others.",
			Remediation: "run with --cpus (e.g. --cpus 1) or --cpu-shares"},
			func(t *Target, c *container.InspectResponse) Result {
				h := c.HostConfig
				if h.NanoCPUs > 0 || h.CPUQuota > 0 || (h.CPUShares > 0 && h.CPUShares != 1024) {
					return pass("NanoCpus %d, CpuQuota %d, CpuShares %d", h.NanoCPUs, h.CPUQuota, h.CPUShares)
				}
				return fail("no CPU limit (NanoCpus 0, CpuQuota 0, CpuShares %d)", h.CPUShares)
			}),
		containerCheck(Info{ID: "LD-CTR-321", CIS: "5.29", Title: "The number of processes is limited", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "resources"},
			Rationale:   "Without a PIDs limit a fork bomb in one container exhausts the host's process table.",
			Remediation: "run with --pids-limit (e.g. --pids-limit 100)"},
			func(t *Target, c *container.InspectResponse) Result {
				if p := c.HostConfig.PidsLimit; p != nil && *p > 0 {
					return pass("HostConfig.PidsLimit: %d", *p)
				}
				return fail("HostConfig.PidsLimit: unlimited")
			}),
		containerCheck(Info{ID: "LD-CTR-322", CIS: "5.15", Title: "Restart policy is on-failure with at most 5 retries", Severity: model.SeverityLow,
			Tags:        []string{"cis", "availability"},
			Rationale:   "An always-restarting container that keeps failing can be abused to exhaust the host.",
			Remediation: "run with --restart on-failure:5 (or no restart policy)"},
			func(t *Target, c *container.InspectResponse) Result {
				rp := c.HostConfig.RestartPolicy
				switch rp.Name {
				case "", "no":
					return pass("RestartPolicy: no")
				case "on-failure":
					if rp.MaximumRetryCount > 0 && rp.MaximumRetryCount <= 5 {
						return pass("RestartPolicy: on-failure:%d", rp.MaximumRetryCount)
					}
					return fail("RestartPolicy: on-failure:%d (want 1 to 5)", rp.MaximumRetryCount)
				}
				return fail("RestartPolicy: %s", rp.Name)
			}),
		containerCheck(Info{ID: "LD-CTR-323", CIS: "5.27", Title: "The container has a health check", Severity: model.SeverityLow,
			Tags:        []string{"cis", "availability"},
			Rationale:   "A health check lets the engine and orchestrators notice a container that is running but broken.",
			Remediation: "run with --health-cmd (or add HEALTHCHECK to the image)"},
			func(t *Target, c *container.InspectResponse) Result {
				hc := c.Config.Healthcheck
				if hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
					return fail("Config.Healthcheck: none")
				}
				return pass("Config.Healthcheck: %s", strings.Join(hc.Test, " "))
			}),
		containerCheck(Info{ID: "LD-CTR-324", CIS: "5.8", Title: "No privileged host port is published", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "network", "ports"},
			Rationale:   "Host ports below 1024 are reserved for system services; a container must not take them.",
			Remediation: "publish on a host port of 1024 or above (-p 8080:80)"},
			func(t *Target, c *container.InspectResponse) Result {
				var bad []string
				for port, bs := range publishedPorts(c) {
					for _, b := range bs {
						if n, err := strconv.Atoi(b.HostPort); err == nil && n > 0 && n < 1024 {
							bad = append(bad, fmt.Sprintf("%s:%s->%s", orDefault(b.HostIP, "0.0.0.0"), b.HostPort, port))
						}
					}
				}
				if len(bad) > 0 {
					slices.Sort(bad)
					return fail("published: %s", strings.Join(bad, ", "))
				}
				return pass("no host port below 1024 (%s)", portsEvidence(c))
			}),
		containerCheck(Info{ID: "LD-CTR-325", CIS: "5.14", Title: "Published ports are bound to a specific interface", Severity: model.SeverityMedium,
			Tags:        []string{"cis", "network", "ports"},
			Rationale:   "A port bound to 0.0.0.0 is reachable on every interface of the host, including public ones.",
			Remediation: "publish on a specific address (-p 127.0.0.1:8080:80)"},
			func(t *Target, c *container.InspectResponse) Result {
				var bad []string
				for port, bs := range publishedPorts(c) {
					for _, b := range bs {
						if b.HostIP == "" || b.HostIP == "0.0.0.0" || b.HostIP == "::" {
							bad = append(bad, fmt.Sprintf("%s:%s->%s", orDefault(b.HostIP, "0.0.0.0"), b.HostPort, port))
						}
					}
				}
				if len(bad) > 0 {
					slices.Sort(bad)
					return fail("published on all interfaces: %s", strings.Join(bad, ", "))
				}
				return pass("no port bound on all interfaces (%s)", portsEvidence(c))
			}),
		containerCheck(Info{ID: "LD-CTR-326", CIS: "5.30", Title: "The container is not on the default bridge", Severity: model.SeverityLow,
			Tags:        []string{"cis", "network"},
			Rationale:   "Containers on docker0 share one flat network (and ICC unless disabled); user-defined networks isolate them.",
			Remediation: "docker network create APPNET and run with --network APPNET"},
			func(t *Target, c *container.InspectResponse) Result {
				mode := string(c.HostConfig.NetworkMode)
				onBridge := mode == "default" || mode == "bridge"
				if c.NetworkSettings != nil {
					if _, ok := c.NetworkSettings.Networks["bridge"]; ok {
						onBridge = true
					}
				}
				if onBridge {
					return fail("NetworkMode: %s (the default bridge)", mode)
				}
				return pass("NetworkMode: %s", mode)
			}),
	}
}

// nsCheck builds a "host namespace not shared" check.
func nsCheck(id, cis, ns, flag string, sev model.Severity, mode func(*container.HostConfig) string) Check {
	return containerCheck(Info{ID: id, CIS: cis, Title: fmt.Sprintf("The host's %s namespace is not shared", ns), Severity: sev,
		Tags:        []string{"cis", "namespaces"},
		Rationale:   fmt.Sprintf("Sharing the host's %s namespace removes the container's isolation from host processes and resources.", ns),
		Remediation: "run without " + flag},
		func(t *Target, c *container.InspectResponse) Result {
			m := mode(c.HostConfig)
			if m == "host" {
				return fail("%s mode: host", ns)
			}
			return pass("%s mode: %s", ns, orDefault(m, "private"))
		})
}

func isRootUser(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "" || name == "root" || name == "0"
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func rwString(rw bool) string {
	if rw {
		return "rw"
	}
	return "ro"
}

// publishedPorts returns the container's actual port bindings, or the
// configured ones when it is not running.
func publishedPorts(c *container.InspectResponse) map[string][]struct{ HostIP, HostPort string } {
	out := map[string][]struct{ HostIP, HostPort string }{}
	if c.NetworkSettings != nil && len(c.NetworkSettings.Ports) > 0 {
		for p, bs := range c.NetworkSettings.Ports {
			for _, b := range bs {
				out[string(p)] = append(out[string(p)], struct{ HostIP, HostPort string }{b.HostIP, b.HostPort})
			}
		}
		return out
	}
	for p, bs := range c.HostConfig.PortBindings {
		for _, b := range bs {
			out[string(p)] = append(out[string(p)], struct{ HostIP, HostPort string }{b.HostIP, b.HostPort})
		}
	}
	return out
}

func portsEvidence(c *container.InspectResponse) string {
	var s []string
	for port, bs := range publishedPorts(c) {
		for _, b := range bs {
			s = append(s, fmt.Sprintf("%s:%s->%s", orDefault(b.HostIP, "0.0.0.0"), b.HostPort, port))
		}
	}
	if len(s) == 0 {
		return "no published ports"
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}

// mountResult fails with the offending mounts, sorted (the engine lists
// mounts in map order, and baselines match on the evidence), else passes.
func mountResult(bad []string, what, passFormat string, mounts int) Result {
	if len(bad) > 0 {
		slices.Sort(bad)
		return fail("%s: %s", what, strings.Join(bad, ", "))
	}
	return pass(passFormat, mounts)
}
