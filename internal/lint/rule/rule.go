// Package rule is the one list of `lockdown lint` rules (Dockerfile,
// Compose, Kubernetes) with their fixed descriptions, and the Hit a rule
// reports. The file-type packages (dockerfile, compose, kube) find hits;
// package lint turns them into model.Findings with the rule's text.
package rule

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
	"github.com/lockdown-sec/lockdown/internal/posture"
)

// Scopes: the file type a rule reads.
const (
	ScopeDockerfile = "dockerfile"
	ScopeCompose    = "compose"
	ScopeKubernetes = "kubernetes"
)

// Pod Security Standards levels.
const (
	LevelPrivileged = "privileged"
	LevelBaseline   = "baseline"
	LevelRestricted = "restricted"
)

// Rule is one lint rule: its check.Info plus how it maps to the rules of
// other tools (for the README and for --check/--skip by their names).
type Rule struct {
	check.Info
	// PSS is the Pod Security Standards control name ("Privileged
	// Containers") and PSSLevel its level, for the Kubernetes PSS rules.
	PSS, PSSLevel string
	// Hadolint lists the hadolint rule IDs the rule covers ("DL3006").
	Hadolint []string
	// Kyverno names the Kyverno policy (kyverno/policies) that checks the
	// same thing, Gatekeeper the gatekeeper-library template.
	Kyverno, Gatekeeper string
}

// Hit is one rule violation found in a file.
type Hit struct {
	ID string
	// Path is the field path in the document (map keys as strings, list
	// indexes as ints) for YAML inputs; the lint package turns it into a
	// line. Line, when set, is used as it is (Dockerfiles).
	Path []any
	Line int
	// Subject names what is wrong: "stage 1 (build)", "service web",
	// "Deployment default/web".
	Subject string
	// Evidence is what was seen, secrets redacted.
	Evidence string
	// Fix, when set, is this hit's own fix (with its real values) in place
	// of the rule's remediation, which can only give an example.
	Fix string
}

// Error is a file the linter cannot read as its type: the file, the
// line when known (0 otherwise) and what is wrong.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// PathString renders a field path: spec.containers[0].securityContext.
func PathString(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(p))
			b.WriteByte(']')
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

// Infos returns the check.Info of every rule, in list order, with the
// selection tags filled in: the PSS level ("pss-baseline"), "pss", and the
// hadolint IDs, so `--skip DL3006` and `--check pss-restricted` work.
func Infos() []check.Info {
	all := All()
	out := make([]check.Info, len(all))
	for i, r := range all {
		out[i] = r.Info
	}
	return out
}

// ByID returns the rule with id.
func ByID(id string) (Rule, bool) {
	for _, r := range all {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// All returns every rule, in list order (a copy).
func All() []Rule {
	out := make([]Rule, len(all))
	for i, r := range all {
		r.Tags = slices.Clone(r.Tags)
		if r.PSSLevel != "" {
			r.Tags = append(r.Tags, "pss", "pss-"+r.PSSLevel)
		}
		for _, h := range r.Hadolint {
			r.Tags = append(r.Tags, h)
		}
		out[i] = r
	}
	return out
}

// Level returns the IDs of the PSS rules a pod must pass at level
// (baseline: the baseline controls; restricted: baseline and restricted;
// privileged: none).
func Level(level string) []string {
	var out []string
	for _, r := range all {
		switch {
		case r.PSSLevel == "":
		case level == LevelRestricted, level == LevelBaseline && r.PSSLevel == LevelBaseline:
			out = append(out, r.ID)
		}
	}
	return out
}

// ParseLevel reads a PSS level name.
func ParseLevel(s string) (string, bool) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case LevelPrivileged, LevelBaseline, LevelRestricted:
		return l, true
	}
	return "", false
}

const (
	crit = model.SeverityCritical
	high = model.SeverityHigh
	med  = model.SeverityMedium
	low  = model.SeverityLow
)

