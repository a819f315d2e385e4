// Package daemon hardens a Docker daemon's daemon.json: it merges the
// hardened settings into the existing file (every other key kept), says
// for each key which CIS recommendation and audit check it answers, calls
// out the settings that would break what runs on the engine instead of
// applying them, validates the result with a throwaway dockerd, and writes
// it atomically with a backup.
package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// Change is one key of daemon.json the hardening sets or removes.
type Change struct {
	Key    string `json:"key"`
	Old    any    `json:"old,omitempty"` // nil: absent
	New    any    `json:"new,omitempty"` // nil: removed
	CIS    string `json:"cis"`
	Check  string `json:"check,omitempty"` // audit check ID, when one checks it
	Reason string `json:"reason"`
}

// Withheld is a setting the hardening recommends but does not apply.
type Withheld struct {
	Change
	Why string `json:"why"`
}

// Engine facts that decide what is safe to change.
type Facts struct {
	Containers    int      // on the engine, running or not
	Volumes       int      // named volumes
	Linked        []string // containers using legacy links (--link)
	OnBridge      []string // running containers on the default bridge
	SwarmActive   bool
	FlagKeys      []string // daemon.json keys set on dockerd's command line (a key in both is refused)
	TCPWanted     bool     // hosts has tcp:// entries
	HaveTLSFiles  bool     // tlscacert, tlscert and tlskey all set
	InsecureRegs  []string // non-loopback insecure registries
	IPTablesFalse bool
}

// Result is the hardened configuration.
type Result struct {
	Path     string         `json:"path"`
	Old      map[string]any `json:"old"`
	New      map[string]any `json:"new"`
	Changes  []Change       `json:"changes"`
	Withheld []Withheld     `json:"withheld"`
	// Checks are the audit checks the applied changes make pass.
	Checks []string `json:"checks"`
}

// Parse reads daemon.json content (empty: {}), keeping every key.
func Parse(path string, b []byte) (map[string]any, error) {
	cfg := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return cfg, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the JSON object", path)
	}
	return cfg, nil
}

// Harden returns the hardened configuration of old given the engine's
// facts. old is not changed.
func Harden(path string, old map[string]any, f Facts) *Result {
	r := &Result{Path: path, Old: old, New: maps.Clone(old)}
	set := func(c Change, withhold string) {
		c.Old = old[c.Key]
		if withhold == "" && slices.Contains(f.FlagKeys, c.Key) {
			withhold = "set on dockerd's command line: dockerd refuses a setting given both there and in daemon.json; change it on the command line"
		}
		if withhold != "" {
			r.Withheld = append(r.Withheld, Withheld{Change: c, Why: withhold})
			return
		}
		if c.New == nil {
			delete(r.New, c.Key)
		} else {
			r.New[c.Key] = c.New
		}
		r.Changes = append(r.Changes, c)
		if c.Check != "" {
			r.Checks = append(r.Checks, c.Check)
		}
	}
	want := func(key string, v any) bool { return !sameJSON(old[key], v) }

	if want("debug", false) && old["debug"] != nil {
		set(Change{Key: "debug", New: false, CIS: "2.3", Check: "LD-DKR-110", Reason: "debug logs request bodies and internals, secrets included"}, "")
	}
	if lvl, _ := old["log-level"].(string); lvl != "" && lvl != "info" {
		set(Change{Key: "log-level", New: "info", CIS: "2.3", Check: "LD-DKR-111", Reason: "info records what an investigation needs without request details"}, "")
	}
	if want("experimental", false) && old["experimental"] != nil {
		set(Change{Key: "experimental", New: false, CIS: "2.18", Check: "LD-DKR-112", Reason: "experimental features have no security support"}, "")
	}
	if want("icc", false) {
		why := ""
		if len(f.Linked) > 0 {
			why = "containers use legacy links, which need icc: " + strings.Join(f.Linked, ", ") + "; move them to a user-defined network first"
		}
		set(Change{Key: "icc", New: false, CIS: "2.2", Check: "LD-DKR-115", Reason: "with icc every container on the default bridge reaches every other on any port"}, why)
	}
	if _, ok := old["userns-remap"]; !ok {
		why := ""
		switch {
		case f.Containers > 0 || f.Volumes > 0:
			why = fmt.Sprintf("the engine has %d containers and %d volumes: with remapping they live on under the old data root, invisible, and volume files keep host UIDs; recreate them after enabling it", f.Containers, f.Volumes)
		case f.SwarmActive:
			why = "swarm services share the engine's namespaces; enable remapping on every node together"
		}
		set(Change{Key: "userns-remap", New: "default", CIS: "2.9", Check: "LD-DKR-116", Reason: "root in a container maps to an unprivileged host user (dockremap)"}, why)
	}
	if want("no-new-privileges", true) {
		set(Change{Key: "no-new-privileges", New: true, CIS: "2.14", Check: "LD-DKR-124", Reason: "setuid binaries and file capabilities cannot raise a container process's privileges"}, "")
	}
	if want("live-restore", true) {
		why := ""
		if f.SwarmActive {
			why = "live-restore is incompatible with swarm mode"
		}
		set(Change{Key: "live-restore", New: true, CIS: "2.15", Check: "LD-DKR-117", Reason: "containers keep running while dockerd restarts or upgrades"}, why)
	}
	if want("userland-proxy", false) {
		set(Change{Key: "userland-proxy", New: false, CIS: "2.16", Check: "LD-DKR-118", Reason: "hairpin NAT instead of one docker-proxy process per published port"}, "")
	}
	if _, ok := old["default-ulimits"]; !ok {
		set(Change{Key: "default-ulimits", New: map[string]any{"nofile": map[string]any{"Name": "nofile", "Soft": 65536, "Hard": 65536}},
			CIS: "2.8", Check: "LD-DKR-119", Reason: "containers otherwise inherit dockerd's own, very high, limit on open files (processes: --pids-limit per container; an nproc ulimit counts every process of a host UID)"}, "")
	}
	if _, ok := old["log-opts"]; !ok {
		drv, _ := old["log-driver"].(string)
		if drv == "" || drv == "json-file" || drv == "local" {
			set(Change{Key: "log-opts", New: map[string]any{"max-size": "10m", "max-file": "3"}, CIS: "2.13",
				Reason: "bounded local logs: a noisy container cannot fill the disk (ship them to a central driver as well)"}, "")
		}
	}
	if prof, _ := old["seccomp-profile"].(string); prof == "unconfined" {
		set(Change{Key: "seccomp-profile", CIS: "2.17", Check: "LD-DKR-123", Reason: "the default seccomp profile blocks the calls behind most kernel escapes"}, "")
	}
	// The API on TCP: only with TLS that verifies clients.
	if f.TCPWanted {
		tlsverify, _ := old["tlsverify"].(bool)
		switch {
		case tlsverify:
		case f.HaveTLSFiles:
			set(Change{Key: "tlsverify", New: true, CIS: "2.7", Check: "LD-DKR-113", Reason: "TCP access to the API is root on the host: require client certificates (tlscacert, tlscert, tlskey are set)"}, "")
		default:
			var keep []any
			if hs, ok := old["hosts"].([]any); ok {
				for _, h := range hs {
					if s, _ := h.(string); !isTCP(s) {
						keep = append(keep, h)
					}
				}
			}
			c := Change{Key: "hosts", New: keep, CIS: "2.7", Check: "LD-DKR-113", Reason: "plain TCP gives anyone who reaches the port root on the host: the tcp:// entries are removed; to keep TCP, set tlscacert, tlscert and tlskey and run harden again"}
			if len(keep) == 0 {
				c.New = nil
			}
			set(c, "")
		}
	}
	if len(f.InsecureRegs) > 0 {
		set(Change{Key: "insecure-registries", CIS: "2.5", Check: "LD-DKR-122", Reason: "images from a registry without TLS can be altered in transit"},
			"pulls from "+strings.Join(f.InsecureRegs, ", ")+" would fail: give the registries TLS certificates first")
	}
	if f.IPTablesFalse {
		set(Change{Key: "iptables", New: true, CIS: "2.4", Check: "LD-DKR-126", Reason: "without iptables, icc=false and published-port rules are not enforced"},
			"iptables was turned off on purpose (another firewall manages the rules?): turning it on rewrites the host's rules")
	}
	slices.Sort(r.Checks)
	r.Checks = slices.Compact(r.Checks)
	return r
}

