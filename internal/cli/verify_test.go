//go:build !scanonly

package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	nslab "github.com/lockdown-sec/lockdown/internal/netpol/enforce/lab"
	"github.com/lockdown-sec/lockdown/internal/testutil"
	"github.com/lockdown-sec/lockdown/internal/wire"
)

// verifyOut is verify encryption's JSON output.
type verifyOut struct {
	Source  string             `json:"source"`
	Capture *wire.CaptureStats `json:"capture"`
	wire.Result
}

func runVerify(t *testing.T, args ...string) (int, verifyOut, string) {
	t.Helper()
	code, out, errOut := runAuditCLI(t, append([]string{"verify", "encryption", "--format", "json"}, args...)...)
	var v verifyOut
	if code != ExitBadInput && out != "" {
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("verify output: %v\n%s", err, out)
		}
	}
	return code, v, errOut
}

func TestVerifyCLIBadInput(t *testing.T) {
	dir := t.TempDir()
	// A capture cut short in its first record, as a killed writer leaves it.
	var buf bytes.Buffer
	w, err := wire.NewWriter(&buf, wire.LinkRaw, 65535)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(wire.Record{Time: time.Unix(1, 0), Data: make([]byte, 40), OrigLen: 40})
	w.Flush()
	corrupt := filepath.Join(dir, "cut.pcap")
	if err := os.WriteFile(corrupt, buf.Bytes()[:buf.Len()-10], 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []badInputCase{
		{"neither source", nil, "give exactly one of --iface (capture) and --read (a pcap file)"},
		{"both sources", []string{"--iface", "lo", "--read", corrupt}, "give exactly one of --iface"},
		{"no between", []string{"--iface", "lo"}, "--between A,B is required with --iface"},
		{"bad between", []string{"--iface", "lo", "--between", "192.0.2.1"}, `--between "192.0.2.1": want two addresses or CIDRs, A,B`},
		{"mixed families", []string{"--read", corrupt, "--between", "192.0.2.1,2001:db8::1"}, "of different IP versions"},
		{"bad fail-on", []string{"--read", corrupt, "--fail-on", "high"}, `--fail-on "high": want plaintext or unencrypted`},
		{"bad duration", []string{"--iface", "lo", "--between", "127.0.0.1,127.0.0.2", "--duration", "0s"}, "--duration 0s: want more than 0"},
		{"bad snaplen", []string{"--iface", "lo", "--between", "127.0.0.1,127.0.0.2", "--snaplen", "10"}, "--snaplen 10: want 64 to 262144"},
		{"pcap with read", []string{"--read", corrupt, "--pcap", filepath.Join(dir, "x.pcap")}, "--pcap writes a capture"},
		{"no such interface", []string{"--iface", "ld13-nosuch", "--between", "127.0.0.1,127.0.0.2"}, `capture on "ld13-nosuch": no such network interface`},
		{"corrupt pcap", []string{"--read", corrupt}, "read " + corrupt + ": offset 24: record 1 of 40 bytes: the file ends early"},
		{"not a pcap", []string{"--read", text}, "read " + text + ": offset 0: not a pcap or pcapng file (magic 6e6f7420)"},
		{"missing pcap", []string{"--read", filepath.Join(dir, "none.pcap")}, "read " + filepath.Join(dir, "none.pcap") + ": open"},
		{"output in a missing directory", []string{"--iface", "lo", "--between", "127.0.0.1,127.0.0.2", "-o", filepath.Join(dir, "no", "out.json")}, "output " + filepath.Join(dir, "no", "out.json")},
	}
	testBadInput(t, []string{"verify", "encryption"}, cases)
}

// The helper process of TestVerifyNotRoot: runs the CLI with the
// arguments in LOCKDOWN_VERIFY_ARGS and exits with its code.
func TestVerifyHelperProcess(t *testing.T) {
	args := os.Getenv("LOCKDOWN_VERIFY_ARGS")
	if args == "" {
		t.Skip("helper process only")
	}
	os.Exit(Run(context.Background(), strings.Split(args, " "), os.Stdout, os.Stderr))
}

// Without root (or CAP_NET_RAW) a capture fails with a clear error, exit 2.
func TestVerifyNotRoot(t *testing.T) {
	testutil.RequireRoot(t)
	// A directory the unprivileged user can enter (t.TempDir's parent is
	// private).
	dir, err := os.MkdirTemp("", "ld13-notroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "cli.test")
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestVerifyHelperProcess$")
	cmd.Env = append(os.Environ(), "LOCKDOWN_VERIFY_ARGS=verify encryption --iface lo --between 127.0.0.1,127.0.0.2 --duration 1s")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitBadInput {
		t.Fatalf("as uid 65534: %v, want exit %d; stderr %q", err, ExitBadInput, stderr.String())
	}
	want := "lockdown: capture on lo: capturing packets needs root or CAP_NET_RAW (operation not permitted)\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

// ---- two hosts in network namespaces, with and without WireGuard

// lab is two hosts (pods of a namespace lab, on one bridge) with a
// WireGuard tunnel between them from wireguard-go.
type lab struct {
	a, b           *nslab.NS
	iface          string // host A's underlay interface
	underA, underB string // underlay addresses
	tunA, tunB     string // tunnel addresses
	dir            string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	testutil.RequireCmd(t, "wireguard-go", "wg")
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Skipf("host limit: no /dev/net/tun for wireguard-go: %v", err)
	}
	n := nslab.New(t, nslab.Options{})
	n.Bridge("u", "192.0.2.1/24")
	l := &lab{
		a: n.Pod("a", "u", "192.0.2.11/24"), b: n.Pod("b", "u", "192.0.2.12/24"), iface: "eth0",
		underA: "192.0.2.11", underB: "192.0.2.12", tunA: "198.51.100.1", tunB: "198.51.100.2",
		dir: t.TempDir(),
	}
	// WireGuard keys (Curve25519), as `wg genkey` / `wg pubkey` make them.
	keys := make([][2]string, 2)
	for i := range keys {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = [2]string{base64.StdEncoding.EncodeToString(k.Bytes()), base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())}
	}
	for i, h := range []struct {
		ns                         *nslab.NS
		dev, self, peer, peerUnder string
	}{
		{l.a, n.Prefix + "wa", l.tunA, l.tunB, l.underB}, {l.b, n.Prefix + "wb", l.tunB, l.tunA, l.underA},
	} {
		cmd := exec.Command("ip", "netns", "exec", h.ns.Name, "wireguard-go", "-f", h.dev)
		cmd.Env = append(os.Environ(), "WG_PROCESS_FOREGROUND=1", "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1")
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("wireguard-go: %v", err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			os.Remove("/var/run/wireguard/" + h.dev + ".sock")
		})
		sock := "/var/run/wireguard/" + h.dev + ".sock"
		for i := 0; ; i++ {
			if _, err := os.Stat(sock); err == nil {
				break
			}
			if i == 100 {
				t.Fatalf("wireguard-go did not create %s: %s", sock, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		keyFile := filepath.Join(l.dir, h.dev+".key")
		if err := os.WriteFile(keyFile, []byte(keys[i][0]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"wg", "set", h.dev, "private-key", keyFile, "listen-port", "51820",
				"peer", keys[1-i][1], "allowed-ips", h.peer + "/32", "endpoint", h.peerUnder + ":51820"},
			{"ip", "addr", "add", h.self + "/32", "dev", h.dev},
			{"ip", "link", "set", h.dev, "up"},
			{"ip", "route", "add", h.peer + "/32", "dev", h.dev},
		} {
			if out, err := h.ns.Exec(args...); err != nil {
				t.Fatalf("%s in %s: %v: %s", strings.Join(args, " "), h.ns.Name, err, out)
			}
		}
	}
	return l
}

// sink is a server in host B that counts the bytes it received and how
// many of them were markers.
type sink struct {
	ln      net.Listener
	bytes   atomic.Int64
	markers atomic.Int64
}

func (l *lab) listen(t *testing.T, addr string, cfg *tls.Config, marker []byte) *sink {
	t.Helper()
	s := &sink{}
	err := l.b.Do(func() error {
		ln, err := net.Listen("tcp", addr)
		s.ln = ln
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		s.ln = tls.NewListener(s.ln, cfg)
	}
	t.Cleanup(func() { s.ln.Close() })
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					s.bytes.Add(int64(len(sc.Bytes()) + 1))
					if bytes.Contains(sc.Bytes(), marker) {
						s.markers.Add(1)
					}
				}
			}()
		}
	}()
	return s
}

