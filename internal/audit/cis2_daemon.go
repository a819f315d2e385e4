package audit

// CIS section 2: Docker daemon configuration. The Engine API (/info,
// /version, the default bridge network) first; daemon.json and the
// command line only for settings the API does not show.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// hardenDaemon ends every daemon.json fix: the Lockdown command that
// writes a hardened daemon.json.
const hardenDaemon = "; `lockdown harden daemon` writes a daemon.json with every hardened setting"

func daemonFix(s string) string { return s + hardenDaemon }

var rootlessInfo = Info{ID: "LD-DKR-128", CIS: "2.1", Severity: model.SeverityLow, Tags: []string{"cis", "rootless"},
	Title:       "The daemon runs as a non-root user, where possible",
	Rationale:   "A rootless daemon (Docker rootless mode, or rootless Podman) limits an escape from a container to an unprivileged user.",
	Remediation: "run the engine rootless (dockerd-rootless-setuptool.sh install, or rootless Podman) where its limits are acceptable"}

// rootless: 2.1 (manual in the benchmark: INFO when the daemon is root).
func rootless(t *Target) Result {
	if o := secOpt(t, "rootless"); o != "" {
		return pass("/info SecurityOptions: %s", o)
	}
	return info("the daemon runs as root (no name=rootless in /info SecurityOptions); rootless mode is an option where its limits (no AppArmor, slower networking) are acceptable")
}

var iccInfo = Info{ID: "LD-DKR-115", CIS: "2.2", Severity: model.SeverityMedium, Tags: []string{"cis", "network"},
	Title:       "Inter-container communication on the default bridge is restricted",
	Rationale:   "With icc on, every container on the default bridge can reach every other one on any port.",
	Remediation: daemonFix(`set "icc": false in daemon.json (dockerd --icc=false) and link containers through user-defined networks`)}

// icc: 2.2.
func icc(t *Target) Result {
	if t.Daemon.Podman {
		return notApplicable("Podman has no icc setting: containers on one network reach each other, so isolate them with separate networks (podman network create)")
	}
	br := t.Daemon.Bridge
	if br == nil {
		c := t.Daemon.Config
		switch {
		case c != nil && c.ICC != nil && !*c.ICC:
			return pass("the daemon has no default bridge network, and icc is false (%s)", cfgSources(c))
		case c != nil:
			r := info("not applicable now: the daemon has no default bridge network (--bridge=none), but icc is %s (%s): unsafe if a bridge appears", boolOrDefault(c.ICC, "true (default)"), cfgSources(c))
			return r
		}
		return info("not applicable now: the daemon has no default bridge network (--bridge=none); icc is unknown (%s): unsafe if a bridge appears with icc on", t.Daemon.ConfigReason)
	}
	v, ok := br.Options["com.docker.network.bridge.enable_icc"]
	if !ok || v == "true" {
		return fail("network %s (%s) option com.docker.network.bridge.enable_icc=%s", br.Name, br.Options["com.docker.network.bridge.name"], orDefault(v, "unset (true)"))
	}
	return pass("network %s option com.docker.network.bridge.enable_icc=%s", br.Name, v)
}

var (
	debugInfo = Info{ID: "LD-DKR-110", CIS: "2.3", Severity: model.SeverityMedium, Tags: []string{"cis", "logging"},
		Title:       "Debug mode is off",
		Rationale:   "Debug mode logs request bodies and internals, which can include secrets, and floods the log.",
		Remediation: daemonFix(`remove --debug / -D from dockerd, or set "debug": false in daemon.json`)}
	logLevelInfo = Info{ID: "LD-DKR-111", CIS: "2.3", Severity: model.SeverityLow, Tags: []string{"cis", "logging"},
		Title:       "Log level is info",
		Rationale:   "The info level records what an investigation needs without logging request details.",
		Remediation: daemonFix(`set "log-level": "info" in daemon.json (or dockerd --log-level=info)`)}
)

