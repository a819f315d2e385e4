package audit

// CIS section 5: container runtime. Every check reads the container's
// inspect data (and, for 5.7, its process list from the Engine API's top);
// AppArmor (5.2) and SELinux (5.3) are decided once for the host when its
// LSM does not have them.

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/posture"
)

// recreate words a container fix: run settings are fixed when a container
// is created, so it must be recreated with the changed docker run flags
// (or Compose keys).
func recreate(run, compose string) string {
	return "recreate the container (docker rm -f NAME, then docker run again) " + run + "; in Compose: " + compose + ", then docker compose up -d recreates it"
}

// update words a fix that `docker update` applies to the running container.
func update(flag, compose string) string {
	return "docker update " + flag + " NAME applies it now; add " + flag + " to the docker run command (Compose: " + compose + ") so that a recreated container keeps it"
}

// hardenContainer points to the Lockdown command that builds a confining
// profile for a container.
const hardenContainer = "`lockdown harden container NAME` builds and proves a profile for it"

var swarmModeInfo = Info{ID: "LD-DKR-131", CIS: "5.1", Title: "Swarm mode is not enabled unless needed", Severity: model.SeverityLow,
	Tags:        []string{"cis", "swarm"},
	Rationale:   "Swarm mode opens the cluster management ports (2377, 7946, 4789) and keeps cluster state on the host.",
	Remediation: "docker swarm leave (on a node that does not need swarm mode)"}

// swarmMode: 5.1 (INFO when active: only the operator knows whether it is
// needed).
func swarmMode(t *Target) Result {
	sw := t.Daemon.Info.Swarm
	if t.Daemon.Swarm == nil {
		return pass("swarm mode: %s", orDefault(string(sw.LocalNodeState), "not reported"))
	}
	return info("swarm mode is active: this node is a %s (node %s, %d nodes, %d managers); confirm the host needs it", t.Daemon.Swarm.role(), shortID(sw.NodeID), sw.Nodes, sw.Managers)
}

var apparmorInfo = Info{ID: "LD-CTR-304", CIS: "5.2", Title: "An AppArmor profile confines the container", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "apparmor", "lsm"},
	Rationale:   "AppArmor limits what a process can reach even as root; docker-default blocks writes to /proc and /sys and mounts.",
	Remediation: recreate("with --security-opt apparmor=docker-default (or a custom profile: "+hardenContainer+")", "security_opt: [\"apparmor=docker-default\"]")}

// apparmorGate: AppArmor checks apply only on a host whose kernel has it.
func apparmorGate(t *Target) *Result {
	if secOpt(t, "apparmor") != "" {
		return nil
	}
	r := notApplicable("the host kernel has no AppArmor LSM (no name=apparmor in /info SecurityOptions: %s), so no container on this host can have an AppArmor profile", strings.Join(t.Daemon.Info.SecurityOptions, " "))
	return &r
}

// apparmor: 5.2.
func apparmor(t *Target, c *container.InspectResponse) Result {
	switch {
	case privileged(c):
		return fail("privileged: AppArmor is off")
	case c.AppArmorProfile == "" || c.AppArmorProfile == "unconfined":
		return fail("AppArmorProfile: %q", orDefault(c.AppArmorProfile, "none"))
	}
	return pass("AppArmorProfile: %s", c.AppArmorProfile)
}

var selinuxInfo = Info{ID: "LD-CTR-305", CIS: "5.3", Title: "SELinux labelling is not disabled", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "selinux", "lsm"},
	Rationale:   "label=disable turns off SELinux separation between the container and the host.",
	Remediation: recreate("without --security-opt label=disable (and without --privileged, --pid host or --ipc host, which turn labelling off)", "remove label=disable from security_opt:")}

// selinuxGate: SELinux checks apply only when the daemon runs with SELinux.
func selinuxGate(t *Target) *Result {
	if secOpt(t, "selinux") != "" {
		return nil
	}
	r := notApplicable("the daemon does not run with SELinux (no name=selinux in /info SecurityOptions: %s), so no container on this host has SELinux labels", strings.Join(t.Daemon.Info.SecurityOptions, " "))
	return &r
}

