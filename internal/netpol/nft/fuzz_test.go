package nft

import (
	"encoding/binary"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// FuzzCounterValues: a counter expression's attributes as the kernel
// dumps them (or garbage) never panic the reader.
func FuzzCounterValues(f *testing.F) {
	good, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_COUNTER_BYTES, Data: binary.BigEndian.AppendUint64(nil, 1500)},
		{Type: unix.NFTA_COUNTER_PACKETS, Data: binary.BigEndian.AppendUint64(nil, 3)},
	})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{4, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		counterValues(b)
	})
}

func TestCounterValues(t *testing.T) {
	b, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_COUNTER_BYTES, Data: binary.BigEndian.AppendUint64(nil, 1500)},
		{Type: unix.NFTA_COUNTER_PACKETS, Data: binary.BigEndian.AppendUint64(nil, 3)},
	})
	if p, by := counterValues(b); p != 3 || by != 1500 {
		t.Errorf("counterValues = %d packets, %d bytes; want 3, 1500", p, by)
	}
}