func info(id, scope, cis, title string, sev model.Severity, tags []string, rationale, remediation string) check.Info {
	return check.Info{ID: id, CIS: cis, Title: title, Severity: sev, Scope: scope, Tags: tags, Rationale: rationale, Remediation: remediation}
}

func df(id, cis, title string, sev model.Severity, tags []string, rationale, remediation string) check.Info {
	return info(id, ScopeDockerfile, cis, title, sev, tags, rationale, remediation)
}

func cmps(id, cis, title string, sev model.Severity, tags []string, rationale, remediation string) check.Info {
	return info(id, ScopeCompose, cis, title, sev, tags, rationale, remediation)
}

func k8s(id, title string, sev model.Severity, tags []string, rationale, remediation string) check.Info {
	return info(id, ScopeKubernetes, "", title, sev, tags, rationale, remediation)
}

// Rule IDs the file-type packages report.
const (
	DFUser            = "LD-DF-101"
	DFHealthcheck     = "LD-DF-102"
	DFAdd             = "LD-DF-103"
	DFAddURL          = "LD-DF-104"
	DFUpdateAlone     = "LD-DF-105"
	DFSecretEnv       = "LD-DF-106"
	DFSecretFile      = "LD-DF-107"
	DFUntagged        = "LD-DF-108"
	DFLatest          = "LD-DF-109"
	DFNoDigest        = "LD-DF-110"
	DFPipeShell       = "LD-DF-111"
	DFSetuid          = "LD-DF-112"
	DFSudo            = "LD-DF-113"
	DFAptPin          = "LD-DF-114"
	DFApkPin          = "LD-DF-115"
	DFPipPin          = "LD-DF-116"
	DFNoRecommends    = "LD-DF-117"
	DFInsecureFetch   = "LD-DF-118"
	DFCopyFromUnknown = "LD-DF-119"

	CmpPrivileged     = "LD-CMP-201"
	CmpHostNamespace  = "LD-CMP-202"
	CmpDockerSock     = "LD-CMP-203"
	CmpSensitiveMount = "LD-CMP-204"
	CmpCapAdd         = "LD-CMP-205"
	CmpNetRaw         = "LD-CMP-206"
	CmpReadOnly       = "LD-CMP-207"
	CmpMemory         = "LD-CMP-208"
	CmpCPU            = "LD-CMP-209"
	CmpPids           = "LD-CMP-210"
	CmpUser           = "LD-CMP-211"
	CmpPrivPort       = "LD-CMP-212"
	CmpAllInterfaces  = "LD-CMP-213"
	CmpSecretEnv      = "LD-CMP-214"
	CmpUnconfined     = "LD-CMP-215"
	CmpNoNewPrivs     = "LD-CMP-216"
	CmpDevices        = "LD-CMP-217"
	CmpImageTag       = "LD-CMP-218"

	K8sHostProcess     = "LD-K8S-301"
	K8sHostNamespaces  = "LD-K8S-302"
	K8sPrivileged      = "LD-K8S-303"
	K8sCapsBaseline    = "LD-K8S-304"
	K8sHostPath        = "LD-K8S-305"
	K8sHostPorts       = "LD-K8S-306"
	K8sAppArmor        = "LD-K8S-307"
	K8sSELinux         = "LD-K8S-308"
	K8sProcMount       = "LD-K8S-309"
	K8sSeccompBaseline = "LD-K8S-310"
	K8sSysctls         = "LD-K8S-311"
	K8sVolumeTypes     = "LD-K8S-321"
	K8sPrivEscalation  = "LD-K8S-322"
	K8sRunAsNonRoot    = "LD-K8S-323"
	K8sRunAsUser       = "LD-K8S-324"
	K8sSeccomp         = "LD-K8S-325"
	K8sCapsRestricted  = "LD-K8S-326"
	K8sNoNetworkPolicy = "LD-K8S-331"
	K8sNoDigest        = "LD-K8S-332"
	K8sLatest          = "LD-K8S-333"
	K8sNoLimits        = "LD-K8S-334"
	K8sReadOnlyRoot    = "LD-K8S-335"
	K8sSecretEnv       = "LD-K8S-336"
)

