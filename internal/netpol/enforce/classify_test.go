package enforce

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/lockdown-sec/lockdown/internal/netpol"
	"github.com/lockdown-sec/lockdown/internal/netpol/nft"
)

// TestUnavailable: when the kernel refuses nftables (no nf_tables, or
// no CAP_NET_ADMIN), Apply, Status and Remove say so with ErrUnavailable
// and the reason. (The netlink socket is faked: this host has nftables.
// The real not-root case runs in the CLI tests.)
func TestUnavailable(t *testing.T) {
	cfg, err := netpol.Build(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		errno unix.Errno
		want  string
	}{
		{unix.EPROTONOSUPPORT, "the kernel has no nf_tables"},
		{unix.EPERM, "applying rules needs root or CAP_NET_ADMIN"},
	} {
		dial := func(int) (*nft.Conn, error) {
			c, err := nftables.New(nftables.WithTestDial(func([]netlink.Message) ([]netlink.Message, error) {
				return nil, tc.errno
			}))
			return nft.NewConn(c, 0), err
		}
		a, err := NewApplier(Options{StateDir: t.TempDir(), Bridge: BridgeNetfilter, dial: dial})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := a.Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, applyErr := a.Apply(ctx, rs)
		_, statusErr := a.Status(ctx)
		_, removeErr := a.Remove(ctx)
		for name, err := range map[string]error{"Apply": applyErr, "Status": statusErr, "Remove": removeErr} {
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s with %v = %v, want ErrUnavailable (%s)", name, tc.errno, err, tc.want)
			}
		}
	}
}