// debugOff: 2.3.
func debugOff(t *Target) Result {
	if t.Daemon.Info.Debug {
		return fail("/info Debug: true")
	}
	return pass("/info Debug: false")
}

// logLevel: 2.3.
func logLevel(t *Target) Result {
	if t.Daemon.Info.Debug {
		return fail("debug mode is on (/info Debug: true), which sets the log level to debug")
	}
	c, sk := configOrSkip(t, "the log level")
	if sk != nil {
		return *sk
	}
	switch lvl := strings.ToLower(c.LogLevel); lvl {
	case "", "info":
		return pass("log-level %s (%s)", orDefault(lvl, "info (default)"), cfgSources(c))
	default:
		return fail("log-level %s (%s)", lvl, cfgSources(c))
	}
}

var iptablesInfo = Info{ID: "LD-DKR-126", CIS: "2.4", Severity: model.SeverityMedium, Tags: []string{"cis", "network"},
	Title:       "Docker manages iptables",
	Rationale:   "With iptables off, icc=false and published-port rules are not enforced.",
	Remediation: daemonFix(`remove "iptables": false from daemon.json (dockerd --iptables=true)`)}

// iptables: 2.4.
func iptables(t *Target) Result {
	c, sk := configOrSkip(t, "iptables")
	if sk != nil {
		return *sk
	}
	if c.IPTables != nil && !*c.IPTables {
		return fail("iptables false (%s)", cfgSources(c))
	}
	return pass("iptables %s (%s)", boolOrDefault(c.IPTables, "true (default)"), cfgSources(c))
}

var insecureRegistryInfo = Info{ID: "LD-DKR-122", CIS: "2.5", Severity: model.SeverityHigh, Tags: []string{"cis", "registry", "tls"},
	Title:       "No insecure registries",
	Rationale:   "Images from an insecure registry can be altered in transit.",
	Remediation: daemonFix(`remove entries from "insecure-registries" in daemon.json (dockerd --insecure-registry) and give the registry a TLS certificate`)}

// noInsecureRegistry: 2.5.
func noInsecureRegistry(t *Target) Result {
	if bad := insecureRegistries(t); len(bad) > 0 {
		return fail("/info RegistryConfig insecure: %s", strings.Join(bad, ", "))
	}
	return pass("/info RegistryConfig: no insecure registry besides loopback")
}

var aufsInfo = Info{ID: "LD-DKR-127", CIS: "2.6", Severity: model.SeverityMedium, Tags: []string{"cis", "storage"},
	Title:       "The aufs storage driver is not used",
	Rationale:   "aufs is unmaintained and has known kernel crashes and security issues.",
	Remediation: daemonFix(`set "storage-driver": "overlay2" in daemon.json`)}

// noAufs: 2.6.
func noAufs(t *Target) Result {
	if t.Daemon.Info.Driver == "aufs" {
		return fail("/info Driver: aufs")
	}
	return pass("/info Driver: %s", t.Daemon.Info.Driver)
}

var tlsInfo = Info{ID: "LD-DKR-113", CIS: "2.7", Severity: model.SeverityCritical, Tags: []string{"cis", "tls", "network"},
	Title:       "The API on TCP uses TLS and verifies client certificates",
	Rationale:   "Access to the Engine API is root on the host: without TLS anyone who reaches the port controls the host, and TLS without client verification encrypts the connection but lets any client in.",
	Remediation: daemonFix(`remove the tcp:// entry from "hosts" (dockerd -H), or set "tlsverify": true with "tlscacert", "tlscert" and "tlskey" in daemon.json`)}

