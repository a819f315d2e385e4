package audit

// CIS section 7: Docker Swarm configuration, when the engine is in swarm
// mode: managers, the listening interface, encrypted overlay networks,
// secrets, autolock and certificate rotation. Cluster settings are visible
// on managers only.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func (s *Swarm) role() string {
	if s.Manager {
		return "manager"
	}
	return "worker"
}

var managersInfo = Info{ID: "LD-SWM-701", CIS: "7.1", Title: "The swarm has a sound number of managers", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "swarm"},
	Rationale:   "Managers hold the cluster's state and keys: make only as many as fault tolerance needs (an odd number, at most 7), and not every node.",
	Remediation: "docker node demote NODE for the extra managers (keep an odd number: 1, 3, 5 or 7)"}

// managers: 7.1.
func managers(t *Target, s *Swarm) Result {
	m, n := s.Info.Managers, s.Info.Nodes
	switch {
	case n > 1 && m == n:
		return fail("every one of the %d nodes is a manager", n)
	case m > 7:
		return fail("%d managers (more than 7 slows consensus and widens the attack surface)", m)
	case m%2 == 0:
		return warn("%s of %s: an even number adds no fault tolerance", count(m, "manager"), count(n, "node"))
	}
	return pass("%s of %s", count(m, "manager"), count(n, "node"))
}

var swarmListenInfo = Info{ID: "LD-SWM-702", CIS: "7.2", Title: "Swarm listens on a specific interface", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "swarm", "network"},
	Rationale:   "The swarm management port (2377) bound to every interface is reachable from networks that have no business with the cluster.",
	Remediation: "docker swarm init (or join) with --listen-addr ADDR:2377 on the management interface"}

// swarmListen: 7.2, from the daemon's own view of its TCP sockets.
func swarmListen(t *Target, s *Swarm) Result {
	if t.Host == nil {
		return skip("the daemon's sockets are not visible from here: %s", orDefault(t.HostReason, "host checks are off"))
	}
	addrs, err := listenAddrs(t.Host.DaemonPID, 2377)
	if err != nil {
		return skip("%v", err)
	}
	if len(addrs) == 0 {
		if !s.Manager {
			return pass("this worker does not listen on 2377")
		}
		return skip("no listener on port 2377 in the daemon's network namespace")
	}
	var wild []string
	for _, a := range addrs {
		if strings.HasPrefix(a, "0.0.0.0:") || strings.HasPrefix(a, "[::]:") {
			wild = append(wild, a)
		}
	}
	if len(wild) > 0 {
		return fail("the swarm listens on %s (every interface)", strings.Join(wild, ", "))
	}
	return pass("the swarm listens on %s", strings.Join(addrs, ", "))
}

var overlayEncryptedInfo = Info{ID: "LD-SWM-703", CIS: "7.3", Title: "Overlay networks are encrypted", Severity: model.SeverityHigh,
	Tags:        []string{"cis", "swarm", "network", "encryption"},
	Rationale:   "Traffic between containers on different nodes crosses the underlay in VXLAN; without --opt encrypted it is plaintext to anyone on the path.",
	Remediation: "recreate each listed network with docker network create --driver overlay --opt encrypted NAME (services must be detached first); in a stack file: driver_opts: {encrypted: \"\"}"}

// overlayEncrypted: 7.3.
func overlayEncrypted(t *Target, s *Swarm) Result {
	var plain, enc []string
	for _, n := range s.Overlays {
		if _, ok := n.Options["encrypted"]; ok {
			enc = append(enc, n.Name)
		} else {
			plain = append(plain, n.Name)
		}
	}
	slices.Sort(plain)
	slices.Sort(enc)
	if len(plain) > 0 {
		return fail("overlay networks without encryption: %s (encrypted: %s)", strings.Join(plain, ", "), listOrNone(enc))
	}
	if len(enc) == 0 {
		return pass("no overlay networks")
	}
	return pass("every overlay network is encrypted: %s", strings.Join(enc, ", "))
}

var swarmSecretsInfo = Info{ID: "LD-SWM-704", CIS: "7.4", Title: "Services take secrets from swarm secrets, not their environment", Severity: model.SeverityHigh,
	Tags:        []string{"cis", "swarm", "secrets"},
	Rationale:   "Swarm secrets are encrypted in the raft log and mounted in memory; a secret in a service's environment is readable by anyone who can inspect the service.",
	Remediation: "docker secret create NAME FILE, then docker service update --secret-add NAME --env-rm VAR SERVICE (the service reads /run/secrets/NAME)"}

// swarmSecrets: 7.4.
func (sc *secretScanner) swarmSecrets(t *Target, s *Swarm) Result {
	var hits []secretHit
	using := 0
	for _, svc := range s.Services {
		cs := svc.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		if len(cs.Secrets) > 0 {
			using++
		}
		for _, e := range cs.Env {
			k, v, _ := strings.Cut(e, "=")
			hits = append(hits, sc.keyValue("service "+svc.Spec.Name+" ENV", k, v)...)
		}
	}
	if len(hits) > 0 {
		return secretsResult(hits)
	}
	return pass("%d swarm secrets; %d of %d services use them; no secret-like value in service environments", s.Secrets, using, len(s.Services))
}

var autolockInfo = Info{ID: "LD-SWM-705", CIS: "7.5", Title: "Swarm managers are auto-locked", Severity: model.SeverityMedium,
	Tags:        []string{"cis", "swarm", "encryption"},
	Rationale:   "Without autolock the keys that decrypt the raft log (and its secrets) sit unencrypted on every manager's disk.",
	Remediation: "docker swarm update --autolock=true (keep the unlock key in a password manager)"}

// autolock: 7.5.
func autolock(t *Target, s *Swarm) Result {
	c := s.Info.Cluster
	if c == nil {
		return skip("/info Swarm.Cluster is empty")
	}
	if c.Spec.EncryptionConfig.AutoLockManagers {
		return pass("/info Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers: true")
	}
	return fail("/info Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers: false")
}

var certRotationInfo = Info{ID: "LD-SWM-707", CIS: "7.7", Title: "Node certificates are rotated at least every 90 days", Severity: model.SeverityLow,
	Tags:        []string{"cis", "swarm", "tls"},
	Rationale:   "A stolen node certificate is valid until it expires; a short expiry limits how long it works.",
	Remediation: "docker swarm update --cert-expiry 720h (or shorter)"}

// certRotation: 7.7.
func certRotation(t *Target, s *Swarm) Result {
	c := s.Info.Cluster
	if c == nil {
		return skip("/info Swarm.Cluster is empty")
	}
	exp := c.Spec.CAConfig.NodeCertExpiry
	if exp == 0 {
		return pass("NodeCertExpiry unset: the default, 90 days")
	}
	if exp > 90*24*time.Hour {
		return fail("NodeCertExpiry %s (%d days, more than 90)", exp, int(exp.Hours()/24))
	}
	return pass("NodeCertExpiry %s (%d days)", exp, int(exp.Hours()/24))
}

// listenAddrs returns the addresses ("0.0.0.0:2377", "[::]:2377") on which
// pid's network namespace has a TCP socket listening on port.
func listenAddrs(pid, port int) ([]string, error) {
	var out []string
	for _, f := range []string{"tcp", "tcp6"} {
		p := fmt.Sprintf("/proc/%d/net/%s", pid, f)
		b, err := os.ReadFile(p)
		if err != nil {
			if f == "tcp6" {
				continue
			}
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		for _, l := range parseTCPListen(b) {
			if l.port == port {
				out = append(out, l.addr)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// count is "1 node", "3 nodes".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
