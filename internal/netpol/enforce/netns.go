package enforce

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/netpol/netns"
)

// BridgeMode says how bridged traffic (between containers on one bridge)
// reaches Lockdown's rules.
type BridgeMode uint8

const (
	// BridgeAuto detects it: br_netfilter passing bridged IPv4 and IPv6
	// to the inet hooks, or not.
	BridgeAuto BridgeMode = iota
	// BridgeNetfilter relies on br_netfilter: the inet table sees
	// bridged traffic.
	BridgeNetfilter
	// BridgeFamily adds a bridge-family table for bridged traffic.
	BridgeFamily
)

// ParseBridgeMode reads auto, br_netfilter or bridge.
func ParseBridgeMode(s string) (BridgeMode, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return BridgeAuto, nil
	case "br_netfilter", "br-netfilter", "netfilter", "inet":
		return BridgeNetfilter, nil
	case "bridge":
		return BridgeFamily, nil
	}
	return 0, fmt.Errorf("bridge mode %q: want auto, br_netfilter or bridge", s)
}

func (m BridgeMode) String() string {
	switch m {
	case BridgeNetfilter:
		return "br_netfilter"
	case BridgeFamily:
		return "bridge"
	}
	return "auto"
}

// detectBridgeMode reads the namespace's br_netfilter switches: when both
// IPv4 and IPv6 bridged traffic go through the inet hooks, the inet table
// is enough; otherwise (module not loaded, or a switch off) bridged
// traffic needs the bridge-family table.
func detectBridgeMode(netnsFD int) (BridgeMode, error) {
	mode := BridgeNetfilter
	err := netns.Do(netnsFD, func() error {
		for _, f := range []string{"/proc/sys/net/bridge/bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-ip6tables"} {
			b, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				mode = BridgeFamily
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
			if strings.TrimSpace(string(b)) != "1" {
				mode = BridgeFamily
			}
		}
		return nil
	})
	return mode, err
}
