package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// DaemonConfig is the part of dockerd's configuration that the Engine API
// does not show (or shows only partly), read from daemon.json and the
// daemon's command line. A nil pointer or empty string means "not set":
// dockerd's default applies.
type DaemonConfig struct {
	Sources []string `json:"sources"` // files read: "/etc/docker/daemon.json", "/proc/123/cmdline"

	Hosts                []string `json:"hosts,omitempty"`
	TLS                  *bool    `json:"tls,omitempty"`
	TLSVerify            *bool    `json:"tlsverify,omitempty"`
	TLSCACert            string   `json:"tlscacert,omitempty"`
	TLSCert              string   `json:"tlscert,omitempty"`
	TLSKey               string   `json:"tlskey,omitempty"`
	ICC                  *bool    `json:"icc,omitempty"`
	IPTables             *bool    `json:"iptables,omitempty"`
	UserlandProxy        *bool    `json:"userland-proxy,omitempty"`
	NoNewPrivileges      *bool    `json:"no-new-privileges,omitempty"`
	LiveRestore          *bool    `json:"live-restore,omitempty"`
	Debug                *bool    `json:"debug,omitempty"`
	Experimental         *bool    `json:"experimental,omitempty"`
	SELinuxEnabled       *bool    `json:"selinux-enabled,omitempty"`
	LogLevel             string   `json:"log-level,omitempty"`
	LogDriver            string   `json:"log-driver,omitempty"`
	DefaultUlimits       []string `json:"default-ulimits,omitempty"` // name=soft[:hard]
	CgroupParent         string   `json:"cgroup-parent,omitempty"`
	StorageOpts          []string `json:"storage-opts,omitempty"`
	SeccompProfile       string   `json:"seccomp-profile,omitempty"`
	UsernsRemap          string   `json:"userns-remap,omitempty"`
	AuthorizationPlugins []string `json:"authorization-plugins,omitempty"`
	InsecureRegistries   []string `json:"insecure-registries,omitempty"`
	DataRoot             string   `json:"data-root,omitempty"`
	ExecRoot             string   `json:"exec-root,omitempty"`
	Containerd           string   `json:"containerd,omitempty"`
	ConfigFile           string   `json:"config-file,omitempty"` // command line only
}

// daemonJSON mirrors daemon.json for the keys the audit reads.
type daemonJSON struct {
	Hosts                []string                   `json:"hosts"`
	TLS                  *bool                      `json:"tls"`
	TLSVerify            *bool                      `json:"tlsverify"`
	TLSCACert            string                     `json:"tlscacert"`
	TLSCert              string                     `json:"tlscert"`
	TLSKey               string                     `json:"tlskey"`
	ICC                  *bool                      `json:"icc"`
	IPTables             *bool                      `json:"iptables"`
	UserlandProxy        *bool                      `json:"userland-proxy"`
	NoNewPrivileges      *bool                      `json:"no-new-privileges"`
	LiveRestore          *bool                      `json:"live-restore"`
	Debug                *bool                      `json:"debug"`
	Experimental         *bool                      `json:"experimental"`
	SELinuxEnabled       *bool                      `json:"selinux-enabled"`
	LogLevel             string                     `json:"log-level"`
	LogDriver            string                     `json:"log-driver"`
	DefaultUlimits       map[string]json.RawMessage `json:"default-ulimits"`
	CgroupParent         string                     `json:"cgroup-parent"`
	StorageOpts          []string                   `json:"storage-opts"`
	SeccompProfile       string                     `json:"seccomp-profile"`
	UsernsRemap          string                     `json:"userns-remap"`
	AuthorizationPlugins []string                   `json:"authorization-plugins"`
	InsecureRegistries   []string                   `json:"insecure-registries"`
	DataRoot             string                     `json:"data-root"`
	Graph                string                     `json:"graph"` // old name of data-root
	ExecRoot             string                     `json:"exec-root"`
	Containerd           string                     `json:"containerd"`
}

type ulimitJSON struct {
	Name string `json:"Name"`
	Hard int64  `json:"Hard"`
	Soft int64  `json:"Soft"`
}

