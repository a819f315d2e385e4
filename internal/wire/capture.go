package wire

import (
	"errors"
	"time"
)

// ErrPermission is returned when the process may not capture (not root, no
// CAP_NET_RAW).
var ErrPermission = errors.New("capturing packets needs root or CAP_NET_RAW")

// ErrNoInterface is returned for an interface that does not exist.
var ErrNoInterface = errors.New("no such network interface")

// CaptureConfig bounds a live capture. Filter is required: the kernel
// copies out only packets between its addresses, cut to Snaplen bytes,
// for at most Duration and MaxPackets packets.
type CaptureConfig struct {
	Interface  string
	Filter     Filter
	Snaplen    int           // bytes kept of each packet; 0: DefaultSnaplen
	Duration   time.Duration // 0: until ctx ends or MaxPackets
	MaxPackets int           // 0: no bound but Duration
}

// DefaultSnaplen keeps the headers and the first bytes of each payload:
// enough to classify, little of the content.
const DefaultSnaplen = 512

// CaptureStats is what a capture did.
type CaptureStats struct {
	Packets     int           `json:"packets"`     // packets copied out
	KernelDrops uint32        `json:"kernelDrops"` // packets the socket's buffer could not hold
	Elapsed     time.Duration `json:"elapsedNs"`
	Stopped     string        `json:"stopped"` // "duration", "max-packets", "cancelled"
}