// send connects from host A and writes marker lines until ctx ends.
func (l *lab) send(t *testing.T, ctx context.Context, wg *sync.WaitGroup, addr string, cfg *tls.Config, marker []byte) {
	t.Helper()
	var c net.Conn
	err := l.a.Do(func() error {
		var err error
		c, err = (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, l.a.Name, err)
	}
	if cfg != nil {
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			t.Fatalf("tls handshake with %s: %v", addr, err)
		}
		c = tc
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer c.Close()
		line := append(append(append([]byte(nil), marker...), " user=alice card=4111-1111-1111-1111"...), '\n')
		for ctx.Err() == nil {
			if _, err := c.Write(line); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
}

// verifyIn runs verify encryption inside host A's namespace.
func (l *lab) verifyIn(t *testing.T, args ...string) (int, verifyOut, string) {
	t.Helper()
	var code int
	var v verifyOut
	var errOut string
	if err := l.a.Do(func() error {
		code, v, errOut = runVerify(t, args...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return code, v, errOut
}

func tlsConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ca := testutil.NewCA(t, "lockdown test CA")
	return &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "host-b", x509.ExtKeyUsageServerAuth, "host-b").TLS()}},
		&tls.Config{RootCAs: ca.Pool(), ServerName: "host-b"}
}

// The proof: traffic with a known marker through the WireGuard tunnel is
// all WireGuard on the underlay and the marker never appears there; TLS
// between the hosts is all TLS; the same traffic in clear is plaintext
// with the marker as evidence, and --fail-on plaintext exits 1.
func TestVerifyEncryptionOnTheWire(t *testing.T) {
	l := newLab(t)
	mk := make([]byte, 8)
	rand.Read(mk)
	marker := []byte("LOCKDOWN-MARKER-" + hex.EncodeToString(mk))
	srvTLS, cliTLS := tlsConfigs(t)
	between := l.underA + "," + l.underB

	tunnel := l.listen(t, l.tunB+":8080", nil, marker)
	tlsSink := l.listen(t, l.underB+":8443", srvTLS, marker)
	plain := l.listen(t, l.underB+":8081", nil, marker)

	t.Run("wireguard and tls", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		l.send(t, ctx, &wg, l.tunB+":8080", nil, marker)
		l.send(t, ctx, &wg, l.underB+":8443", cliTLS, marker)
		pcap := filepath.Join(l.dir, "encrypted.pcap")
		code, v, errOut := l.verifyIn(t, "--iface", l.iface, "--between", between, "--duration", "3s",
			"--snaplen", "65535", "--pcap", pcap, "--fail-on", "unencrypted")
		cancel()
		wg.Wait()
		if code != ExitOK {
			t.Fatalf("exit = %d, want 0 (stderr %q, flows %+v)", code, errOut, v.Flows)
		}
		if tunnel.markers.Load() == 0 || tlsSink.markers.Load() == 0 {
			t.Fatalf("host B received %d markers through the tunnel and %d over TLS: no traffic to judge", tunnel.markers.Load(), tlsSink.markers.Load())
		}
		var wgFlow, tlsFlow *wire.FlowStat
		for i, f := range v.Flows {
			switch {
			case f.Proto == "udp" && strings.HasSuffix(f.A, ":51820") && strings.HasSuffix(f.B, ":51820"):
				wgFlow = &v.Flows[i]
			case f.Proto == "tcp" && (strings.HasSuffix(f.A, ":8443") || strings.HasSuffix(f.B, ":8443")):
				tlsFlow = &v.Flows[i]
			default:
				t.Errorf("unexpected flow %+v", f)
			}
		}
		if wgFlow == nil || wgFlow.Class != "wireguard" || wgFlow.EncryptedShare != 1 || wgFlow.Unencrypted != 0 || !strings.Contains(wgFlow.Details, "data") {
			t.Errorf("WireGuard flow = %+v, want 100%% WireGuard", wgFlow)
		}
		if tlsFlow == nil || tlsFlow.Class != "tls" || tlsFlow.EncryptedShare != 1 || tlsFlow.Unencrypted != 0 || tlsFlow.Evidence != nil {
			t.Errorf("TLS flow = %+v, want 100%% TLS", tlsFlow)
		}
		if v.EncryptedShare != 1 || v.Capture == nil || v.Capture.Stopped != "duration" || v.Capture.KernelDrops != 0 {
			t.Errorf("capture %+v, share %v", v.Capture, v.EncryptedShare)
		}
		data, err := os.ReadFile(pcap)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, marker) || bytes.Contains(data, []byte("4111-1111")) {
			t.Error("the marker is on the underlay")
		}
		checkPcap(t, pcap, v.Capture.Packets)
	})

	t.Run("plaintext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		l.send(t, ctx, &wg, l.underB+":8081", nil, marker)
		pcap := filepath.Join(l.dir, "plain.pcap")
		code, v, errOut := l.verifyIn(t, "--iface", l.iface, "--between", between, "--duration", "2s", "--pcap", pcap, "--fail-on", "plaintext")
		cancel()
		wg.Wait()
		if code != ExitFindings {
			t.Fatalf("exit = %d, want 1 (stderr %q)", code, errOut)
		}
		if plain.markers.Load() == 0 {
			t.Fatal("host B received no marker")
		}
		var found bool
		for _, f := range v.Flows {
			if f.Proto != "tcp" || !strings.HasSuffix(f.B, ":8081") {
				continue
			}
			found = true
			if f.Class != "plaintext" || f.EncryptedShare != 0 || f.Evidence == nil || !strings.Contains(f.Evidence.Text, string(marker)) ||
				f.Evidence.From != f.A || !strings.HasPrefix(f.A, l.underA+":") {
				t.Errorf("plaintext flow = %+v evidence %+v", f, f.Evidence)
			}
		}
		if !found {
			t.Fatalf("no flow to :8081 in %+v", v.Flows)
		}
		data, err := os.ReadFile(pcap)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, marker) {
			t.Error("the marker is not in the plaintext capture")
		}
		// Read back from the file: the same verdict.
		code, r, _ := runVerify(t, "--read", pcap, "--between", between, "--fail-on", "plaintext")
		if code != ExitFindings || len(r.Flows) == 0 || r.Flows[0].Class != "plaintext" {
			t.Errorf("--read: exit %d, flows %+v", code, r.Flows)
		}
	})

	// tcpdump's own capture of the tunnel traffic (Ethernet frames) reads
	// the same: the reader handles a real tool's files.
	t.Run("tcpdump capture", func(t *testing.T) {
		testutil.RequireCmd(t, "tcpdump")
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		l.send(t, ctx, &wg, l.tunB+":8080", nil, marker)
		pcap := filepath.Join(l.dir, "tcpdump.pcap")
		cmd := exec.Command("ip", "netns", "exec", l.a.Name, "tcpdump", "-i", l.iface, "-s", "0", "-U", "-w", pcap, "host", l.underB)
		var logs bytes.Buffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		cancel()
		wg.Wait()
		code, v, errOut := runVerify(t, "--read", pcap, "--between", between, "--fail-on", "unencrypted")
		if code != ExitOK || len(v.Flows) == 0 || v.Flows[0].Class != "wireguard" || v.EncryptedShare != 1 || v.Undecodable != 0 {
			t.Errorf("--read tcpdump's file: exit %d (%s), result %+v; tcpdump: %s", code, errOut, v.Result, logs.String())
		}
	})
}

