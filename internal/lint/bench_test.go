package lint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// manifestSet writes files Kubernetes files of perFile Deployments each
// (every PSS finding kind appears) and a NetworkPolicy per namespace that
// selects half the apps.
func manifestSet(b *testing.B, files, perFile int) string {
	dir := b.TempDir()
	for i := range files {
		var sb strings.Builder
		ns := fmt.Sprintf("ns%d", i%20)
		for j := range perFile {
			fmt.Fprintf(&sb, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d-%d
  namespace: %s
spec:
  selector: {matchLabels: {app: app-%d}}
  template:
    metadata:
      labels: {app: app-%d, tier: t%d}
    spec:
      hostPID: %t
      containers:
        - name: app
          image: registry.example.com/app-%d:1.%d
          ports: [{containerPort: 8080}]
          resources: {limits: {cpu: 500m, memory: 128Mi}}
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL], add: [NET_ADMIN]}
        - name: sidecar
          image: registry.example.com/proxy:2.0
`, i, j, ns, j, j, j%3, j%7 == 0, j, i)
		}
		fmt.Fprintf(&sb, `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: half, namespace: %s}
spec:
  podSelector: {matchExpressions: [{key: tier, operator: In, values: [t0, t1]}]}
`, ns)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%03d.yaml", i)), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkLintManifests: 2,000 Deployments (4,000 containers) in 100
// files with 100 NetworkPolicies, every rule on, NetworkPolicy coverage
// across all files.
func BenchmarkLintManifests(b *testing.B) {
	dir := manifestSet(b, 100, 20)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		rep, err := Run(context.Background(), []string{dir}, Config{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(rep.Findings)
	}
	b.ReportMetric(float64(n), "findings")
}

// BenchmarkLintCorpus lints the whole parity corpus (75 files of the three
// types) in one run.
func BenchmarkLintCorpus(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), []string{"testdata/corpus"}, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
