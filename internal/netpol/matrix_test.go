package netpol

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func demoMatrix(t *testing.T) *Matrix {
	t.Helper()
	cfg := loadDir(t, filepath.Join("testdata", "demo"))
	ports := PortsInUse(cfg)
	if got := portsText(ports, ports[:0]); got != "-" {
		t.Fatalf("portsText(none) = %q", got)
	}
	return ComputeMatrix(cfg, ports, 4)
}

func TestMatrixTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMatrix(context.Background(), &b, demoMatrix(t), FormatTable); err != nil {
		t.Fatal(err)
	}
	want := `Ports: 5432/TCP 8080/TCP
Endpoints: 3 (3 classes)

FROM \ TO              monitoring/prometheus  shop/db   shop/frontend
monitoring/prometheus  ·                      all       all          
shop/db                -                      ·         -            
shop/frontend          -                      5432/TCP  ·            
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("matrix table (-want +got):\n%s", diff)
	}
}

func TestMatrixCSVAndJSON(t *testing.T) {
	m := demoMatrix(t)
	var b bytes.Buffer
	if err := WriteMatrix(context.Background(), &b, m, FormatCSV); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+3*2*2 {
		t.Fatalf("csv has %d lines, want 13", len(lines))
	}
	if lines[0] != "from,to,port,protocol,verdict" || !strings.Contains(b.String(), "shop/frontend,shop/db,5432,TCP,allow\n") ||
		!strings.Contains(b.String(), "shop/frontend,shop/db,8080,TCP,deny\n") {
		t.Errorf("csv =\n%s", b.String())
	}
	b.Reset()
	if err := WriteMatrix(context.Background(), &b, m, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Ports     []string `json:"ports"`
		Endpoints []struct {
			ID string `json:"id"`
		} `json:"endpoints"`
		Allowed []struct {
			From, To string
			Ports    []string
		} `json:"allowed"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, b.String())
	}
	if len(doc.Allowed) != 3 || doc.Summary["allowedFlows"] != 5 || doc.Summary["deniedFlows"] != 7 {
		t.Errorf("json allowed = %+v summary = %v, want 3 pairs, 5 allowed and 7 denied flows", doc.Allowed, doc.Summary)
	}
}

func TestMatrixDOTParses(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMatrix(context.Background(), &b, demoMatrix(t), FormatDOT); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`label="shop";`, `label="monitoring";`, `[label="5432/TCP"];`, `[label="all"];`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("dot output lacks %s:\n%s", want, b.String())
		}
	}
	dot := testutil.RequireCmd(t, "dot")
	cmd := exec.Command(dot, "-Tcanon")
	cmd.Stdin = bytes.NewReader(b.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dot rejects the output: %v\n%s", err, out)
	}
	var svg bytes.Buffer
	if err := WriteMatrix(context.Background(), &svg, demoMatrix(t), FormatSVG); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg.String(), "<svg") || !strings.Contains(svg.String(), "frontend") {
		t.Errorf("svg output is not an SVG of the graph: %.200s", svg.String())
	}
}

func TestDiff(t *testing.T) {
	oldCfg := loadDir(t, filepath.Join("testdata", "demo"))
	res, err := loadObjects(t, filepath.Join("testdata", "demo", "workloads.yaml"), filepath.Join("testdata", "diff", "new-policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	newCfg, err := Build(res, nil)
	if err != nil {
		t.Fatal(err)
	}
	ports := PortsInUse(oldCfg)
	d := Diff(oldCfg, newCfg, ports, 4)
	var b bytes.Buffer
	if err := WriteDiff(&b, d, FormatTable); err != nil {
		t.Fatal(err)
	}
	want := `Compared 3 endpoints on 2 ports: 1 flows newly allowed, 2 newly blocked
+ allow  shop/db -> monitoring/prometheus  8080/TCP
- block  monitoring/prometheus -> shop/db  8080/TCP
- block  monitoring/prometheus -> shop/frontend  8080/TCP
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
}