// ParseDaemonJSON parses the contents of a daemon.json. An empty file is an
// empty configuration (dockerd accepts it too).
func ParseDaemonJSON(data []byte) (DaemonConfig, error) {
	var c DaemonConfig
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	var j daemonJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return c, fmt.Errorf("parse daemon.json: %w", err)
	}
	if dec.More() {
		return c, fmt.Errorf("parse daemon.json: trailing data after the JSON object")
	}
	c = DaemonConfig{
		Hosts: j.Hosts, TLS: j.TLS, TLSVerify: j.TLSVerify, TLSCACert: j.TLSCACert, TLSCert: j.TLSCert, TLSKey: j.TLSKey,
		ICC: j.ICC, IPTables: j.IPTables, UserlandProxy: j.UserlandProxy, NoNewPrivileges: j.NoNewPrivileges,
		LiveRestore: j.LiveRestore, Debug: j.Debug, Experimental: j.Experimental, SELinuxEnabled: j.SELinuxEnabled,
		LogLevel: j.LogLevel, LogDriver: j.LogDriver, CgroupParent: j.CgroupParent, SeccompProfile: j.SeccompProfile,
		UsernsRemap: j.UsernsRemap, AuthorizationPlugins: j.AuthorizationPlugins, InsecureRegistries: j.InsecureRegistries,
		DataRoot: j.DataRoot, ExecRoot: j.ExecRoot, Containerd: j.Containerd, StorageOpts: j.StorageOpts,
	}
	if c.DataRoot == "" {
		c.DataRoot = j.Graph
	}
	names := make([]string, 0, len(j.DefaultUlimits))
	for n := range j.DefaultUlimits {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var u ulimitJSON
		if err := json.Unmarshal(j.DefaultUlimits[n], &u); err != nil {
			return DaemonConfig{}, fmt.Errorf("parse daemon.json: default-ulimits %q: %w", n, err)
		}
		c.DefaultUlimits = append(c.DefaultUlimits, fmt.Sprintf("%s=%d:%d", n, u.Soft, u.Hard))
	}
	return c, nil
}

// dockerd flags the audit reads, by long name, and which take a value.
var dockerdShort = map[string]string{"H": "host", "D": "debug", "l": "log-level", "b": "bridge", "G": "group", "p": "pidfile", "g": "graph"}

// dockerdValueFlags are dockerd 20.10 flags that take a value; any other
// flag is boolean. Knowing them keeps "--flag value" from being misread.
var dockerdValueFlags = map[string]bool{
	"add-runtime": true, "allow-nondistributable-artifacts": true, "api-cors-header": true, "authorization-plugin": true,
	"bip": true, "bridge": true, "cgroup-parent": true, "cluster-advertise": true, "cluster-store": true,
	"cluster-store-opt": true, "config-file": true, "containerd": true, "containerd-namespace": true,
	"containerd-plugins-namespace": true, "cpu-rt-period": true, "cpu-rt-runtime": true, "cri-containerd": false,
	"data-root": true, "default-address-pool": true, "default-cgroupns-mode": true, "default-gateway": true,
	"default-gateway-v6": true, "default-ipc-mode": true, "default-runtime": true, "default-shm-size": true,
	"default-ulimit": true, "dns": true, "dns-opt": true, "dns-search": true, "exec-opt": true, "exec-root": true,
	"fixed-cidr": true, "fixed-cidr-v6": true, "group": true, "graph": true, "host": true, "host-gateway-ip": true,
	"insecure-registry": true, "ip": true, "label": true, "log-driver": true, "log-level": true, "log-opt": true,
	"max-concurrent-downloads": true, "max-concurrent-uploads": true, "max-download-attempts": true, "metrics-addr": true,
	"mtu": true, "network-control-plane-mtu": true, "node-generic-resource": true, "oom-score-adjust": true,
	"pidfile": true, "registry-mirror": true, "seccomp-profile": true, "shutdown-timeout": true, "storage-driver": true,
	"storage-opt": true, "swarm-default-advertise-addr": true, "tlscacert": true, "tlscert": true, "tlskey": true,
	"userland-proxy-path": true, "userns-remap": true, "validate": false,
}