var all = []Rule{
	// ---- Dockerfile: CIS Docker Benchmark section 4 and hadolint's security rules.
	{Info: df(DFUser, "4.1", "The final stage runs as a non-root USER", med, []string{"cis", "user"},
		"A container whose image has no USER (or USER root) runs as root: a process escape or a writable host mount is then root on the host's files.",
		"add `USER 10001` (a numeric non-root UID) after the last step that needs root in the final stage"),
		Hadolint: []string{"DL3002"}, Kyverno: "require-run-as-nonroot"},
	{Info: df(DFHealthcheck, "4.6", "The final stage has a HEALTHCHECK", low, []string{"cis", "availability"},
		"Without a HEALTHCHECK the engine cannot tell a hung container from a healthy one, so it is never restarted or taken out of service.",
		"add `HEALTHCHECK CMD [\"/app\", \"healthcheck\"]` (a probe that exits non-zero when unhealthy), or `HEALTHCHECK NONE` to state that none applies")},
	{Info: df(DFAdd, "4.9", "COPY is used instead of ADD for local files", low, []string{"cis", "supply-chain"},
		"ADD unpacks archives and fetches URLs implicitly; COPY does only what it says, so the image holds exactly the files named.",
		"replace ADD with COPY (keep ADD only to unpack a local archive on purpose)"),
		Hadolint: []string{"DL3020"}},
	{Info: df(DFAddURL, "4.9", "Files fetched by ADD from a URL are checked", med, []string{"cis", "supply-chain"},
		"ADD URL downloads at build time without verifying what it got: a changed or hijacked file goes into the image unnoticed.",
		"add `--checksum=sha256:…` to the ADD, or download in a RUN step that verifies the checksum")},
	{Info: df(DFUpdateAlone, "4.7", "Package index updates are not alone in their RUN", med, []string{"cis", "packages"},
		"A cached `RUN apt-get update` layer is reused by later builds, so a later install gets stale package lists and misses security updates.",
		"update and install in the same RUN: `RUN apt-get update && apt-get install -y --no-install-recommends PKG && rm -rf /var/lib/apt/lists/*`")},
	{Info: df(DFSecretEnv, "4.10", "No secrets in ENV or ARG", high, []string{"cis", "secrets"},
		"ENV values and ARG values are stored in the image's config and history: anyone who can pull the image reads them.",
		"pass secrets with `RUN --mount=type=secret,id=NAME` (docker build --secret) instead of ENV/ARG")},
	{Info: df(DFSecretFile, "4.10", "No secret files are copied into the image", high, []string{"cis", "secrets"},
		"Private keys, credentials and .env files copied into a layer stay in the image even when a later step deletes them.",
		"remove the COPY/ADD of the listed files; mount them at build time with `RUN --mount=type=secret` or at run time")},
	{Info: df(DFUntagged, "4.2", "Base images are pinned to a tag or digest", med, []string{"cis", "supply-chain", "pinning"},
		"FROM without a tag means :latest: the build takes whatever the registry serves that day.",
		"pin the base image: `FROM debian:12.7-slim` or better `FROM debian:12.7-slim@sha256:…`"),
		Hadolint: []string{"DL3006"}, Kyverno: "disallow-latest-tag"},
	{Info: df(DFLatest, "4.2", "Base images do not use the latest tag", med, []string{"cis", "supply-chain", "pinning"},
		"The latest tag moves: the same Dockerfile builds different images, and a compromised latest is picked up silently.",
		"pin a version tag (and a digest): `FROM alpine:3.20@sha256:…`"),
		Hadolint: []string{"DL3007"}, Kyverno: "disallow-latest-tag"},
	{Info: df(DFNoDigest, "4.2", "Base images are pinned by digest", low, []string{"cis", "supply-chain", "pinning"},
		"A tag can be re-pointed to other content; only a digest names exactly one image.",
		"append the digest: `FROM alpine:3.20@sha256:…` (docker buildx imagetools inspect alpine:3.20 shows it)")},
	{Info: df(DFPipeShell, "4.11", "Downloads are not piped into a shell", high, []string{"cis", "supply-chain"},
		"`curl … | sh` runs whatever the server returns, unverified, with the build's privileges.",
		"download to a file, verify its checksum or signature, then run it")},
	{Info: df(DFSetuid, "4.8", "No setuid or setgid bits are set", med, []string{"cis", "privilege"},
		"setuid/setgid binaries let any user in the container run code as their owner (often root): a privilege escalation path.",
		"remove the chmod +s / 4xxx / 2xxx mode; if a binary needs a capability, grant it with setcap or at run time")},
	{Info: df(DFSudo, "", "sudo is not used", med, []string{"privilege"},
		"sudo in a Dockerfile means the image ships sudo and a sudoers setup: a privilege escalation path at run time.",
		"run the step before USER switches away from root, or use `USER root` … `USER app` around it"),
		Hadolint: []string{"DL3004"}},
	{Info: df(DFAptPin, "", "apt-get install pins package versions", low, []string{"packages", "pinning"},
		"Unpinned packages make builds unreproducible: a rebuild may pull a different (or compromised) version.",
		"pin versions: `apt-get install -y PKG=VERSION`"),
		Hadolint: []string{"DL3008"}},
	{Info: df(DFApkPin, "", "apk add pins package versions", low, []string{"packages", "pinning"},
		"Unpinned packages make builds unreproducible: a rebuild may pull a different (or compromised) version.",
		"pin versions: `apk add --no-cache PKG=VERSION`"),
		Hadolint: []string{"DL3018"}},
	{Info: df(DFPipPin, "", "pip install pins package versions", low, []string{"packages", "pinning"},
		"Unpinned packages make builds unreproducible: a rebuild may pull a different (or compromised) version.",
		"pin versions (`pip install PKG==VERSION`) or install from a hashed requirements file (`-r requirements.txt --require-hashes`)"),
		Hadolint: []string{"DL3013"}},
	{Info: df(DFNoRecommends, "", "apt-get install skips recommended packages", low, []string{"packages", "attack-surface"},
		"Recommended packages are installed by default: more software, more vulnerabilities, nothing the image asked for.",
		"add --no-install-recommends to apt-get install"),
		Hadolint: []string{"DL3015"}},
	{Info: df(DFInsecureFetch, "", "Downloads verify TLS certificates", high, []string{"supply-chain", "tls"},
		"curl -k, wget --no-check-certificate and pip --trusted-host accept any certificate: anyone on the path can replace what is downloaded.",
		"remove the flag; add the CA certificate to the build if the server uses a private CA")},
	{Info: df(DFCopyFromUnknown, "", "COPY --from names an earlier stage or a pinned image", low, []string{"supply-chain", "pinning"},
		"COPY --from=IMAGE pulls files from an image at build time: unpinned, the files change when the image does.",
		"name an earlier build stage, or pin the image by digest: `COPY --from=alpine:3.20@sha256:… /src /dst`"),
		Hadolint: []string{"DL3022"}},

	// ---- Compose: the CIS section 5 checks `audit docker` runs on live containers.
	{Info: cmps(CmpPrivileged, "5.5", "Services are not privileged", crit, []string{"cis", "privilege"},
		"A privileged container has every capability and every host device: it is root on the host.",
		"remove `privileged: true`; add only the capabilities the service needs with cap_add")},
	{Info: cmps(CmpHostNamespace, "5.10,5.16,5.17,5.21,5.31", "Services do not share the host's namespaces", high, []string{"cis", "namespaces"},
		"Sharing the host's network, PID, IPC, UTS or user namespace removes the isolation that namespace gives: the container sees and reaches the host's processes, sockets or memory.",
		"remove `network_mode: host`, `pid: host`, `ipc: host`, `uts: host` and `userns_mode: host`")},
	{Info: cmps(CmpDockerSock, "5.32", "The Docker socket is not mounted", crit, []string{"cis", "mounts", "socket"},
		"A container with the Docker (or containerd) socket can start a privileged container and own the host.",
		"remove the /var/run/docker.sock volume; use a narrowly scoped API proxy if the service must talk to Docker")},
	{Info: cmps(CmpSensitiveMount, "5.6", "No sensitive host directory is mounted", high, []string{"cis", "mounts"},
		"Mounting /, /etc, /proc, /sys, /dev, /boot, /lib or /usr gives the container the host's configuration, kernel interfaces or binaries.",
		"remove the bind mount; mount only the specific files needed, read-only (`:ro`)")},
	{Info: cmps(CmpCapAdd, "5.4", "No dangerous capabilities are added", high, []string{"cis", "capabilities"},
		"SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYS_MODULE and similar capabilities let a container escape or control the host.",
		"remove the listed capabilities from cap_add; use `cap_drop: [ALL]` and add back only what is needed")},
	{Info: cmps(CmpNetRaw, "5.4", "Capabilities are dropped (at least NET_RAW)", low, []string{"cis", "capabilities", "network"},
		"NET_RAW is in Docker's default set and lets a container forge packets and spoof ARP/DNS on its network.",
		"add `cap_drop: [ALL]` (or at least NET_RAW)")},
	{Info: cmps(CmpReadOnly, "5.13", "The root filesystem is read-only", med, []string{"cis", "filesystem"},
		"A writable root filesystem lets an intruder change the application's binaries and configuration.",
		"add `read_only: true` and `tmpfs:` or volumes for the paths the service writes")},
	{Info: cmps(CmpMemory, "5.11", "Memory is limited", med, []string{"cis", "resources"},
		"Without a memory limit one container can exhaust the host's memory (a denial of service for every other container).",
		"set `mem_limit: 512m` or `deploy.resources.limits.memory`")},
	{Info: cmps(CmpCPU, "5.12", "CPU use is limited", low, []string{"cis", "resources"},
		"Without a CPU limit one container can starve the others.",
		"set `cpus: \"1.0\"` or `deploy.resources.limits.cpus`")},
	{Info: cmps(CmpPids, "5.29", "The number of processes is limited", med, []string{"cis", "resources"},
		"Without a PIDs limit a fork bomb in one container exhausts the host's process table.",
		"set `pids_limit: 200` (or `deploy.resources.limits.pids`)")},
	{Info: cmps(CmpUser, "4.1", "Services run as a non-root user", med, []string{"cis", "user"},
		"A service without `user:` runs as the image's USER, root unless the image sets one.",
		"set `user: \"10001:10001\"` (or make sure the image sets a non-root USER)")},
	{Info: cmps(CmpPrivPort, "5.8", "No privileged port is published on every interface", med, []string{"cis", "network"},
		"Publishing a port below 1024 on 0.0.0.0 exposes a privileged service on every host interface.",
		"publish a port above 1023, bound to one address: `127.0.0.1:8443:443`")},
	{Info: cmps(CmpAllInterfaces, "5.14", "Published ports are bound to a specific interface", low, []string{"cis", "network"},
		"A port published without a host IP listens on every interface of the host, including public ones.",
		"bind the port to one address: `127.0.0.1:8080:8080`")},
	{Info: cmps(CmpSecretEnv, "4.10", "No secrets in environment", high, []string{"cis", "secrets"},
		"Literal secrets in a Compose file are in version control and in `docker inspect` output.",
		"use Compose `secrets:` (files mounted under /run/secrets) or interpolate from the environment: `${DB_PASSWORD:?}`")},
	{Info: cmps(CmpUnconfined, "5.2,5.3,5.22", "Seccomp, AppArmor and SELinux confinement is not disabled", high, []string{"cis", "seccomp", "apparmor", "selinux"},
		"seccomp:unconfined, apparmor:unconfined and label:disable remove the kernel-level confinement of the container.",
		"remove the listed security_opt entries")},
	{Info: cmps(CmpNoNewPrivs, "5.26", "The container cannot gain new privileges", med, []string{"cis", "privilege"},
		"Without no-new-privileges a setuid binary in the container can raise a process's privileges.",
		"add `security_opt: [\"no-new-privileges:true\"]`")},
	{Info: cmps(CmpDevices, "5.18", "No host devices are passed through", med, []string{"cis", "devices"},
		"A host device node in a container gives direct access to hardware or kernel interfaces (disks, /dev/mem).",
		"remove the listed `devices:` entries")},
	{Info: cmps(CmpImageTag, "4.2", "Images are pinned to a version", med, []string{"cis", "supply-chain", "pinning"},
		"An image without a tag, or with :latest, changes under the service whenever the registry's latest moves.",
		"pin a version tag and a digest: `image: postgres:16.4@sha256:…`"),
		Kyverno: "disallow-latest-tag"},

	// ---- Kubernetes: Pod Security Standards (baseline, restricted), each control by its PSS name.
	{Info: k8s(K8sHostProcess, "PSS baseline: HostProcess", high, []string{"windows"},
		"Windows HostProcess containers run directly on the node with privileged access to it.",
		"remove securityContext.windowsOptions.hostProcess (or set it false)"),
		PSS: "HostProcess", PSSLevel: LevelBaseline, Kyverno: "disallow-host-process", Gatekeeper: "k8spspprivilegedcontainer"},
	{Info: k8s(K8sHostNamespaces, "PSS baseline: Host Namespaces", high, []string{"namespaces"},
		"Sharing the node's network, PID or IPC namespace lets the pod see and reach the node's processes, sockets and shared memory.",
		"remove spec.hostNetwork, spec.hostPID and spec.hostIPC (or set them false)"),
		PSS: "Host Namespaces", PSSLevel: LevelBaseline, Kyverno: "disallow-host-namespaces", Gatekeeper: "k8spsphostnamespace"},
	{Info: k8s(K8sPrivileged, "PSS baseline: Privileged Containers", crit, []string{"privilege"},
		"A privileged container disables most isolation: it is root on the node.",
		"remove securityContext.privileged (or set it false)"),
		PSS: "Privileged Containers", PSSLevel: LevelBaseline, Kyverno: "disallow-privileged-containers", Gatekeeper: "k8spspprivilegedcontainer"},
	{Info: k8s(K8sCapsBaseline, "PSS baseline: Capabilities", high, []string{"capabilities"},
		"Capabilities beyond the default set (SYS_ADMIN, NET_ADMIN, …) let a container escape or control the node.",
		"add only capabilities of the baseline set (AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT)"),
		PSS: "Capabilities", PSSLevel: LevelBaseline, Kyverno: "disallow-capabilities", Gatekeeper: "k8spspcapabilities"},
	{Info: k8s(K8sHostPath, "PSS baseline: HostPath Volumes", high, []string{"mounts"},
		"A hostPath volume gives the pod the node's files: credentials, the container runtime socket, the kubelet's data.",
		"replace the hostPath volume with a persistentVolumeClaim, configMap, secret or emptyDir"),
		PSS: "HostPath Volumes", PSSLevel: LevelBaseline, Kyverno: "disallow-host-path", Gatekeeper: "k8spsphostfilesystem"},
	{Info: k8s(K8sHostPorts, "PSS baseline: Host Ports", med, []string{"network"},
		"A hostPort opens the port on the node's addresses, bypassing Services and often NetworkPolicies.",
		"remove ports[*].hostPort and expose the pod through a Service"),
		PSS: "Host Ports", PSSLevel: LevelBaseline, Kyverno: "disallow-host-ports", Gatekeeper: "k8spsphostnetworkingports"},
	{Info: k8s(K8sAppArmor, "PSS baseline: AppArmor", high, []string{"apparmor"},
		"An Unconfined AppArmor profile removes the runtime's default confinement.",
		"use appArmorProfile.type RuntimeDefault or Localhost (annotation: runtime/default or localhost/NAME)"),
		PSS: "AppArmor", PSSLevel: LevelBaseline, Kyverno: "restrict-apparmor-profiles", Gatekeeper: "k8spspapparmor"},
	{Info: k8s(K8sSELinux, "PSS baseline: SELinux", high, []string{"selinux"},
		"A custom SELinux user, role or a type other than the container types escapes the SELinux confinement of containers.",
		"remove seLinuxOptions.user and .role; use type container_t, container_init_t, container_kvm_t or container_engine_t (or none)"),
		PSS: "SELinux", PSSLevel: LevelBaseline, Kyverno: "disallow-selinux", Gatekeeper: "k8spspselinuxv2"},
	{Info: k8s(K8sProcMount, "PSS baseline: /proc Mount Type", high, []string{"proc"},
		"An Unmasked /proc mount exposes kernel interfaces the runtime normally masks.",
		"remove securityContext.procMount (or set it Default)"),
		PSS: "/proc Mount Type", PSSLevel: LevelBaseline, Kyverno: "disallow-proc-mount", Gatekeeper: "k8spspprocmount"},
	{Info: k8s(K8sSeccompBaseline, "PSS baseline: Seccomp", high, []string{"seccomp"},
		"An Unconfined seccomp profile lets the container make every system call, including those used in kernel exploits.",
		"use seccompProfile.type RuntimeDefault or Localhost"),
		PSS: "Seccomp", PSSLevel: LevelBaseline, Kyverno: "restrict-seccomp", Gatekeeper: "k8spspseccomp"},
	{Info: k8s(K8sSysctls, "PSS baseline: Sysctls", high, []string{"sysctls"},
		"Sysctls outside the safe, namespaced set change the node's kernel for every pod on it.",
		"set only the safe sysctls (kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_local_reserved_ports, net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl, net.ipv4.tcp_keepalive_probes)"),
		PSS: "Sysctls", PSSLevel: LevelBaseline, Kyverno: "restrict-sysctls", Gatekeeper: "k8spspforbiddensysctls"},
	{Info: k8s(K8sVolumeTypes, "PSS restricted: Volume Types", med, []string{"mounts"},
		"The restricted profile allows only volume types that cannot reach the node: configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected, secret.",
		"replace the volume with one of the allowed types (a persistentVolumeClaim for storage)"),
		PSS: "Volume Types", PSSLevel: LevelRestricted, Kyverno: "restrict-volume-types", Gatekeeper: "k8spspvolumetypes"},
	{Info: k8s(K8sPrivEscalation, "PSS restricted: Privilege Escalation", med, []string{"privilege"},
		"Unless allowPrivilegeEscalation is false, setuid binaries and file capabilities can raise a process's privileges (no_new_privs is not set).",
		"set securityContext.allowPrivilegeEscalation: false on every container"),
		PSS: "Privilege Escalation", PSSLevel: LevelRestricted, Kyverno: "disallow-privilege-escalation", Gatekeeper: "k8spspallowprivilegeescalationcontainer"},
	{Info: k8s(K8sRunAsNonRoot, "PSS restricted: Running as Non-root", med, []string{"user"},
		"Unless runAsNonRoot is true, a container may run as root (the image's default user).",
		"set spec.securityContext.runAsNonRoot: true (or on every container)"),
		PSS: "Running as Non-root", PSSLevel: LevelRestricted, Kyverno: "require-run-as-nonroot", Gatekeeper: "k8spspallowedusers"},
	{Info: k8s(K8sRunAsUser, "PSS restricted: Running as Non-root user", med, []string{"user"},
		"runAsUser: 0 runs the container as root whatever the image says.",
		"set runAsUser to a non-zero UID (or remove it and set runAsNonRoot: true)"),
		PSS: "Running as Non-root user", PSSLevel: LevelRestricted, Kyverno: "require-run-as-non-root-user", Gatekeeper: "k8spspallowedusers"},
	{Info: k8s(K8sSeccomp, "PSS restricted: Seccomp", med, []string{"seccomp"},
		"The restricted profile requires a seccomp profile: without one (or with Unconfined) every system call is allowed.",
		"set spec.securityContext.seccompProfile.type: RuntimeDefault"),
		PSS: "Seccomp", PSSLevel: LevelRestricted, Kyverno: "restrict-seccomp-strict", Gatekeeper: "k8spspseccomp"},
	{Info: k8s(K8sCapsRestricted, "PSS restricted: Capabilities", med, []string{"capabilities"},
		"The restricted profile requires dropping every capability and adding back at most NET_BIND_SERVICE.",
		"set securityContext.capabilities.drop: [\"ALL\"] and add only NET_BIND_SERVICE"),
		PSS: "Capabilities", PSSLevel: LevelRestricted, Kyverno: "require-drop-all", Gatekeeper: "k8spspcapabilities"},

	// ---- Kubernetes: beyond the PSS.
	{Info: k8s(K8sNoNetworkPolicy, "A NetworkPolicy selects the workload", med, []string{"network", "netpol"},
		"A pod no NetworkPolicy selects accepts traffic from and sends traffic to anywhere in the cluster.",
		"add a NetworkPolicy whose podSelector selects the workload (start from default-deny and allow what it needs)"),
		Kyverno: "add-networkpolicy"},
	{Info: k8s(K8sNoDigest, "Images are pinned by digest", low, []string{"supply-chain", "pinning"},
		"A tag can be re-pointed to other content; only a digest names exactly one image, the one that was scanned.",
		"reference the image by digest: `image: registry/app:1.2@sha256:…` (kustomize: images[].digest)"),
		Kyverno: "require-image-digest"},
	{Info: k8s(K8sLatest, "Images do not use the latest tag", med, []string{"supply-chain", "pinning"},
		"An image without a tag or with :latest changes under the workload; a node may run a different image than its neighbour.",
		"pin a version tag and a digest"),
		Kyverno: "disallow-latest-tag", Gatekeeper: "k8sdisallowedtags"},
	{Info: k8s(K8sNoLimits, "Containers have CPU and memory limits", low, []string{"resources"},
		"Without limits one container can exhaust the node's memory or CPU (a denial of service for its neighbours).",
		"set resources.limits.memory and resources.limits.cpu on every container"),
		Kyverno: "require-requests-limits", Gatekeeper: "k8scontainerlimits"},
	{Info: k8s(K8sReadOnlyRoot, "The root filesystem is read-only", low, []string{"filesystem"},
		"A writable root filesystem lets an intruder change the application's binaries and configuration.",
		"set securityContext.readOnlyRootFilesystem: true and mount emptyDirs where the container writes"),
		Kyverno: "require-ro-rootfs", Gatekeeper: "k8spspreadonlyrootfilesystem"},
	{Info: k8s(K8sSecretEnv, "No literal secrets in environment variables", high, []string{"secrets"},
		"Literal secret values in a manifest are in version control and readable by anyone who can read the workload.",
		"use valueFrom.secretKeyRef (or a mounted Secret volume) instead of value"),
		Kyverno: "secrets-not-from-env-vars"},
}

// SecretName reports whether a variable name says it holds a secret (see
// posture.SecretName).
func SecretName(name string) bool { return posture.SecretName(name) }

// Redact shows a secret value's length, never its content.
func Redact(v string) string {
	return "<redacted " + strconv.Itoa(len([]rune(v))) + " chars>"
}