// selinux: 5.3.
func selinux(t *Target, c *container.InspectResponse) Result {
	l, ok := secOpts(c)["label"]
	if !ok || !strings.Contains(l, "disable") {
		if c.ProcessLabel == "" {
			return fail("no SELinux process label (ProcessLabel empty; SecurityOpt: %s)", listOrNone(c.HostConfig.SecurityOpt))
		}
		return pass("ProcessLabel %s", c.ProcessLabel)
	}
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
		r.Remediation = recreate("without "+strings.Join(why, " and ")+", which turn SELinux labelling off", "remove privileged: true, pid: host and ipc: host")
		return r
	}
	return fail("HostConfig.SecurityOpt: label=%s", l)
}

var capsInfo = Info{ID: "LD-CTR-302", CIS: "5.4", Title: "No dangerous capabilities are added", Severity: model.SeverityHigh,
	Tags:        []string{"cis", "capabilities"},
	Rationale:   "SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE and similar capabilities let a container escape or control the host.",
	Remediation: recreate("with --cap-drop ALL and --cap-add for only what it needs, without the listed capabilities", "cap_drop: [ALL], and remove the listed capabilities from cap_add:")}

// noDangerousCaps: 5.4.
func noDangerousCaps(t *Target, c *container.InspectResponse) Result {
	if privileged(c) {
		return fail("privileged: every capability")
	}
	var bad []string
	for _, cp := range c.HostConfig.CapAdd {
		if posture.DangerousCap(cp) {
			bad = append(bad, posture.NormCap(cp))
		}
	}
	if len(bad) > 0 {
		return fail("HostConfig.CapAdd: %s", strings.Join(bad, ", "))
	}
	return pass("HostConfig.CapAdd: %s", listOrNone(c.HostConfig.CapAdd))
}

var netRawInfo = Info{ID: "LD-CTR-303", CIS: "5.4", Title: "NET_RAW is dropped", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "capabilities", "network"},
	Rationale:   "NET_RAW is in Docker's default set and lets a container forge packets and spoof ARP/DNS on its network.",
	Remediation: recreate("with --cap-drop NET_RAW (or --cap-drop ALL)", "cap_drop: [NET_RAW]")}

// netRawDropped: 5.4. Without a network (--network none) there is nothing
// to forge packets on: informational.
func netRawDropped(t *Target, c *container.InspectResponse) Result {
	if privileged(c) {
		return fail("privileged: NET_RAW is kept")
	}
	dropped := slices.ContainsFunc(c.HostConfig.CapDrop, func(s string) bool { n := posture.NormCap(s); return n == "NET_RAW" || n == "ALL" })
	readded := slices.ContainsFunc(c.HostConfig.CapAdd, func(s string) bool { n := posture.NormCap(s); return n == "NET_RAW" || n == "ALL" })
	if dropped && !readded {
		return pass("HostConfig.CapDrop: %s", strings.Join(c.HostConfig.CapDrop, ", "))
	}
	if c.HostConfig.NetworkMode == "none" {
		return info("NET_RAW kept, but the container has no network (NetworkMode none)")
	}
	return fail("NET_RAW kept (CapDrop: %s; CapAdd: %s)", listOrNone(c.HostConfig.CapDrop), listOrNone(c.HostConfig.CapAdd))
}

var privilegedInfo = Info{ID: "LD-CTR-301", CIS: "5.5", Title: "Container is not privileged", Severity: model.SeverityCritical,
	Tags:        []string{"cis", "privileges"},
	Rationale:   "A privileged container has every capability, every device and no seccomp or AppArmor confinement: it is root on the host.",
	Remediation: recreate("without --privileged, adding only the capabilities (--cap-add) and devices (--device) it needs", "remove privileged: true; add cap_add: and devices: entries as needed")}

// notPrivileged: 5.5.
func notPrivileged(t *Target, c *container.InspectResponse) Result {
	if privileged(c) {
		return fail("HostConfig.Privileged: true")
	}
	return pass("HostConfig.Privileged: false")
}

var sensitiveMountInfo = Info{ID: "LD-CTR-315", CIS: "5.6", Title: "No sensitive host directory is mounted", Severity: model.SeverityHigh,
	Tags:        []string{"cis", "mounts"},
	Rationale:   "Mounting /, /etc, /proc, /sys, /dev, /boot, /lib or /usr gives the container the host's configuration, kernel interfaces or binaries.",
	Remediation: recreate("without the listed -v/--mount bind mounts (mount only the files needed, read-only: -v /etc/app.conf:/etc/app.conf:ro)", "remove them from volumes:")}

