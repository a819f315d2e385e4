//go:build !scanonly

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/lockdown-sec/lockdown/internal/report"
	"github.com/lockdown-sec/lockdown/internal/termsafe"
	"github.com/lockdown-sec/lockdown/internal/wire"
)

func newVerifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify on the wire what the configuration promises",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newVerifyEncryptionCmd(g))
	return cmd
}

type verifyFlags struct {
	iface, read, between, pcap, failOn string
	duration                           time.Duration
	maxPackets, snaplen                int
}

// Values of verify encryption's --fail-on.
const (
	failOnPlaintext   = "plaintext"
	failOnUnencrypted = "unencrypted"
)

func newVerifyEncryptionCmd(g *globals) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "encryption",
		Short: "Capture (or read) the traffic between two hosts and report, per flow, the share of bytes encrypted",
		Long: `Capture packets on an interface (pure Go, AF_PACKET; needs root or CAP_NET_RAW) or read a
pcap/pcapng file, keep the flows between A and B, and classify every payload byte: WireGuard
(message types 1-4 and their sizes), IPsec (ESP, ESP in UDP, IKE), TLS and DTLS (record headers
checked along each TCP stream), SSH (version exchange), plaintext (with evidence: the first
readable bytes and their entropy) or opaque (high entropy, no known protocol). Nothing is
decrypted. The kernel copies out only packets between A and B, cut to --snaplen bytes, for at
most --duration and --max-packets packets.`,
		Example: `  lockdown verify encryption --iface eth0 --between 192.0.2.11,192.0.2.12 --duration 10s
  lockdown verify encryption --iface eth0 --between 10.0.1.0/24,10.0.2.0/24 --pcap underlay.pcap --fail-on plaintext
  lockdown verify encryption --read underlay.pcap --between 192.0.2.11,192.0.2.12 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runVerifyEncryption(cmd, g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.iface, "iface", "", "capture on this network `INTERFACE` (the underlay between the hosts)")
	fl.StringVar(&f.read, "read", "", "read packets from a pcap or pcapng `FILE` instead of capturing")
	fl.StringVar(&f.between, "between", "", "keep only traffic between `A,B`: two addresses or CIDRs (required with --iface)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "capture for this long")
	fl.IntVar(&f.maxPackets, "max-packets", 100000, "stop the capture after this many packets")
	fl.IntVar(&f.snaplen, "snaplen", wire.DefaultSnaplen, "keep at most this many `BYTES` of each packet")
	fl.StringVar(&f.pcap, "pcap", "", "also write the captured packets (as cut by --snaplen) to this pcap `FILE`")
	fl.StringVar(&f.failOn, "fail-on", "", "exit 1 when a flow carries plaintext bytes (plaintext) or any byte not known to be encrypted (unencrypted)")
	return cmd
}

// verifyOutput is the result of verify encryption.
type verifyOutput struct {
	Source  string             `json:"source"`
	Snaplen int                `json:"snaplen,omitempty"`
	Capture *wire.CaptureStats `json:"capture,omitempty"`
	wire.Result
}

func runVerifyEncryption(cmd *cobra.Command, g *globals, f verifyFlags) error {
	ctx := cmd.Context()
	if (f.iface == "") == (f.read == "") {
		return badInput(errors.New("verify encryption: give exactly one of --iface (capture) and --read (a pcap file)"))
	}
	if f.failOn != "" && f.failOn != failOnPlaintext && f.failOn != failOnUnencrypted {
		return badInput(fmt.Errorf("--fail-on %q: want %s or %s", f.failOn, failOnPlaintext, failOnUnencrypted))
	}
	format, err := g.pickFormat("verify encryption", []string{report.FormatTable, report.FormatJSON}, defaultByTerminal)
	if err != nil {
		return err
	}
	var filter wire.Filter
	if f.between != "" {
		if filter, err = wire.ParseFilter(f.between); err != nil {
			return badInput(fmt.Errorf("--between %w", err))
		}
	}
	an := &wire.Analyzer{Filter: filter}
	out := verifyOutput{}
	if f.read != "" {
		if f.pcap != "" {
			return badInput(errors.New("--pcap writes a capture: it goes with --iface, not --read"))
		}
		if err := readPcap(f.read, an); err != nil {
			return badInput(err)
		}
		out.Source = "file " + f.read
	} else {
		switch {
		case f.between == "":
			return badInput(errors.New("--between A,B is required with --iface: the capture keeps only traffic between them"))
		case f.duration <= 0:
			return badInput(fmt.Errorf("--duration %s: want more than 0", f.duration))
		case f.maxPackets <= 0:
			return badInput(fmt.Errorf("--max-packets %d: want at least 1", f.maxPackets))
		case f.snaplen < 64 || f.snaplen > wire.MaxSnaplen:
			return badInput(fmt.Errorf("--snaplen %d: want 64 to %d", f.snaplen, wire.MaxSnaplen))
		}
		st, err := capture(ctx, g, f, filter, an)
		if err != nil {
			if errors.Is(err, wire.ErrPermission) || errors.Is(err, wire.ErrNoInterface) {
				return badInput(err)
			}
			return err
		}
		out.Source, out.Snaplen, out.Capture = "interface "+f.iface, f.snaplen, &st
	}
	out.Result = an.Result()
	err = g.writeOutput(func(w io.Writer, _ bool) error {
		if format == report.FormatJSON {
			return writeJSON(w, out)
		}
		return writeVerifyTable(w, &out)
	})
	if err != nil {
		return err
	}
	for _, fl := range out.Flows {
		if f.failOn == failOnPlaintext && fl.Plaintext > 0 || f.failOn == failOnUnencrypted && fl.Unencrypted > 0 {
			return findingsExit()
		}
	}
	return nil
}

// readPcap feeds every record of a pcap or pcapng file to the analyzer.
func readPcap(path string, an *wire.Analyzer) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer fh.Close()
	rd, err := wire.NewReader(fh)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		an.Add(rec.LinkType, rec.Time, rec.Data, rec.OrigLen)
	}
}

// capture runs the live capture, writing --pcap atomically (a temporary
// file beside it, renamed when the capture succeeded).
func capture(ctx context.Context, g *globals, f verifyFlags, filter wire.Filter, an *wire.Analyzer) (wire.CaptureStats, error) {
	cfg := wire.CaptureConfig{Interface: f.iface, Filter: filter, Snaplen: f.snaplen, Duration: f.duration, MaxPackets: f.maxPackets}
	handle := func(r wire.Record) error {
		an.Add(r.LinkType, r.Time, r.Data, r.OrigLen)
		return nil
	}
	if f.pcap == "" {
		return wire.Capture(ctx, cfg, handle)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.pcap), "."+filepath.Base(f.pcap)+".*.tmp")
	if err != nil {
		return wire.CaptureStats{}, badInput(fmt.Errorf("--pcap %s: %w", f.pcap, err))
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	pw, err := wire.NewWriter(tmp, wire.LinkRaw, f.snaplen)
	if err != nil {
		tmp.Close()
		return wire.CaptureStats{}, fmt.Errorf("write %s: %w", f.pcap, err)
	}
	st, err := wire.Capture(ctx, cfg, func(r wire.Record) error {
		if err := pw.Write(r); err != nil {
			return fmt.Errorf("write %s: %w", f.pcap, err)
		}
		return handle(r)
	})
	if err == nil {
		err = pw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o600) // packets may hold secrets: readable by the owner only
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.pcap)
	}
	if err != nil {
		return st, err
	}
	g.logger.Debug("wrote capture", "file", f.pcap, "packets", st.Packets)
	return st, nil
}

// writeVerifyTable writes the flows, one a line with the evidence or
// protocol details beneath.
func writeVerifyTable(w io.Writer, out *verifyOutput) error {
	src := termsafe.String(out.Source) // a file name
	if c := out.Capture; c != nil {
		src += fmt.Sprintf(" for %s (stopped: %s), %d packets copied, kernel drops %d, snap length %d",
			c.Elapsed.Round(time.Millisecond), c.Stopped, c.Packets, c.KernelDrops, out.Snaplen)
	} else {
		src += fmt.Sprintf(", %d packets", out.Packets)
	}
	fmt.Fprintf(w, "Source:   %s\nBetween:  %s (%d packets matched", src, out.Filter, out.Matched)
	if out.Undecodable > 0 {
		fmt.Fprintf(w, "; %d undecodable, first: %s", out.Undecodable, termsafe.String(oneLine(out.FirstError)))
	}
	fmt.Fprint(w, ")\n\n")
	if len(out.Flows) == 0 {
		fmt.Fprintln(w, "No traffic between the given addresses.")
		return nil
	}
	names := make([]string, len(out.Flows))
	width := len("FLOW")
	for i, fl := range out.Flows {
		names[i] = fmt.Sprintf("%s %s ⇄ %s", fl.Proto, fl.A, fl.B)
		width = max(width, utf8.RuneCountInString(names[i]))
	}
	row := func(name, packets, wireBytes, share, class string) {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(name))
		fmt.Fprintf(w, "%s%s  %7s  %10s  %9s  %s\n", name, pad, packets, wireBytes, share, class)
	}
	row("FLOW", "PACKETS", "WIRE BYTES", "ENCRYPTED", "CLASS")
	for i, fl := range out.Flows {
		row(names[i], fmt.Sprint(fl.Packets), fmt.Sprint(fl.Wire), fmt.Sprintf("%.1f%%", 100*fl.EncryptedShare), fl.Class)
		if len(fl.Bytes) > 1 {
			fmt.Fprintf(w, "    payload bytes: %s\n", classBytes(fl.Bytes))
		}
		if fl.Details != "" {
			fmt.Fprintf(w, "    %s\n", termsafe.String(fl.Details)) // from the wire (a TLS server name)
		}
		if e := fl.Evidence; e != nil {
			fmt.Fprintf(w, "    evidence: from %s: %q (entropy %.2f bits/byte over %d bytes)\n", e.From, e.Text, e.Entropy, e.Bytes)
		}
	}
	_, err := fmt.Fprintf(w, "\nTotal: %d flows; payload bytes: %s; encrypted share %.1f%%\n", len(out.Flows), classBytes(out.Bytes), 100*out.EncryptedShare)
	return err
}

// classBytes is "wireguard 1200, plaintext 30" in a fixed class order.
func classBytes(m map[string]int64) string {
	var parts []string
	for _, c := range []string{"wireguard", "ipsec", "tls", "ssh", "plaintext", "opaque", "control"} {
		if n, ok := m[c]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", c, n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
