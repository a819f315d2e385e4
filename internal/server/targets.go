package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// localRefusal is the one answer to every target that reads a path on the
// server when local targets are not allowed: the same bytes whatever the
// form and whether the path exists, so that no request learns anything
// about the server's filesystem. It is given before the target is looked
// at any further (no stat, no DNS).
const localRefusal = "targets that read the server's filesystem (dir:, docker-archive:, oci-archive:, oci-dir:, file://, absolute, relative or ~ paths) are refused: start the server with --allow-local-targets to permit them"

// localKinds are the target kinds that read paths on the server.
var localKinds = []string{"dir", "docker-archive", "oci-archive", "oci-dir", "oci", "file"}

// LocalLooking reports whether target names a path on the server in any
// form: a local kind (dir:, docker-archive:, oci-archive:, oci-dir:, oci:,
// file:// — in any letter case), an absolute, relative (./, ../, a "." or
// ".." component) or home (~) path, a Windows path. It reads the string
// only.
func LocalLooking(target string) bool {
	t := strings.TrimSpace(target)
	if t == "" {
		return false
	}
	if kind, _, ok := strings.Cut(t, ":"); ok {
		for _, k := range localKinds {
			if strings.EqualFold(kind, k) {
				return true
			}
		}
	}
	switch t[0] {
	case '/', '.', '~', '\\':
		return true
	}
	if strings.ContainsRune(t, '\\') {
		return true
	}
	if len(t) >= 3 && t[1] == ':' && (t[2] == '/' || t[2] == '\\') && (t[0]|0x20 >= 'a' && t[0]|0x20 <= 'z') {
		return true // C:/ or C:\
	}
	for _, c := range strings.Split(t, "/") {
		if c == "." || c == ".." {
			return true
		}
	}
	return false
}

// CheckTarget decides whether the service may scan target, from the
// string alone (no filesystem access, no DNS): a target reading the
// server's filesystem only with allowLocal, all refused with the same
// answer; registry: and bare references must be valid image references, to
// a host in allowRegistries when that list is not empty, and never to a
// loopback, link-local, private or unspecified address (or localhost)
// unless allowRegistries names it; docker: (the local engine) always. A
// refused target is a 403 error, a malformed one a 400.
func CheckTarget(target string, allowRegistries []string, allowLocal bool) error {
	if LocalLooking(target) {
		if !allowLocal {
			return errorf(http.StatusForbidden, "%s", localRefusal)
		}
		return nil
	}
	kind, rest, found := strings.Cut(target, ":")
	switch {
	case found && kind == "docker":
		return nil
	case found && kind == "registry":
		return checkRegistry(target, rest, allowRegistries)
	}
	return checkRegistry(target, target, allowRegistries)
}

func checkRegistry(target, ref string, allow []string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return errorf(http.StatusBadRequest, "target %q: not an image reference: %v", target, err)
	}
	host := strings.ToLower(r.Context().RegistryStr())
	if allowedRegistry(host, allow) {
		return nil
	}
	if len(allow) > 0 {
		return errorf(http.StatusForbidden, "target %q: registry %s is not in the allowlist (--allow-registry)", target, host)
	}
	if why := privateHost(host); why != "" {
		return errorf(http.StatusForbidden, "target %q: registry %s is %s: refused (name it with --allow-registry to permit it)", target, host, why)
	}
	return nil
}

// allowedRegistry reports whether host (host or host:port, lower case) is
// named in allow.
func allowedRegistry(host string, allow []string) bool {
	for _, a := range allow {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == host || (a == "docker.io" && host == name.DefaultRegistry) {
			return true
		}
	}
	return false
}

// privateHost says why a registry host (host or host:port) must not be
// reached from the server, "" when it may: localhost names and addresses
// that are loopback, link-local, private, unspecified or shared (CGNAT).
// Names are not resolved here: the registry transport checks the address
// each connection goes to (registryTransport).
func privateHost(hostport string) string {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.Trim(strings.ToLower(h), "[]"), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return "a loopback name"
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return ""
	}
	return privateAddr(ip)
}

var sharedAddrs = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598

// privateAddr says which kind of non-public address ip is, "" for a
// public one.
func privateAddr(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return "a loopback address"
	case ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "a link-local address"
	case ip.IsPrivate():
		return "a private address"
	case ip.IsUnspecified(), ip.Is4() && ip.As4()[0] == 0:
		return "an unspecified address"
	case sharedAddrs.Contains(ip):
		return "a shared (carrier-grade NAT) address"
	}
	return ""
}

// registryTransport carries the server's registry requests: a connection
// to a non-public address (privateAddr: a name resolving to 127.0.0.1, a
// metadata service at 169.254.169.254) is refused at connect time, after
// name resolution, so that neither a crafted name nor DNS rebinding gets
// past CheckTarget. Hosts named in allow, and the proxy of the
// environment, are dialled without the check.
func registryTransport(allow []string) http.RoundTripper {
	exempt := map[string]bool{}
	for _, a := range allow {
		exempt[strings.ToLower(strings.TrimSpace(a))] = true
	}
	for _, env := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if u, err := url.Parse(os.Getenv(env)); err == nil && u.Host != "" {
			exempt[strings.ToLower(u.Host)] = true
			exempt[strings.ToLower(u.Hostname())] = true
		}
	}
	plain := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	guarded := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("registry connection to %s: %w", address, err)
			}
			if why := privateAddr(ip); why != "" {
				return fmt.Errorf("registry connection to %s refused: %s (name the registry with --allow-registry to permit it)", address, why)
			}
			return nil
		}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if exempt[strings.ToLower(addr)] || exempt[strings.ToLower(host)] {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	return t
}