// ParseDockerdArgs reads the settings the audit needs from dockerd's argv
// (argv[0] included or not). Unknown flags are ignored.
func ParseDockerdArgs(args []string) (DaemonConfig, error) {
	var c DaemonConfig
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue // dockerd takes no positional arguments
		}
		var name, value string
		hasValue := false
		if strings.HasPrefix(a, "--") {
			name = a[2:]
			if k, v, ok := strings.Cut(name, "="); ok {
				name, value, hasValue = k, v, true
			}
		} else {
			// -H tcp://…, -Htcp://…, -H=tcp://…, -D, -Dl debug is not valid dockerd usage.
			short := a[1:2]
			long, ok := dockerdShort[short]
			if !ok {
				continue
			}
			name = long
			if rest := a[2:]; rest != "" {
				value, hasValue = strings.TrimPrefix(rest, "="), true
			}
		}
		if dockerdValueFlags[name] && !hasValue {
			if i+1 >= len(args) {
				return c, fmt.Errorf("dockerd flag --%s has no value", name)
			}
			i++
			value, hasValue = args[i], true
		}
		if err := c.setFlag(name, value, hasValue); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c *DaemonConfig) setFlag(name, value string, hasValue bool) error {
	boolean := func() (*bool, error) {
		if !hasValue {
			t := true
			return &t, nil
		}
		switch strings.ToLower(value) {
		case "1", "t", "true":
			t := true
			return &t, nil
		case "0", "f", "false":
			f := false
			return &f, nil
		}
		return nil, fmt.Errorf("dockerd flag --%s=%q: not a boolean", name, value)
	}
	var err error
	switch name {
	case "host":
		c.Hosts = append(c.Hosts, value)
	case "tls":
		c.TLS, err = boolean()
	case "tlsverify":
		c.TLSVerify, err = boolean()
	case "tlscacert":
		c.TLSCACert = value
	case "tlscert":
		c.TLSCert = value
	case "tlskey":
		c.TLSKey = value
	case "icc":
		c.ICC, err = boolean()
	case "iptables":
		c.IPTables, err = boolean()
	case "userland-proxy":
		c.UserlandProxy, err = boolean()
	case "no-new-privileges":
		c.NoNewPrivileges, err = boolean()
	case "live-restore":
		c.LiveRestore, err = boolean()
	case "debug":
		c.Debug, err = boolean()
	case "experimental":
		c.Experimental, err = boolean()
	case "selinux-enabled":
		c.SELinuxEnabled, err = boolean()
	case "log-level":
		c.LogLevel = value
	case "log-driver":
		c.LogDriver = value
	case "default-ulimit":
		c.DefaultUlimits = append(c.DefaultUlimits, value)
	case "cgroup-parent":
		c.CgroupParent = value
	case "storage-opt":
		c.StorageOpts = append(c.StorageOpts, value)
	case "seccomp-profile":
		c.SeccompProfile = value
	case "userns-remap":
		c.UsernsRemap = value
	case "authorization-plugin":
		c.AuthorizationPlugins = append(c.AuthorizationPlugins, value)
	case "insecure-registry":
		c.InsecureRegistries = append(c.InsecureRegistries, value)
	case "data-root", "graph":
		c.DataRoot = value
	case "exec-root":
		c.ExecRoot = value
	case "containerd":
		c.Containerd = value
	case "config-file":
		c.ConfigFile = value
	}
	return err
}

// merge returns c with every setting of o that c leaves unset (dockerd
// itself refuses a setting given both as a flag and in daemon.json).
func (c DaemonConfig) merge(o DaemonConfig) DaemonConfig {
	c.Sources = append(append([]string(nil), c.Sources...), o.Sources...)
	bp := func(a, b *bool) *bool {
		if a != nil {
			return a
		}
		return b
	}
	s := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	l := func(a, b []string) []string {
		if len(a) > 0 {
			return a
		}
		return b
	}
	c.Hosts = l(c.Hosts, o.Hosts)
	c.TLS, c.TLSVerify = bp(c.TLS, o.TLS), bp(c.TLSVerify, o.TLSVerify)
	c.TLSCACert, c.TLSCert, c.TLSKey = s(c.TLSCACert, o.TLSCACert), s(c.TLSCert, o.TLSCert), s(c.TLSKey, o.TLSKey)
	c.ICC, c.IPTables, c.UserlandProxy = bp(c.ICC, o.ICC), bp(c.IPTables, o.IPTables), bp(c.UserlandProxy, o.UserlandProxy)
	c.NoNewPrivileges, c.LiveRestore, c.Debug = bp(c.NoNewPrivileges, o.NoNewPrivileges), bp(c.LiveRestore, o.LiveRestore), bp(c.Debug, o.Debug)
	c.Experimental, c.SELinuxEnabled = bp(c.Experimental, o.Experimental), bp(c.SELinuxEnabled, o.SELinuxEnabled)
	c.LogLevel, c.LogDriver, c.CgroupParent = s(c.LogLevel, o.LogLevel), s(c.LogDriver, o.LogDriver), s(c.CgroupParent, o.CgroupParent)
	c.SeccompProfile, c.UsernsRemap = s(c.SeccompProfile, o.SeccompProfile), s(c.UsernsRemap, o.UsernsRemap)
	c.DefaultUlimits, c.AuthorizationPlugins = l(c.DefaultUlimits, o.DefaultUlimits), l(c.AuthorizationPlugins, o.AuthorizationPlugins)
	c.InsecureRegistries, c.StorageOpts = l(c.InsecureRegistries, o.InsecureRegistries), l(c.StorageOpts, o.StorageOpts)
	c.DataRoot, c.ExecRoot, c.Containerd, c.ConfigFile = s(c.DataRoot, o.DataRoot), s(c.ExecRoot, o.ExecRoot), s(c.Containerd, o.Containerd), s(c.ConfigFile, o.ConfigFile)
	return c
}

// tlsVerifyOn reports dockerd's effective --tlsverify (which implies --tls).
func (c *DaemonConfig) tlsVerifyOn() bool { return c.TLSVerify != nil && *c.TLSVerify }
func (c *DaemonConfig) tlsOn() bool       { return c.tlsVerifyOn() || (c.TLS != nil && *c.TLS) }