// checkPcap has tcpdump read our capture file and count its packets.
func checkPcap(t *testing.T, path string, want int) {
	t.Helper()
	testutil.RequireCmd(t, "tcpdump")
	out, err := exec.Command("tcpdump", "-nn", "-r", path).Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v", path, err)
	}
	if n := strings.Count(string(out), "\n"); n != want {
		t.Errorf("tcpdump reads %d packets from %s, want %d", n, path, want)
	}
}

// udp4 builds an IPv4/UDP packet.
func udp4(src, dst string, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 28, 28+len(payload))
	b[0], b[8], b[9] = 0x45, 64, 17
	total := 28 + len(payload)
	b[2], b[3] = byte(total>>8), byte(total)
	copy(b[12:], net.ParseIP(src).To4())
	copy(b[16:], net.ParseIP(dst).To4())
	b[20], b[21], b[22], b[23] = byte(sport>>8), byte(sport), byte(dport>>8), byte(dport)
	b[24], b[25] = byte((8+len(payload))>>8), byte(8+len(payload))
	return append(b, payload...)
}

// The table shows each flow, its share encrypted and the evidence.
func TestVerifyReadTable(t *testing.T) {
	var buf bytes.Buffer
	w, err := wire.NewWriter(&buf, wire.LinkRaw, 65535)
	if err != nil {
		t.Fatal(err)
	}
	wgInit := make([]byte, 148)
	wgInit[0] = 1
	wgData := make([]byte, 96)
	wgData[0] = 4
	for i, p := range [][]byte{
		udp4("192.0.2.1", "192.0.2.2", 51820, 51820, wgInit),
		udp4("192.0.2.1", "192.0.2.2", 51820, 51820, wgData),
		udp4("192.0.2.1", "192.0.2.2", 5000, 514, []byte("<13>login failed for user=alice password=hunter2")),
		udp4("192.0.2.1", "192.0.2.9", 5000, 514, []byte("not between A and B")),
	} {
		w.Write(wire.Record{Time: time.Unix(int64(i), 0), Data: p, OrigLen: len(p)})
	}
	w.Flush()
	path := filepath.Join(t.TempDir(), "mixed.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runAuditCLI(t, "verify", "encryption", "--read", path, "--between", "192.0.2.1,192.0.2.2", "--format", "table", "--fail-on", "plaintext")
	if code != ExitFindings {
		t.Fatalf("exit = %d, want 1 (%s)", code, errOut)
	}
	for _, want := range []string{
		"Source:   file " + path + ", 4 packets\n",
		"Between:  192.0.2.1,192.0.2.2 (3 packets matched)\n",
		"FLOW                                   PACKETS  WIRE BYTES  ENCRYPTED  CLASS\n",
		"udp 192.0.2.1:51820 ⇄ 192.0.2.2:51820        2         300     100.0%  wireguard\n",
		"udp 192.0.2.1:5000 ⇄ 192.0.2.2:514           1          76       0.0%  plaintext\n",
		"    WireGuard messages: 1 handshake initiation, 0 response, 0 cookie, 1 data",
		`    evidence: from 192.0.2.1:5000: "<13>login failed for user=alice password=hunter2" (entropy `,
		"Total: 2 flows; payload bytes: wireguard 244, plaintext 48; encrypted share 83.6%\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