// noSensitiveMount: 5.6.
func noSensitiveMount(t *Target, c *container.InspectResponse) Result {
	var bad []string
	for _, m := range c.Mounts {
		if m.Type != "bind" {
			continue
		}
		if posture.SensitiveMount(m.Source, m.RW) {
			bad = append(bad, fmt.Sprintf("%s:%s (%s)", m.Source, m.Destination, rwString(m.RW)))
		}
	}
	return mountResult(bad, "bind mounts", "no sensitive host directory among %d mounts", len(c.Mounts))
}

var sshdInfo = Info{ID: "LD-CTR-327", CIS: "5.7", Title: "No SSH server runs in the container", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "processes"},
	Rationale:   "An SSH server in a container is one more way in, with its own keys and users to manage; docker exec gives access without it.",
	Remediation: "remove sshd from the image (use docker exec, or a bastion outside the container), rebuild it, and recreate the container from the new image"}

// noSSHD: 5.7, from the container's process list: /proc on the daemon's
// host, else the Engine API's top (never an exec in the container).
func noSSHD(t *Target, c *container.InspectResponse) Result {
	ps := t.Container.Processes
	if ps == nil {
		if c.State == nil || !c.State.Running {
			return skip("the container is not running: no process list")
		}
		return skip("the engine did not list the container's processes: %s", orDefault(t.Container.TopError, "unknown error"))
	}
	col := slices.IndexFunc(ps.Titles, func(s string) bool { return s == "CMD" || s == "COMMAND" })
	pidCol := slices.Index(ps.Titles, "PID")
	if col < 0 {
		return skip("the engine's process list has no CMD column (columns: %s)", strings.Join(ps.Titles, ", "))
	}
	var bad []string
	for _, p := range ps.Processes {
		if col >= len(p) {
			continue
		}
		cmd := p[col]
		first, _, _ := strings.Cut(cmd, " ")
		if path.Base(first) == "sshd" || strings.HasPrefix(cmd, "sshd:") {
			pid := "?"
			if pidCol >= 0 && pidCol < len(p) {
				pid = p[pidCol]
			}
			bad = append(bad, fmt.Sprintf("pid %s: %s", pid, cmd))
		}
	}
	if len(bad) > 0 {
		return fail("sshd runs: %s", strings.Join(bad, "; "))
	}
	return pass("no sshd among %d processes", len(ps.Processes))
}

var privilegedPortInfo = Info{ID: "LD-CTR-324", CIS: "5.8", Title: "No privileged host port is published", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "network", "ports"},
	Rationale:   "Host ports below 1024 are reserved for system services; a container must not take them.",
	Remediation: recreate("publishing on a host port of 1024 or above (-p 8080:80)", `ports: ["8080:80"]`)}

// noPrivilegedPort: 5.8.
func noPrivilegedPort(t *Target, c *container.InspectResponse) Result {
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
}

var neededPortsInfo = Info{ID: "LD-CTR-328", CIS: "5.9", Title: "Only chosen ports are published", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "network", "ports"},
	Rationale:   "-P (--publish-all) publishes every port the image EXPOSEs, on random host ports on every interface, whether the service needs them or not.",
	Remediation: recreate("without -P/--publish-all, publishing only the ports it needs with -p 127.0.0.1:8080:80", "list only the needed ports: and drop publish_all")}

// neededPorts: 5.9.
func neededPorts(t *Target, c *container.InspectResponse) Result {
	if c.HostConfig.PublishAllPorts {
		return fail("HostConfig.PublishAllPorts: true (%s)", portsEvidence(c))
	}
	return pass("HostConfig.PublishAllPorts: false (%s)", portsEvidence(c))
}

var (
	hostNetworkInfo = nsInfo("LD-CTR-310", "5.10", "network", "--network host", "network_mode: host", model.SeverityHigh)
	hostPIDInfo     = nsInfo("LD-CTR-311", "5.16", "PID", "--pid host", "pid: host", model.SeverityHigh)
	hostIPCInfo     = nsInfo("LD-CTR-312", "5.17", "IPC", "--ipc host", "ipc: host", model.SeverityHigh)
	hostUTSInfo     = nsInfo("LD-CTR-313", "5.21", "UTS", "--uts host", "uts: host", model.SeverityMedium)
	hostUsernsInfo  = nsInfo("LD-CTR-314", "5.31", "user", "--userns host", "userns_mode: host", model.SeverityMedium)
)

func nsInfo(id, cis, ns, flag, compose string, sev model.Severity) Info {
	return Info{ID: id, CIS: cis, Title: fmt.Sprintf("The host's %s namespace is not shared", ns), Severity: sev,
		Tags:        []string{"cis", "namespaces"},
		Rationale:   fmt.Sprintf("Sharing the host's %s namespace removes the container's isolation from host processes and resources.", ns),
		Remediation: recreate("without "+flag, "remove "+compose)}
}

