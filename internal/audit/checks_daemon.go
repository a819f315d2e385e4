package audit

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/lockdown-sec/lockdown/internal/model"
)

// Daemon checks read the Engine API first (/info, /version, the default
// bridge network); daemon.json and the command line only for settings
// the API does not show.

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

// engineComponent is a version check of one engine component.
func engineComponent(id, component string, sev model.Severity, modules []string, version func(t *Target) (string, string)) Check {
	return check{
		info: Info{
			ID: id, CIS: "1.2.2", Severity: sev, Scope: ScopeDaemon, Tags: []string{"cis", "version", "vulnerability"},
			Title:       fmt.Sprintf("%s has no known vulnerabilities", component),
			Rationale:   fmt.Sprintf("Known vulnerabilities in %s are public and exploitable; the Go advisory database lists them by module (%s).", component, strings.Join(modules, ", ")),
			Remediation: fmt.Sprintf("upgrade %s to a release that fixes the listed advisories (distribution packages may carry backported fixes: check the package changelog)", component),
		},
		run: func(ctx context.Context, t *Target) Result {
			raw, where := version(t)
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
			// Without a single record for the modules, the data does not
			// cover them (a database built without the Go ecosystem): no
			// verdict, rather than a PASS that nothing was checked for.
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
			fixes := []string{}
			for i, vu := range vulns {
				ids[i] = vu.ID
				refs = append(refs, "https://pkg.go.dev/vuln/"+vu.ID)
				if vu.Fixed != "" && !slices.Contains(fixes, vu.Fixed) {
					fixes = append(fixes, vu.Fixed)
				}
			}
			slices.SortFunc(fixes, func(a, b string) int { return semver.Compare("v"+a, "v"+b) })
			r := fail("%s %s (%s, Go module version %s) is affected by %d advisories: %s", component, raw, where, v, len(vulns), strings.Join(ids, ", "))
			r.References = refs
			// The highest of the listed fixes can itself be affected by
			// advisories of a later line: recommend the lowest release
			// that no advisory affects, when the data knows one.
			clean, err := lowestUnaffected(ctx, adv, v, modules...)
			switch {
			case err != nil:
				return skip("%v", err)
			case clean != "":
				r.Remediation = fmt.Sprintf("upgrade %s to %s or later, the lowest release no known advisory affects (fixes of the listed advisories: %s)", component, clean, strings.Join(fixes, ", "))
			case len(fixes) > 0:
				r.Remediation = fmt.Sprintf("upgrade %s to the newest release: every release the advisory data knows is affected by at least one advisory (fixes of the listed advisories: %s); advisories without a fix need the mitigations they describe", component, strings.Join(fixes, ", "))
			}
			return r
		},
	}
}