// tlsVerify: 2.7. A TCP listener without client verification never passes:
// plain HTTP is CRITICAL, TLS without verification HIGH.
func tlsVerify(t *Target) Result {
	if hits := apiWarnings(t, "without encryption"); len(hits) > 0 {
		return fail("/info Warnings: %s", strings.Join(hits, "; "))
	}
	if hits := apiWarnings(t, "without TLS client verification"); len(hits) > 0 {
		r := fail("/info Warnings: %s", strings.Join(hits, "; "))
		r.Severity = model.SeverityHigh
		return r
	}
	c := t.Daemon.Config
	if c == nil {
		if strings.HasPrefix(t.Daemon.Endpoint, "unix://") || strings.HasPrefix(t.Daemon.Endpoint, "npipe://") {
			return skip("the daemon's listeners are unknown (%s); /info warns of no plain-HTTP listener", t.Daemon.ConfigReason)
		}
		return skip("connected over %s; whether the daemon verifies client certificates is not visible without its configuration (%s)", t.Daemon.Endpoint, t.Daemon.ConfigReason)
	}
	tcp := tcpHosts(c)
	switch {
	case len(tcp) == 0:
		return pass("no TCP listener (hosts: %s)", hostsEvidence(t))
	case !c.tlsOn():
		return fail("hosts %s without tls (%s)", strings.Join(tcp, ", "), cfgSources(c))
	case !c.tlsVerifyOn():
		r := fail("hosts %s with tls but without tlsverify: any client gets in (%s)", strings.Join(tcp, ", "), cfgSources(c))
		r.Severity = model.SeverityHigh
		return r
	}
	return pass("hosts %s with tlsverify (CA %s) (%s)", strings.Join(tcp, ", "), orDefault(c.TLSCACert, "~/.docker/ca.pem"), cfgSources(c))
}

var ulimitInfo = Info{ID: "LD-DKR-119", CIS: "2.8", Severity: model.SeverityLow, Tags: []string{"cis", "resources"},
	Title:       "Default ulimits are set",
	Rationale:   "Without default ulimits, containers inherit dockerd's own (very high) limits on open files and processes.",
	Remediation: daemonFix(`set "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 4096}} in daemon.json (dockerd --default-ulimit nofile=1024:4096)`)}

// defaultUlimits: 2.8.
func defaultUlimits(t *Target) Result {
	c, sk := configOrSkip(t, "default-ulimits")
	if sk != nil {
		return *sk
	}
	if len(c.DefaultUlimits) > 0 {
		return pass("default-ulimits %s (%s)", strings.Join(c.DefaultUlimits, ", "), cfgSources(c))
	}
	return warn("no default-ulimits set (%s): containers inherit dockerd's limits", cfgSources(c))
}

var usernsInfo = Info{ID: "LD-DKR-116", CIS: "2.9", Severity: model.SeverityMedium, Tags: []string{"cis", "userns"},
	Title:       "User namespace remapping is on",
	Rationale:   "Without remapping, root in a container is root on the host once it escapes.",
	Remediation: daemonFix(`set "userns-remap": "default" in daemon.json (dockerd --userns-remap=default)`)}

// userns: 2.9.
func userns(t *Target) Result {
	if o := secOpt(t, "userns"); o != "" {
		return pass("/info SecurityOptions: %s", o)
	}
	if secOpt(t, "rootless") != "" {
		return pass("the daemon runs rootless (/info SecurityOptions: name=rootless): container root maps to an unprivileged user")
	}
	r := fail("/info SecurityOptions has no name=userns: %s", strings.Join(t.Daemon.Info.SecurityOptions, " "))
	if t.Daemon.Podman {
		r.Remediation = `run Podman rootless, or set userns = "auto" in the [containers] table of containers.conf`
	}
	return r
}

var cgroupParentInfo = Info{ID: "LD-DKR-125", CIS: "2.10", Severity: model.SeverityLow, Tags: []string{"cis", "resources"},
	Title:       "The default cgroup parent is the default",
	Rationale:   "A custom cgroup parent moves every container's limits under another hierarchy; make sure that is intended.",
	Remediation: daemonFix(`remove "cgroup-parent" from daemon.json (dockerd --cgroup-parent) unless it is intended`)}