func nsResult(ns, mode string) Result {
	if mode == "host" {
		return fail("%s mode: host", ns)
	}
	return pass("%s mode: %s", ns, orDefault(mode, "private"))
}

// hostNetwork: 5.10.
func hostNetwork(t *Target, c *container.InspectResponse) Result {
	return nsResult("network", string(c.HostConfig.NetworkMode))
}

// hostPID: 5.16.
func hostPID(t *Target, c *container.InspectResponse) Result {
	return nsResult("PID", string(c.HostConfig.PidMode))
}

// hostIPC: 5.17.
func hostIPC(t *Target, c *container.InspectResponse) Result {
	return nsResult("IPC", string(c.HostConfig.IpcMode))
}

// hostUTS: 5.21.
func hostUTS(t *Target, c *container.InspectResponse) Result {
	return nsResult("UTS", string(c.HostConfig.UTSMode))
}

// hostUserns: 5.31.
func hostUserns(t *Target, c *container.InspectResponse) Result {
	return nsResult("user", string(c.HostConfig.UsernsMode))
}

var memoryInfo = Info{ID: "LD-CTR-319", CIS: "5.11", Title: "Memory is limited", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "resources"},
	Rationale:   "A container without a memory limit can exhaust the host's memory and take every other container down.",
	Remediation: update("--memory 512m --memory-swap 512m", "mem_limit: 512m")}

// memoryLimited: 5.11.
func memoryLimited(t *Target, c *container.InspectResponse) Result {
	if m := c.HostConfig.Memory; m > 0 {
		return pass("HostConfig.Memory: %d bytes", m)
	}
	return fail("HostConfig.Memory: 0 (unlimited)")
}

var cpuInfo = Info{ID: "LD-CTR-320", CIS: "5.12", Title: "CPU use is limited", Severity: model.SeverityLow,
	Tags:        []string{"cis", "resources"},
	Rationale:   "Without CPU shares or a quota one container can starve the others.",
	Remediation: update("--cpus 1", "cpus: 1")}

// cpuLimited: 5.12.
func cpuLimited(t *Target, c *container.InspectResponse) Result {
	h := c.HostConfig
	if h.NanoCPUs > 0 || h.CPUQuota > 0 || (h.CPUShares > 0 && h.CPUShares != 1024) {
		return pass("NanoCpus %d, CpuQuota %d, CpuShares %d", h.NanoCPUs, h.CPUQuota, h.CPUShares)
	}
	return fail("no CPU limit (NanoCpus 0, CpuQuota 0, CpuShares %d)", h.CPUShares)
}

var readOnlyInfo = Info{ID: "LD-CTR-309", CIS: "5.13", Title: "The root filesystem is read-only", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "filesystem"},
	Rationale:   "A read-only root filesystem stops an attacker from changing binaries and leaving tools behind.",
	Remediation: recreate("with --read-only --tmpfs /tmp (and volumes for what must be written)", "read_only: true and tmpfs: [/tmp]")}

// readOnlyRoot: 5.13.
func readOnlyRoot(t *Target, c *container.InspectResponse) Result {
	if c.HostConfig.ReadonlyRootfs {
		return pass("HostConfig.ReadonlyRootfs: true")
	}
	return fail("HostConfig.ReadonlyRootfs: false")
}

var interfaceInfo = Info{ID: "LD-CTR-325", CIS: "5.14", Title: "Published ports are bound to a specific interface", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "network", "ports"},
	Rationale:   "A port bound to 0.0.0.0 is reachable on every interface of the host, including public ones.",
	Remediation: recreate("publishing on a specific address (-p 127.0.0.1:8080:80)", `ports: ["127.0.0.1:8080:80"]`)}

// boundInterface: 5.14.
func boundInterface(t *Target, c *container.InspectResponse) Result {
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
}

var restartInfo = Info{ID: "LD-CTR-322", CIS: "5.15", Title: "Restart policy is on-failure with at most 5 retries", Severity: model.SeverityLow,
	Tags:        []string{"cis", "availability"},
	Rationale:   "An always-restarting container that keeps failing can be abused to exhaust the host.",
	Remediation: update("--restart on-failure:5", `restart: "on-failure:5"`)}

// restartPolicy: 5.15.
func restartPolicy(t *Target, c *container.InspectResponse) Result {
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
}