// componentVersion returns the version of the named component from
// /version, or from /info's commit fields.
func componentVersion(t *Target, name string) (string, string) {
	for _, c := range t.Daemon.Version.Components {
		if strings.EqualFold(c.Name, name) {
			return c.Version, "/version components." + c.Name
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

func daemonChecks() []Check {
	return []Check{
		engineComponent("LD-DKR-101", "Docker Engine", model.SeverityHigh, []string{ModDocker, ModMoby}, func(t *Target) (string, string) {
			if v := t.Daemon.Version.Version; v != "" {
				return v, "/version"
			}
			return t.Daemon.Info.ServerVersion, "/info ServerVersion"
		}),
		engineComponent("LD-DKR-102", "containerd", model.SeverityHigh, []string{ModContainerd}, func(t *Target) (string, string) {
			return componentVersion(t, "containerd")
		}),
		engineComponent("LD-DKR-103", "runc", model.SeverityHigh, []string{ModRunc}, func(t *Target) (string, string) {
			return componentVersion(t, "runc")
		}),
		check{
			info: Info{
				ID: "LD-DKR-104", CIS: "1.2.2", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "version"},
				Title:       "Docker Engine is on the newest release line",
				Rationale:   "Only the newest release lines get security fixes; the newest line is the highest fixed version of github.com/docker/docker in the advisory data.",
				Remediation: "upgrade Docker Engine to the newest release line",
			},
			run: func(ctx context.Context, t *Target) Result {
				raw := t.Daemon.Version.Version
				if raw == "" {
					raw = t.Daemon.Info.ServerVersion
				}
				if t.Advisories == nil {
					return skip("no advisory database given (lockdown db update, or --osv-zip)")
				}
				v, ok := GoModuleVersion(ModDocker, raw)
				if !ok {
					return skip("engine version %q is not a release version", raw)
				}
				newest, err := newestFixed(ctx, t.Advisories, ModDocker)
				if err != nil {
					return skip("%v", err)
				}
				if newest == "" {
					return skip("the advisory data has no fixed version for %s", ModDocker)
				}
				line, newLine := semver.MajorMinor(v), semver.MajorMinor("v"+newest)
				if semver.Compare(line, newLine) < 0 {
					r := fail("engine %s is on the %s line; the newest release line known to the advisory data is %s (%s fixed in %s)",
						raw, strings.TrimPrefix(line, "v"), strings.TrimPrefix(newLine, "v"), ModDocker, newest)
					r.Remediation = fmt.Sprintf("upgrade Docker Engine to %s or later", strings.TrimSuffix(newest, "+incompatible"))
					return r
				}
				return pass("engine %s is on the %s line, the newest known to the advisory data (%s)", raw, strings.TrimPrefix(line, "v"), newest)
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-110", CIS: "2.3", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "logging"},
				Title:       "Debug mode is off",
				Rationale:   "Debug mode logs request bodies and internals, which can include secrets, and floods the log.",
				Remediation: `remove --debug / -D from dockerd, or set "debug": false in daemon.json`,
			},
			run: func(_ context.Context, t *Target) Result {
				if t.Daemon.Info.Debug {
					return fail("/info Debug: true")
				}
				return pass("/info Debug: false")
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-111", CIS: "2.3", Severity: model.SeverityLow, Scope: ScopeDaemon, Tags: []string{"cis", "logging"},
				Title:       "Log level is info",
				Rationale:   "The info level records what an investigation needs without logging request details.",
				Remediation: `set "log-level": "info" in daemon.json (or dockerd --log-level=info)`,
			},
			run: func(_ context.Context, t *Target) Result {
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
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-112", CIS: "2.18", Severity: model.SeverityLow, Scope: ScopeDaemon, Tags: []string{"cis"},
				Title:       "Experimental features are off",
				Rationale:   "Experimental features are not stable and not covered by security support.",
				Remediation: `remove --experimental from dockerd, or set "experimental": false in daemon.json`,
			},
			run: func(_ context.Context, t *Target) Result {
				if t.Daemon.Info.ExperimentalBuild {
					return fail("/info ExperimentalBuild: true")
				}
				return pass("/info ExperimentalBuild: false")
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-113", CIS: "2.7", Severity: model.SeverityCritical, Scope: ScopeDaemon, Tags: []string{"cis", "tls", "network"},
				Title:       "The API is not exposed on TCP without TLS",
				Rationale:   "Access to the Engine API is root on the host; without TLS anyone who reaches the port controls the host.",
				Remediation: `remove the tcp:// entry from "hosts" (dockerd -H), or add "tlsverify": true with "tlscacert", "tlscert" and "tlskey" in daemon.json`,
			},
			run: func(_ context.Context, t *Target) Result {
				if hits := apiWarnings(t, "without encryption"); len(hits) > 0 {
					return fail("/info Warnings: %s", strings.Join(hits, "; "))
				}
				if c := t.Daemon.Config; c != nil {
					if tcp := tcpHosts(c); len(tcp) > 0 && !c.tlsOn() {
						return fail("hosts %s without tls (%s)", strings.Join(tcp, ", "), cfgSources(c))
					}
				}
				return pass("no plain-HTTP TCP listener (/info Warnings has none; hosts: %s)", hostsEvidence(t))
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-114", CIS: "2.7", Severity: model.SeverityHigh, Scope: ScopeDaemon, Tags: []string{"cis", "tls", "network"},
				Title:       "TLS on the API verifies client certificates",
				Rationale:   "TLS without client verification encrypts the connection but lets any client in.",
				Remediation: `set "tlsverify": true and "tlscacert" in daemon.json (dockerd --tlsverify --tlscacert=FILE)`,
			},
			run: func(_ context.Context, t *Target) Result {
				if hits := apiWarnings(t, "without TLS client verification"); len(hits) > 0 {
					return fail("/info Warnings: %s", strings.Join(hits, "; "))
				}
				if c := t.Daemon.Config; c != nil {
					if tcp := tcpHosts(c); len(tcp) > 0 && c.tlsOn() && !c.tlsVerifyOn() {
						return fail("hosts %s with tls but without tlsverify (%s)", strings.Join(tcp, ", "), cfgSources(c))
					}
				}
				return pass("no TCP listener without client verification (hosts: %s)", hostsEvidence(t))
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-115", CIS: "2.2", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "network"},
				Title:       "Inter-container communication on the default bridge is restricted",
				Rationale:   "With icc on, every container on the default bridge can reach every other one on any port.",
				Remediation: `set "icc": false in daemon.json (dockerd --icc=false) and link containers through user-defined networks`,
			},
			run: func(_ context.Context, t *Target) Result {
				br := t.Daemon.Bridge
				if br == nil {
					return pass("the daemon has no default bridge network (--bridge=none)")
				}
				v, ok := br.Options["com.docker.network.bridge.enable_icc"]
				if !ok || v == "true" {
					return fail("network %s (%s) option com.docker.network.bridge.enable_icc=%s", br.Name, br.Options["com.docker.network.bridge.name"], orDefault(v, "unset (true)"))
				}
				return pass("network %s option com.docker.network.bridge.enable_icc=%s", br.Name, v)
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-116", CIS: "2.9", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "userns"},
				Title:       "User namespace remapping is on",
				Rationale:   "Without remapping, root in a container is root on the host once it escapes.",
				Remediation: `set "userns-remap": "default" in daemon.json (dockerd --userns-remap=default)`,
			},
			run: func(_ context.Context, t *Target) Result {
				if secOpt(t, "userns") != "" {
					return pass("/info SecurityOptions: %s", secOpt(t, "userns"))
				}
				if secOpt(t, "rootless") != "" {
					return pass("the daemon runs rootless (/info SecurityOptions: name=rootless)")
				}
				return fail("/info SecurityOptions has no name=userns: %s", strings.Join(t.Daemon.Info.SecurityOptions, " "))
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-117", CIS: "2.15", Severity: model.SeverityLow, Scope: ScopeDaemon, Tags: []string{"cis", "availability"},
				Title:       "Live restore is on",
				Rationale:   "Live restore keeps containers running while the daemon restarts or is upgraded, so security updates need no downtime.",
				Remediation: `set "live-restore": true in daemon.json (dockerd --live-restore)`,
			},
			run: func(_ context.Context, t *Target) Result {
				if t.Daemon.Info.LiveRestoreEnabled {
					return pass("/info LiveRestoreEnabled: true")
				}
				return fail("/info LiveRestoreEnabled: false")
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-118", CIS: "2.16", Severity: model.SeverityLow, Scope: ScopeDaemon, Tags: []string{"cis", "network"},
				Title:       "The userland proxy is off",
				Rationale:   "docker-proxy is a userspace process per published port; hairpin NAT in iptables is smaller attack surface.",
				Remediation: `set "userland-proxy": false in daemon.json (dockerd --userland-proxy=false)`,
			},
			run: func(_ context.Context, t *Target) Result {
				c, sk := configOrSkip(t, "userland-proxy")
				if sk != nil {
					return *sk
				}
				if c.UserlandProxy != nil && !*c.UserlandProxy {
					return pass("userland-proxy false (%s)", cfgSources(c))
				}
				return fail("userland-proxy %s (%s)", boolOrDefault(c.UserlandProxy, "true (default)"), cfgSources(c))
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-119", CIS: "2.8", Severity: model.SeverityLow, Scope: ScopeDaemon, Tags: []string{"cis", "resources"},
				Title:       "Default ulimits are set",
				Rationale:   "Without default ulimits, containers inherit dockerd's own (very high) limits on open files and processes.",
				Remediation: `set "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 4096}} in daemon.json (dockerd --default-ulimit nofile=1024:4096)`,
			},
			run: func(_ context.Context, t *Target) Result {
				c, sk := configOrSkip(t, "default-ulimits")
				if sk != nil {
					return *sk
				}
				if len(c.DefaultUlimits) > 0 {
					return pass("default-ulimits %s (%s)", strings.Join(c.DefaultUlimits, ", "), cfgSources(c))
				}
				return warn("no default-ulimits set (%s): containers inherit dockerd's limits", cfgSources(c))
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-120", CIS: "2.13", Severity: model.SeverityLow, Scope: ScopeDaemon, Tags: []string{"cis", "logging"},
				Title:       "Container logs go to a central logging driver",
				Rationale:   "Logs kept only on the host are lost with it and can be altered by whoever compromises it.",
				Remediation: `set "log-driver": "syslog" (or journald, fluentd, gelf, …) with "log-opts" in daemon.json`,
			},
			run: func(_ context.Context, t *Target) Result {
				d := t.Daemon.Info.LoggingDriver
				switch d {
				case "none":
					return fail("/info LoggingDriver: none (container logs are discarded)")
				case "json-file", "local", "":
					return warn("/info LoggingDriver: %s (logs stay on the host)", orDefault(d, "unknown"))
				}
				return pass("/info LoggingDriver: %s", d)
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-121", CIS: "2.12", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "authz"},
				Title:       "An authorization plugin controls API access",
				Rationale:   "Without an authorization plugin, anyone who can reach the API can do everything.",
				Remediation: `set "authorization-plugins": ["PLUGIN"] in daemon.json (dockerd --authorization-plugin=PLUGIN)`,
			},
			run: func(_ context.Context, t *Target) Result {
				if a := t.Daemon.Info.Plugins.Authorization; len(a) > 0 {
					return pass("/info Plugins.Authorization: %s", strings.Join(a, ", "))
				}
				return fail("/info Plugins.Authorization is empty")
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-122", CIS: "2.5", Severity: model.SeverityHigh, Scope: ScopeDaemon, Tags: []string{"cis", "registry", "tls"},
				Title:       "No insecure registries",
				Rationale:   "Images from an insecure registry can be altered in transit.",
				Remediation: `remove entries from "insecure-registries" in daemon.json (dockerd --insecure-registry) and give the registry a TLS certificate`,
			},
			run: func(_ context.Context, t *Target) Result {
				bad := insecureRegistries(t)
				if len(bad) > 0 {
					return fail("/info RegistryConfig insecure: %s", strings.Join(bad, ", "))
				}
				return pass("/info RegistryConfig: no insecure registry besides loopback")
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-123", CIS: "2.17", Severity: model.SeverityHigh, Scope: ScopeDaemon, Tags: []string{"cis", "seccomp"},
				Title:       "Seccomp is on daemon-wide",
				Rationale:   "The default seccomp profile blocks about 44 dangerous system calls for every container.",
				Remediation: `remove "seccomp-profile": "unconfined" from daemon.json (dockerd --seccomp-profile), and run a kernel with seccomp`,
			},
			run: func(_ context.Context, t *Target) Result {
				o := secOpt(t, "seccomp")
				switch {
				case o == "":
					return fail("/info SecurityOptions has no name=seccomp (kernel or build without seccomp): %s", strings.Join(t.Daemon.Info.SecurityOptions, " "))
				case strings.Contains(o, "profile=unconfined"):
					return fail("/info SecurityOptions: %s", o)
				}
				return pass("/info SecurityOptions: %s", o)
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-124", CIS: "2.14", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "privileges"},
				Title:       "Containers cannot gain new privileges by default",
				Rationale:   "no-new-privileges stops setuid binaries and file capabilities from raising a process's privileges.",
				Remediation: `set "no-new-privileges": true in daemon.json (dockerd --no-new-privileges)`,
			},
			run: func(_ context.Context, t *Target) Result {
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
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-125", CIS: "2.10", Severity: model.SeverityLow, Scope: ScopeDaemon, Tags: []string{"cis", "resources"},
				Title:       "The default cgroup parent is the default",
				Rationale:   "A custom cgroup parent moves every container's limits under another hierarchy; make sure that is intended.",
				Remediation: `remove "cgroup-parent" from daemon.json (dockerd --cgroup-parent) unless it is intended`,
			},
			run: func(_ context.Context, t *Target) Result {
				c, sk := configOrSkip(t, "cgroup-parent")
				if sk != nil {
					return *sk
				}
				if c.CgroupParent == "" {
					return pass("cgroup-parent unset: default (/docker for cgroupfs, system.slice for systemd; driver %s) (%s)", t.Daemon.Info.CgroupDriver, cfgSources(c))
				}
				return warn("cgroup-parent %s (%s): confirm it is intended", c.CgroupParent, cfgSources(c))
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-126", CIS: "2.4", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "network"},
				Title:       "Docker manages iptables",
				Rationale:   "With iptables off, icc=false and published-port rules are not enforced.",
				Remediation: `remove "iptables": false from daemon.json (dockerd --iptables=true)`,
			},
			run: func(_ context.Context, t *Target) Result {
				c, sk := configOrSkip(t, "iptables")
				if sk != nil {
					return *sk
				}
				if c.IPTables != nil && !*c.IPTables {
					return fail("iptables false (%s)", cfgSources(c))
				}
				return pass("iptables %s (%s)", boolOrDefault(c.IPTables, "true (default)"), cfgSources(c))
			},
		},
		check{
			info: Info{
				ID: "LD-DKR-127", CIS: "2.6", Severity: model.SeverityMedium, Scope: ScopeDaemon, Tags: []string{"cis", "storage"},
				Title:       "The aufs storage driver is not used",
				Rationale:   "aufs is unmaintained and has known kernel crashes and security issues.",
				Remediation: `set "storage-driver": "overlay2" in daemon.json`,
			},
			run: func(_ context.Context, t *Target) Result {
				if t.Daemon.Info.Driver == "aufs" {
					return fail("/info Driver: aufs")
				}
				return pass("/info Driver: %s", t.Daemon.Info.Driver)
			},
		},
	}
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
