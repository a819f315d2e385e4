// Package posture holds the facts about container configuration that more
// than one checker judges by: `audit docker` on live containers and images,
// `lockdown lint` on Dockerfiles, Compose files and manifests. One list
// each, so the checkers cannot disagree.
package posture

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// dangerousCaps are capabilities that, added to a container, give it a way
// out or control over the host (CIS Docker 5.4).
var dangerousCaps = []string{
	"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO", "DAC_READ_SEARCH",
	"SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG", "NET_BROADCAST", "SYS_RESOURCE",
}

// sensitiveHostDirs are host paths a container must not mount (CIS Docker 5.6).
var sensitiveHostDirs = []string{"/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"}

// NormCap is a capability name in its one form: upper case, no CAP_ prefix.
func NormCap(c string) string {
	return strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(c)), "CAP_")
}

// DangerousCap reports whether adding capability c (any spelling) gives a
// container a way out or control over the host.
func DangerousCap(c string) bool { return slices.Contains(dangerousCaps, NormCap(c)) }

// SensitiveMount reports whether a bind mount of host path src is one a
// container must not have: a sensitive directory itself, or, writable, a
// path below one.
func SensitiveMount(src string, writable bool) bool {
	src = path.Clean(src)
	for _, d := range sensitiveHostDirs {
		if src == d || (writable && d != "/" && strings.HasPrefix(src, d+"/")) {
			return true
		}
	}
	return false
}

var (
	secretName = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)(passw(or)?d|passwd|pwd|secret|token|api_?key|apikey|access_?key|private_?key|credential|auth_?key|client_?secret|signing_?key|encryption_?key|priv_?key)`)
	})
	benignName = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)(_file|_path|_dir|_url|_host|_port|_user(name)?|_length|_min|_max|_policy|_expir\w*|_timeout|_ttl|_enabled|_required|_type|_version|_algorithm|_header|_name|_id|_ref|sha\d*|checksum|fingerprint|gpg|digest|hash)$`)
	})
)

// SecretName reports whether a variable name says it holds a secret
// (DB_PASSWORD, API_TOKEN) and not only where or what one is
// (DB_PASSWORD_FILE, TOKEN_TTL).
func SecretName(name string) bool {
	return secretName().MatchString(name) && !BenignName(name)
}

// BenignName reports whether a variable name ends in a suffix that says it
// names, locates or configures a secret rather than holds one.
func BenignName(name string) bool { return benignName().MatchString(name) }