var devicesInfo = Info{ID: "LD-CTR-318", CIS: "5.18", Title: "No host devices are passed through", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "devices"},
	Rationale:   "A host device node in a container gives direct access to hardware or kernel interfaces (disks, /dev/mem).",
	Remediation: recreate("without --device for the listed devices", "remove them from devices:")}

// noDevices: 5.18.
func noDevices(t *Target, c *container.InspectResponse) Result {
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
}

var ulimitOverrideInfo = Info{ID: "LD-CTR-329", CIS: "5.19", Title: "Default ulimits are overridden only where needed", Severity: model.SeverityLow,
	Tags:        []string{"cis", "resources"},
	Rationale:   "Per-container ulimits replace the daemon's defaults; raised limits (open files, processes) weaken the protection they give.",
	Remediation: recreate("without --ulimit unless the container needs it", "remove ulimits:")}

// ulimitOverride: 5.19 (WARN: the override may be needed).
func ulimitOverride(t *Target, c *container.InspectResponse) Result {
	var us []string
	for _, u := range c.HostConfig.Ulimits {
		if u != nil {
			us = append(us, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
		}
	}
	if len(us) > 0 {
		slices.Sort(us)
		if t.Daemon.Podman {
			// Podman reports every limit it sets, its defaults included.
			return info("HostConfig.Ulimits (Podman reports its defaults too): %s", strings.Join(us, ", "))
		}
		return warn("HostConfig.Ulimits: %s: confirm they are needed", strings.Join(us, ", "))
	}
	return pass("HostConfig.Ulimits: none (the daemon's defaults apply)")
}

var propagationInfo = Info{ID: "LD-CTR-317", CIS: "5.20", Title: "No mount uses shared propagation", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "mounts"},
	Rationale:   "Shared propagation lets mounts made in the container appear on the host (and the reverse).",
	Remediation: recreate("without shared/rshared on the listed mounts (--mount …,bind-propagation=rprivate, the default)", "remove bind: {propagation: shared} from volumes:")}

// noSharedPropagation: 5.20.
func noSharedPropagation(t *Target, c *container.InspectResponse) Result {
	var bad []string
	for _, m := range c.Mounts {
		if m.Propagation == "shared" || m.Propagation == "rshared" {
			bad = append(bad, fmt.Sprintf("%s:%s (%s)", m.Source, m.Destination, m.Propagation))
		}
	}
	return mountResult(bad, "mounts", "no shared propagation among %d mounts", len(c.Mounts))
}

var seccompInfo = Info{ID: "LD-CTR-306", CIS: "5.22", Title: "Seccomp is not disabled", Severity: model.SeverityHigh,
	Tags:        []string{"cis", "seccomp"},
	Rationale:   "Without seccomp every system call, including those behind most kernel escapes, is open to the container.",
	Remediation: recreate("without --security-opt seccomp=unconfined (or with a tailored profile: "+hardenContainer+")", "remove seccomp=unconfined from security_opt:")}

// seccompOn: 5.22.
func seccompOn(t *Target, c *container.InspectResponse) Result {
	if privileged(c) {
		return fail("privileged: seccomp is off")
	}
	if v, ok := secOpts(c)["seccomp"]; ok && v == "unconfined" {
		return fail("HostConfig.SecurityOpt: seccomp=unconfined")
	}
	d := secOpt(t, "seccomp")
	if d == "" || strings.Contains(d, "profile=unconfined") {
		r := fail("the daemon runs without seccomp (/info SecurityOptions: %s)", orDefault(d, "no name=seccomp"))
		r.Remediation = daemonFix(`remove "seccomp-profile": "unconfined" from daemon.json`)
		return r
	}
	if v, ok := secOpts(c)["seccomp"]; ok {
		return pass("custom seccomp profile (%d bytes)", len(v))
	}
	return pass("the daemon's seccomp profile applies (%s)", d)
}

var cgroupInfo = Info{ID: "LD-CTR-330", CIS: "5.25", Title: "The container uses the default cgroup", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "resources"},
	Rationale:   "--cgroup-parent moves the container out of the daemon's cgroup, and with it out of the limits set there.",
	Remediation: recreate("without --cgroup-parent unless it is intended", "remove cgroup_parent:")}

// defaultCgroup: 5.25.
func defaultCgroup(t *Target, c *container.InspectResponse) Result {
	if p := c.HostConfig.CgroupParent; p != "" {
		return warn("HostConfig.CgroupParent: %s: confirm it is intended", p)
	}
	return pass("HostConfig.CgroupParent: default")
}