// daemonCgroupParent: 2.10.
func daemonCgroupParent(t *Target) Result {
	c, sk := configOrSkip(t, "cgroup-parent")
	if sk != nil {
		return *sk
	}
	if c.CgroupParent == "" {
		return pass("cgroup-parent unset: default (/docker for cgroupfs, system.slice for systemd; driver %s) (%s)", t.Daemon.Info.CgroupDriver, cfgSources(c))
	}
	return warn("cgroup-parent %s (%s): confirm it is intended", c.CgroupParent, cfgSources(c))
}

var baseDeviceInfo = Info{ID: "LD-DKR-129", CIS: "2.11", Severity: model.SeverityLow, Tags: []string{"cis", "storage"},
	Title:       "The base device size is not changed",
	Rationale:   "A larger dm.basesize lets every container grow its filesystem beyond what the host planned for (devicemapper).",
	Remediation: daemonFix(`remove dm.basesize from "storage-opts" in daemon.json (dockerd --storage-opt) unless it is needed`)}

// baseDeviceSize: 2.11.
func baseDeviceSize(t *Target) Result {
	c, sk := configOrSkip(t, "storage-opts")
	if sk != nil {
		return *sk
	}
	for _, o := range c.StorageOpts {
		if k, v, _ := strings.Cut(o, "="); strings.EqualFold(strings.TrimSpace(k), "dm.basesize") {
			return warn("storage-opts dm.basesize=%s (%s): confirm it is needed", v, cfgSources(c))
		}
	}
	if d := t.Daemon.Info.Driver; d != "devicemapper" {
		return pass("no dm.basesize in storage-opts; the storage driver is %s, which has no base device (%s)", orDefault(d, "unknown"), cfgSources(c))
	}
	return pass("no dm.basesize in storage-opts (%s)", cfgSources(c))
}

var authzInfo = Info{ID: "LD-DKR-121", CIS: "2.12", Severity: model.SeverityMedium, Tags: []string{"cis", "authz"},
	Title:       "An authorization plugin controls API access",
	Rationale:   "Without an authorization plugin, anyone who can reach the API can do everything.",
	Remediation: daemonFix(`set "authorization-plugins": ["PLUGIN"] in daemon.json (dockerd --authorization-plugin=PLUGIN)`)}

// authzPlugin: 2.12.
func authzPlugin(t *Target) Result {
	if t.Daemon.Podman {
		return notApplicable("Podman has no authorization plugins: who can open its socket is the control")
	}
	if a := t.Daemon.Info.Plugins.Authorization; len(a) > 0 {
		return pass("/info Plugins.Authorization: %s", strings.Join(a, ", "))
	}
	if c := t.Daemon.Config; c != nil && len(c.AuthorizationPlugins) > 0 {
		return pass("authorization-plugins %s (%s)", strings.Join(c.AuthorizationPlugins, ", "), cfgSources(c))
	}
	return fail("/info Plugins.Authorization is empty")
}

var logDriverInfo = Info{ID: "LD-DKR-120", CIS: "2.13", Severity: model.SeverityLow, Tags: []string{"cis", "logging"},
	Title:       "Container logs go to a central logging driver",
	Rationale:   "Logs kept only on the host are lost with it and can be altered by whoever compromises it.",
	Remediation: daemonFix(`set "log-driver": "syslog" (or journald, fluentd, gelf, …) with "log-opts" in daemon.json`)}

// centralLogging: 2.13.
func centralLogging(t *Target) Result {
	switch d := t.Daemon.Info.LoggingDriver; d {
	case "none":
		return fail("/info LoggingDriver: none (container logs are discarded)")
	case "json-file", "local", "k8s-file", "":
		r := warn("/info LoggingDriver: %s (logs stay on the host)", orDefault(d, "unknown"))
		if t.Daemon.Podman {
			r.Remediation = `set log_driver = "journald" in the [containers] table of containers.conf and forward the journal`
		}
		return r
	default:
		return pass("/info LoggingDriver: %s", d)
	}
}

