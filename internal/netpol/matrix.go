package netpol

import (
	"bufio"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/lockdown-sec/lockdown/internal/termsafe"
)

// PortsInUse lists the ports a matrix should cover, sorted by protocol and
// port:
//
//   - every port an endpoint declares (container, published and host
//     endpoint ports; this covers every port a named rule port can mean);
//   - every numeric port a rule's destination names in ports or notPorts;
//   - for a port range (Calico "lo:hi", Kubernetes port with endPort), its
//     first and last port (port 1 for a range from 0), plus hi+1 when that port falls inside another
//     range of the same protocol (overlapping ranges).
//
// Whether a rule's port condition holds changes only at a range's first
// port or just after its last, so these representatives sample every
// stretch of ports that the rules treat differently, within the ports rules
// name; ports no rule names are sampled only when an endpoint declares them.
func PortsInUse(cfg *Config) []PortProto {
	seen := map[PortProto]bool{}
	add := func(proto Protocol, port uint16) {
		if protoHasPorts(proto) && port > 0 {
			seen[PortProto{Protocol: proto, Port: port, ICMPType: -1}] = true
		}
	}
	for _, e := range cfg.Endpoints {
		for _, p := range e.Ports {
			add(p.Protocol, p.Port)
		}
	}
	type span struct {
		proto  Protocol
		lo, hi uint16
	}
	var spans []span
	cfg.eachRule(func(r *Rule) {
		if r.Protocol == nil {
			return
		}
		for _, ps := range [][]PortMatch{r.Dst.Ports, r.Dst.NotPorts} {
			for _, pm := range ps {
				if pm.Name != "" {
					continue
				}
				if pm.Hi == 0 {
					continue // port 0 carries no traffic
				}
				add(*r.Protocol, max(pm.Lo, 1))
				add(*r.Protocol, pm.Hi)
				if pm.Lo != pm.Hi {
					spans = append(spans, span{*r.Protocol, pm.Lo, pm.Hi})
				}
			}
		}
	})
	for _, a := range spans {
		if a.hi == 65535 {
			continue
		}
		next := a.hi + 1
		for _, b := range spans {
			if b.proto == a.proto && b.lo <= next && next <= b.hi {
				add(a.proto, next)
				break
			}
		}
	}
	out := make([]PortProto, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	SortPorts(out)
	return out
}

// SortPorts orders ports by protocol then number.
func SortPorts(ps []PortProto) {
	slices.SortFunc(ps, func(a, b PortProto) int {
		if r := cmp.Compare(a.Protocol, b.Protocol); r != 0 {
			return r
		}
		if r := cmp.Compare(a.Port, b.Port); r != 0 {
			return r
		}
		if r := cmp.Compare(a.ICMPType, b.ICMPType); r != 0 {
			return r
		}
		return cmp.Compare(a.ICMPCode, b.ICMPCode)
	})
}

// Matrix is reachability between every pair of endpoints on a set of ports.
type Matrix struct {
	eng *Engine
}

// ComputeMatrix compiles cfg and returns the matrix for ports.
func ComputeMatrix(cfg *Config, ports []PortProto, family int) *Matrix {
	return &Matrix{eng: Compile(cfg, ports, family)}
}

// Endpoints are the rows and columns.
func (m *Matrix) Endpoints() []*Endpoint { return m.eng.eps }

// Ports are the ports covered.
func (m *Matrix) Ports() []PortProto { return m.eng.ports }

// Engine returns the compiled engine behind the matrix.
func (m *Matrix) Engine() *Engine { return m.eng }

// AllowedPorts returns the ports on which src may reach dst.
func (m *Matrix) AllowedPorts(src, dst int) []PortProto {
	bits := make([]uint64, m.eng.words)
	m.eng.AllowedInto(src, dst, bits)
	var out []PortProto
	for k, p := range m.eng.ports {
		if bits[k/64]&(1<<(k%64)) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// Matrix output formats.
const (
	FormatTable = "table"
	FormatCSV   = "csv"
	FormatJSON  = "json"
	FormatDOT   = "dot"
	FormatSVG   = "svg"
)

// MatrixFormats lists the formats WriteMatrix accepts.
func MatrixFormats() []string {
	return []string{FormatTable, FormatCSV, FormatJSON, FormatDOT, FormatSVG}
}

// ErrNoDot is returned for SVG output when Graphviz is not installed.
var ErrNoDot = errors.New("svg output needs Graphviz's dot on PATH (install graphviz, or use --format dot)")

// WriteMatrix writes m in format. SVG runs Graphviz's dot.
func WriteMatrix(ctx context.Context, w io.Writer, m *Matrix, format string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch strings.ToLower(format) {
	case FormatTable, "":
		err = m.writeTable(bw)
	case FormatCSV:
		err = m.writeCSV(bw)
	case FormatJSON:
		err = m.writeJSON(bw)
	case FormatDOT:
		err = m.writeDOT(bw)
	case FormatSVG:
		return m.writeSVG(ctx, w)
	default:
		return fmt.Errorf("unknown matrix format %q (want %s)", format, strings.Join(MatrixFormats(), ", "))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

func portsText(all, ps []PortProto) string {
	switch {
	case len(ps) == 0:
		return "-"
	case len(ps) == len(all):
		return "all"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// gridLimit is the largest matrix printed as a grid; larger ones are lists.
const gridLimit = 24

func (m *Matrix) writeTable(w *bufio.Writer) error {
	eps, ports := m.eng.eps, m.eng.ports
	ps := make([]string, len(ports))
	for i, p := range ports {
		ps[i] = p.String()
	}
	fmt.Fprintf(w, "Ports: %s\n", strings.Join(ps, " "))
	fmt.Fprintf(w, "Endpoints: %d (%d classes)\n\n", len(eps), m.eng.Classes())
	// Endpoint names come from the input files: escaped for the terminal.
	ids := make([]string, len(eps))
	for i, e := range eps {
		ids[i] = termsafe.String(e.ID())
	}
	if len(eps) <= gridLimit {
		width := len("FROM \\ TO")
		for _, id := range ids {
			width = max(width, len(id))
		}
		cells := make([][]string, len(eps))
		colw := make([]int, len(eps))
		for j, id := range ids {
			colw[j] = len(id)
		}
		for i := range eps {
			cells[i] = make([]string, len(eps))
			for j := range eps {
				if i == j {
					cells[i][j] = "·"
				} else {
					cells[i][j] = portsText(ports, m.AllowedPorts(i, j))
				}
				colw[j] = max(colw[j], len([]rune(cells[i][j])))
			}
		}
		fmt.Fprintf(w, "%-*s", width, "FROM \\ TO")
		for j, id := range ids {
			fmt.Fprintf(w, "  %-*s", colw[j], id)
		}
		w.WriteByte('\n')
		for i := range eps {
			fmt.Fprintf(w, "%-*s", width, ids[i])
			for j := range eps {
				pad := colw[j] - len([]rune(cells[i][j]))
				fmt.Fprintf(w, "  %s%s", cells[i][j], strings.Repeat(" ", pad))
			}
			w.WriteByte('\n')
		}
		return nil
	}
	for i := range eps {
		for j := range eps {
			if i == j {
				continue
			}
			if a := m.AllowedPorts(i, j); len(a) > 0 {
				fmt.Fprintf(w, "%s -> %s  %s\n", ids[i], ids[j], portsText(ports, a))
			}
		}
	}
	return nil
}

func (m *Matrix) writeCSV(w *bufio.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"from", "to", "port", "protocol", "verdict"}); err != nil {
		return err
	}
	eps, ports := m.eng.eps, m.eng.ports
	bits := make([]uint64, m.eng.words)
	for i, e := range eps {
		for j, d := range eps {
			if i == j {
				continue
			}
			m.eng.AllowedInto(i, j, bits)
			for k, p := range ports {
				v := "deny"
				if bits[k/64]&(1<<(k%64)) != 0 {
					v = "allow"
				}
				port := ""
				if protoHasPorts(p.Protocol) {
					port = strconv.Itoa(int(p.Port))
				}
				if err := cw.Write([]string{e.ID(), d.ID(), port, ProtoName(p.Protocol), v}); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

type jsonEndpoint struct {
	ID        string            `json:"id"`
	Kind      string            `json:"kind"`
	Namespace string            `json:"namespace,omitempty"`
	Name      string            `json:"name"`
	IPs       []string          `json:"ips,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

func (m *Matrix) writeJSON(w *bufio.Writer) error {
	eps, ports := m.eng.eps, m.eng.ports
	// Stream: the pairs list can be large.
	head := struct {
		Ports     []PortProto    `json:"ports"`
		Endpoints []jsonEndpoint `json:"endpoints"`
	}{Ports: ports}
	for _, e := range eps {
		je := jsonEndpoint{ID: e.ID(), Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, Labels: e.OwnLabels}
		for _, ip := range e.IPs {
			je.IPs = append(je.IPs, ip.String())
		}
		head.Endpoints = append(head.Endpoints, je)
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return err
	}
	w.Write(hb[:len(hb)-1])
	w.WriteString(`,"allowed":[`)
	first := true
	total := 0
	for i, e := range eps {
		for j, d := range eps {
			if i == j {
				continue
			}
			a := m.AllowedPorts(i, j)
			if len(a) == 0 {
				continue
			}
			total += len(a)
			pb, _ := json.Marshal(struct {
				From  string      `json:"from"`
				To    string      `json:"to"`
				Ports []PortProto `json:"ports"`
			}{e.ID(), d.ID(), a})
			if !first {
				w.WriteByte(',')
			}
			first = false
			w.WriteString("\n  ")
			w.Write(pb)
		}
	}
	fmt.Fprintf(w, "\n],\"summary\":{\"endpoints\":%d,\"classes\":%d,\"ports\":%d,\"allowedFlows\":%d,\"deniedFlows\":%d}}\n",
		len(eps), m.eng.Classes(), len(ports), total, len(eps)*(len(eps)-1)*len(ports)-total)
	return nil
}

func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

func (m *Matrix) writeDOT(w *bufio.Writer) error {
	eps, ports := m.eng.eps, m.eng.ports
	w.WriteString("digraph netpol {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n")
	byNS := map[string][]int{}
	var nss []string
	for i, e := range eps {
		ns := e.Namespace
		if _, ok := byNS[ns]; !ok {
			nss = append(nss, ns)
		}
		byNS[ns] = append(byNS[ns], i)
	}
	slices.Sort(nss)
	for ci, ns := range nss {
		label := ns
		if ns == "" {
			label = "(host / global)"
		}
		fmt.Fprintf(w, "  subgraph cluster_%d {\n    label=%s;\n    style=dashed;\n", ci, dotQuote(label))
		for _, i := range byNS[ns] {
			fmt.Fprintf(w, "    n%d [label=%s];\n", i, dotQuote(eps[i].Name))
		}
		w.WriteString("  }\n")
	}
	for i := range eps {
		for j := range eps {
			if i == j {
				continue
			}
			if a := m.AllowedPorts(i, j); len(a) > 0 {
				fmt.Fprintf(w, "  n%d -> n%d [label=%s];\n", i, j, dotQuote(portsText(ports, a)))
			}
		}
	}
	w.WriteString("}\n")
	return nil
}

func (m *Matrix) writeSVG(ctx context.Context, w io.Writer) error {
	dot, err := exec.LookPath("dot")
	if err != nil {
		return ErrNoDot
	}
	pr, pw := io.Pipe()
	cmd := exec.CommandContext(ctx, dot, "-Tsvg")
	cmd.Stdin = pr
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run dot: %w", err)
	}
	go func() {
		bw := bufio.NewWriter(pw)
		err := m.writeDOT(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	if err := cmd.Wait(); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("dot -Tsvg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
