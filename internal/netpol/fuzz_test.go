package netpol

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/netpol/load"
)

// FuzzEngine derives a random world from the input and checks that the
// compiled engine agrees with the reference evaluator on every pair and
// port.
func FuzzEngine(f *testing.F) {
	for _, s := range []uint64{0, 1, 7, 42, 1 << 40} {
		f.Add(binary.LittleEndian.AppendUint64(nil, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var seed [16]byte
		copy(seed[:], data)
		r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
		g := &gen{r: r, spec: genSpec{
			namespaces: 1 + r.IntN(3), pods: 2 + r.IntN(10), policies: r.IntN(8), k8sPolicies: r.IntN(3),
			tiers: r.IntN(3), sets: r.IntN(3), hostEndpoints: r.IntN(2), apps: 1 + r.IntN(3), replicas: r.IntN(3),
			services: r.IntN(3), stagePolicies: r.IntN(2),
		}}
		cfg := g.build(t)
		for _, fam := range []int{4, 6} {
			if err := compareWithReference(cfg, fam); err != nil {
				t.Fatalf("IPv%d: %v", fam, err)
			}
		}
	})
}

// FuzzLoadBuild feeds arbitrary manifests through the loader and the
// normaliser: bad input must give a positioned error naming the file, never
// a panic; good input must evaluate the same in both evaluators.
func FuzzLoadBuild(f *testing.F) {
	// Small seeds keep minimisation quick: each scenario alone, and the
	// demo workloads with policies.
	for _, sc := range conformance {
		if sc.yaml != "" {
			f.Add(sc.yaml)
		}
	}
	for _, p := range []string{"testdata/demo/policies.yaml", "testdata/demo/workloads.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Namespace, metadata: {name: a}}]\n")
	f.Fuzz(runOne)
}

func runOne(t *testing.T, text string) {
	{
		objs, _, err := load.Parse("f.yaml", []byte(text), load.Options{})
		if err != nil {
			var le *load.Error
			if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("Parse error %q: want a *load.Error naming f.yaml", err)
			}
			// validate builds what loaded next to the load errors.
			if _, err := Build(objs, nil); err != nil {
				var be *BuildError
				if !errors.As(err, &be) || !strings.HasPrefix(err.Error(), "f.yaml") {
					t.Fatalf("Build(partial) error %q: want a *BuildError naming f.yaml", err)
				}
			}
			return
		}
		cfg, err := Build(objs, nil)
		if err != nil {
			var be *BuildError
			if !errors.As(err, &be) || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("Build error %q: want a *BuildError naming f.yaml", err)
			}
			return
		}
		if len(cfg.Endpoints) > 30 {
			return
		}
		Lint(cfg)
		if err := compareWithReference(cfg, 4); err != nil {
			t.Fatal(err)
		}
	}
}