var daemonNNPInfo = Info{ID: "LD-DKR-124", CIS: "2.14", Severity: model.SeverityMedium, Tags: []string{"cis", "privileges"},
	Title:       "Containers cannot gain new privileges by default",
	Rationale:   "no-new-privileges stops setuid binaries and file capabilities from raising a process's privileges.",
	Remediation: daemonFix(`set "no-new-privileges": true in daemon.json (dockerd --no-new-privileges)`)}

// daemonNoNewPrivileges: 2.14.
func daemonNoNewPrivileges(t *Target) Result {
	if o := secOpt(t, "no-new-privileges"); o != "" {
		return pass("/info SecurityOptions: %s", o)
	}
	c, sk := configOrSkip(t, "no-new-privileges")
	if sk != nil {
		return *sk
	}
	if c.NoNewPrivileges != nil && *c.NoNewPrivileges {
		return pass("no-new-privileges true (%s)", cfgSources(c))
	}
	return fail("no-new-privileges %s (%s)", boolOrDefault(c.NoNewPrivileges, "false (default)"), cfgSources(c))
}

var liveRestoreInfo = Info{ID: "LD-DKR-117", CIS: "2.15", Severity: model.SeverityLow, Tags: []string{"cis", "availability"},
	Title:       "Live restore is on",
	Rationale:   "Live restore keeps containers running while the daemon restarts or is upgraded, so security updates need no downtime.",
	Remediation: daemonFix(`set "live-restore": true in daemon.json (dockerd --live-restore)`)}

// liveRestore: 2.15.
func liveRestore(t *Target) Result {
	if t.Daemon.Podman {
		return pass("Podman runs each container under its own conmon: containers outlive the API service")
	}
	if t.Daemon.Info.LiveRestoreEnabled {
		return pass("/info LiveRestoreEnabled: true")
	}
	if t.Daemon.Swarm != nil {
		return notApplicable("live restore cannot be combined with swarm mode (the engine is a swarm %s)", t.Daemon.Swarm.role())
	}
	return fail("/info LiveRestoreEnabled: false")
}

var userlandProxyInfo = Info{ID: "LD-DKR-118", CIS: "2.16", Severity: model.SeverityLow, Tags: []string{"cis", "network"},
	Title:       "The userland proxy is off",
	Rationale:   "docker-proxy is a userspace process per published port; hairpin NAT in iptables is smaller attack surface.",
	Remediation: daemonFix(`set "userland-proxy": false in daemon.json (dockerd --userland-proxy=false)`)}

// userlandProxy: 2.16.
func userlandProxy(t *Target) Result {
	c, sk := configOrSkip(t, "userland-proxy")
	if sk != nil {
		return *sk
	}
	if c.UserlandProxy != nil && !*c.UserlandProxy {
		return pass("userland-proxy false (%s)", cfgSources(c))
	}
	return fail("userland-proxy %s (%s)", boolOrDefault(c.UserlandProxy, "true (default)"), cfgSources(c))
}

var daemonSeccompInfo = Info{ID: "LD-DKR-123", CIS: "2.17", Severity: model.SeverityHigh, Tags: []string{"cis", "seccomp"},
	Title:       "Seccomp is on daemon-wide",
	Rationale:   "The default seccomp profile blocks about 44 dangerous system calls for every container.",
	Remediation: daemonFix(`remove "seccomp-profile": "unconfined" from daemon.json (dockerd --seccomp-profile), and run a kernel with seccomp`)}

// daemonSeccomp: 2.17.
func daemonSeccomp(t *Target) Result {
	o := secOpt(t, "seccomp")
	switch {
	case o == "":
		return fail("/info SecurityOptions has no name=seccomp (kernel or build without seccomp): %s", strings.Join(t.Daemon.Info.SecurityOptions, " "))
	case strings.Contains(o, "profile=unconfined"):
		return fail("/info SecurityOptions: %s", o)
	}
	return pass("/info SecurityOptions: %s", o)
}