func isTCP(h string) bool {
	return strings.HasPrefix(h, "tcp://") || (!strings.Contains(h, "://") && strings.Contains(h, ":") && !strings.HasPrefix(h, "/"))
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// Encode is daemon.json as written: indented, keys sorted.
func Encode(cfg map[string]any) ([]byte, error) {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode daemon.json: %w", err)
	}
	return append(b, '\n'), nil
}

// Diff is a line diff of the old and new file, each changed key's lines
// followed by its CIS ID and reason.
func Diff(r *Result) (string, error) {
	oldB, err := Encode(r.Old)
	if err != nil {
		return "", err
	}
	newB, err := Encode(r.New)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s (hardened)\n", r.Path, r.Path)
	for _, l := range lineDiff(strings.Split(strings.TrimSuffix(string(oldB), "\n"), "\n"), strings.Split(strings.TrimSuffix(string(newB), "\n"), "\n")) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	b.WriteString("\n")
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "%-18s CIS %-5s %-10s %s: %s\n", c.Key, c.CIS, c.Check, describe(c), c.Reason)
	}
	for _, w := range r.Withheld {
		fmt.Fprintf(&b, "%-18s CIS %-5s %-10s NOT APPLIED (%s): %s\n", w.Key, w.CIS, w.Check, describe(w.Change), w.Why)
	}
	return b.String(), nil
}

func describe(c Change) string {
	j := func(v any) string {
		if v == nil {
			return "absent"
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	return j(c.Old) + " -> " + j(c.New)
}

// lineDiff is a minimal diff (longest common subsequence) of two short
// line lists: " " kept, "-" old only, "+" new only.
func lineDiff(a, b []string) []string {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []string
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, " "+a[i])
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, "-"+a[i])
			i++
		default:
			out = append(out, "+"+b[j])
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, "-"+a[i])
	}
	for ; j < m; j++ {
		out = append(out, "+"+b[j])
	}
	return out
}

// ReadFile reads and parses path; a missing file is an empty config.
func ReadFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Parse(path, b)
}

// StringList reads a daemon.json list of strings.
func StringList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
