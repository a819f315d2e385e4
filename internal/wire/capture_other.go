//go:build !linux

package wire

import (
	"context"
	"errors"
)

// Capture is Linux only (AF_PACKET).
func Capture(context.Context, CaptureConfig, func(Record) error) (CaptureStats, error) {
	return CaptureStats{}, errors.New("live capture needs Linux (AF_PACKET); read a pcap file with --read")
}