var nnpInfo = Info{ID: "LD-CTR-307", CIS: "5.26", Title: "The container cannot gain new privileges", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "privileges"},
	Rationale:   "no-new-privileges stops setuid binaries and file capabilities inside the container from raising privileges.",
	Remediation: recreate("with --security-opt no-new-privileges (or set \"no-new-privileges\": true in daemon.json for every container)", `security_opt: ["no-new-privileges:true"]`)}

// noNewPrivileges: 5.26.
func noNewPrivileges(t *Target, c *container.InspectResponse) Result {
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
}

var healthInfo = Info{ID: "LD-CTR-323", CIS: "5.27", Title: "The container has a health check", Severity: model.SeverityLow,
	Tags:        []string{"cis", "availability"},
	Rationale:   "A health check lets the engine and orchestrators notice a container that is running but broken.",
	Remediation: recreate("with --health-cmd CMD --health-interval 30s (or add HEALTHCHECK to the image)", "healthcheck: {test: [CMD, …], interval: 30s}")}

// healthCheck: 5.27.
func healthCheck(t *Target, c *container.InspectResponse) Result {
	hc := c.Config.Healthcheck
	if hc == nil || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
		return fail("Config.Healthcheck: none")
	}
	return pass("Config.Healthcheck: %s", strings.Join(hc.Test, " "))
}

var pidsInfo = Info{ID: "LD-CTR-321", CIS: "5.29", Title: "The number of processes is limited", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "resources"},
	Rationale:   "Without a PIDs limit a fork bomb in one container exhausts the host's process table.",
	Remediation: update("--pids-limit 100", "pids_limit: 100")}

// pidsLimited: 5.29.
func pidsLimited(t *Target, c *container.InspectResponse) Result {
	if p := c.HostConfig.PidsLimit; p != nil && *p > 0 {
		return pass("HostConfig.PidsLimit: %d", *p)
	}
	return fail("HostConfig.PidsLimit: unlimited")
}

var bridgeInfo = Info{ID: "LD-CTR-326", CIS: "5.30", Title: "The container is not on the default bridge", Severity: model.SeverityLow,
	Tags:        []string{"cis", "network"},
	Rationale:   "Containers on docker0 share one flat network (and ICC unless disabled); user-defined networks isolate them.",
	Remediation: recreate("with --network APPNET (after docker network create APPNET)", "remove network_mode: bridge (Compose puts services on a project network)")}

// notDefaultBridge: 5.30.
func notDefaultBridge(t *Target, c *container.InspectResponse) Result {
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
}

var socketMountInfo = Info{ID: "LD-CTR-316", CIS: "5.32", Title: "The Docker socket is not mounted", Severity: model.SeverityCritical,
	Tags:        []string{"cis", "mounts", "socket"},
	Rationale:   "A container with the Docker (or containerd) socket can start a privileged container and own the host.",
	Remediation: recreate("without the -v /var/run/docker.sock bind mount (use a narrowly scoped API proxy if it must talk to Docker)", "remove the socket from volumes:")}

// noSocketMount: 5.32.
func noSocketMount(t *Target, c *container.InspectResponse) Result {
	socks := daemonSockets(t)
	var bad []string
	for _, m := range c.Mounts {
		src := path.Clean(m.Source)
		base := path.Base(src)
		switch {
		case base == "docker.sock" || base == "containerd.sock" || base == "podman.sock" || slices.Contains(socks, src):
			bad = append(bad, fmt.Sprintf("%s:%s", m.Source, m.Destination))
		case src == "/run" || src == "/var/run" || src == "/run/containerd":
			bad = append(bad, fmt.Sprintf("%s:%s (the directory holding the socket)", m.Source, m.Destination))
		}
	}
	return mountResult(bad, "mounts", "no Docker or containerd socket among %d mounts", len(c.Mounts))
}

var containerUserInfo = Info{ID: "LD-CTR-308", CIS: "4.1", Title: "The container does not run as root", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "user"},
	Rationale:   "Root in a container is root on the host's kernel; one escape away from the host.",
	Remediation: recreate("with --user 1000:1000 (or set USER in the image)", `user: "1000:1000"`)}

// notRoot: 4.1 at run time.
func notRoot(t *Target, c *container.InspectResponse) Result {
	if u := c.Config.User; isRootUser(u) {
		return fail("Config.User: %q (root)", u)
	}
	return pass("Config.User: %s", c.Config.User)
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
