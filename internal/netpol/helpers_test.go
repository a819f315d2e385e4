package netpol

import (
	"context"

	"github.com/lockdown-sec/lockdown/internal/netpol/load"
	"net/netip"
	"testing"
)

func mustAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	ip, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("bad address %q: %v", s, err)
	}
	return ip
}

type netipPrefix = netip.Prefix

func mustPrefix(t testing.TB, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatalf("bad prefix %q: %v", s, err)
	}
	return p
}

func loadObjects(t testing.TB, paths ...string) ([]*load.Object, error) {
	t.Helper()
	res, err := load.Load(context.Background(), paths, nil, load.Options{})
	if err != nil {
		return nil, err
	}
	return res.Objects, nil
}

// buildYAML parses and normalises one document stream, failing the test on
// any error.
func buildYAML(t testing.TB, text string) *Config {
	t.Helper()
	objs, _, err := load.Parse("test.yaml", []byte(text), load.Options{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	cfg, err := Build(objs, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return cfg
}