var experimentalInfo = Info{ID: "LD-DKR-112", CIS: "2.18", Severity: model.SeverityLow, Tags: []string{"cis"},
	Title:       "Experimental features are off",
	Rationale:   "Experimental features are not stable and not covered by security support.",
	Remediation: daemonFix(`remove --experimental from dockerd, or set "experimental": false in daemon.json`)}

// noExperimental: 2.18.
func noExperimental(t *Target) Result {
	if t.Daemon.Podman {
		return notApplicable("Podman's Docker-compatible API always reports ExperimentalBuild: true")
	}
	if t.Daemon.Info.ExperimentalBuild {
		return fail("/info ExperimentalBuild: true")
	}
	return pass("/info ExperimentalBuild: false")
}

// configOrSkip returns the daemon config, or a SKIP result saying why it
// is unknown.
func configOrSkip(t *Target, setting string) (*DaemonConfig, *Result) {
	if t.Daemon.Config != nil {
		return t.Daemon.Config, nil
	}
	r := skip("%s is not exposed by the Engine API, and the daemon's configuration could not be read: %s", setting, t.Daemon.ConfigReason)
	return nil, &r
}

func cfgSources(c *DaemonConfig) string {
	if len(c.Sources) == 0 {
		return "dockerd defaults"
	}
	return strings.Join(c.Sources, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func boolOrDefault(b *bool, def string) string {
	if b == nil {
		return def
	}
	return fmt.Sprint(*b)
}

// secOpt returns the /info SecurityOptions entry "name=NAME[,…]", or "".
func secOpt(t *Target, name string) string {
	for _, o := range t.Daemon.Info.SecurityOptions {
		if o == "name="+name || strings.HasPrefix(o, "name="+name+",") {
			return o
		}
	}
	return ""
}

// apiWarnings returns the first line of each /info warning containing s.
func apiWarnings(t *Target, s string) []string {
	var out []string
	for _, w := range t.Daemon.Info.Warnings {
		if strings.Contains(w, s) {
			first, _, _ := strings.Cut(w, "\n")
			out = append(out, strings.TrimSpace(first))
		}
	}
	return out
}

func tcpHosts(c *DaemonConfig) []string {
	var out []string
	for _, h := range c.Hosts {
		if strings.HasPrefix(h, "tcp://") || (!strings.Contains(h, "://") && strings.Contains(h, ":") && !strings.HasPrefix(h, "/")) {
			out = append(out, h)
		}
	}
	return out
}

func hostsEvidence(t *Target) string {
	if c := t.Daemon.Config; c != nil {
		if len(c.Hosts) == 0 {
			return "default unix socket"
		}
		return strings.Join(c.Hosts, ", ")
	}
	return "connected to " + t.Daemon.Endpoint
}

// insecureRegistries lists insecure registry CIDRs and names other than
// loopback (which dockerd always treats as insecure).
func insecureRegistries(t *Target) []string {
	rc := t.Daemon.Info.RegistryConfig
	if rc == nil {
		return nil
	}
	var out []string
	for _, n := range rc.InsecureRegistryCIDRs {
		if n == nil || n.IP.IsLoopback() {
			continue
		}
		out = append(out, (*n).String())
	}
	for name, ic := range rc.IndexConfigs {
		if ic != nil && !ic.Secure && !isLoopbackRegistry(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func isLoopbackRegistry(name string) bool {
	host := name
	if h, _, err := splitHostPortLoose(name); err == nil {
		host = h
	}
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}

func splitHostPortLoose(s string) (string, string, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 || strings.Count(s, ":") > 1 {
		return s, "", nil
	}
	return s[:i], s[i+1:], nil
}
