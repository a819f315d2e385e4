//go:build !scanonly

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBadInput: `lockdown serve` refuses to start (exit 2, one line
// naming the problem) on bad configuration, before touching any database.
func TestServeBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("t0ken-0123456789abcdef\n"), 0o600)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("t0ken\n"), 0o600)
	t.Setenv("LOCKDOWN_TOKEN", "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"serve"}, "no API token"},
		{"missing token file", []string{"serve", "--token-file", filepath.Join(dir, "nope")}, "--token-file"},
		{"empty token file", []string{"serve", "--token-file", empty}, "is empty"},
		{"short token", []string{"serve", "--token-file", short}, "the API token is 5 bytes: use at least 16 random bytes (e.g. openssl rand -hex 32), or --insecure-short-token"},
		{"short token allowed, then the next check", []string{"serve", "--token-file", short, "--insecure-short-token", "--lease", "2ns"}, "--lease must be at least 1s"},
		{"job timeout zero", []string{"serve", "--token-file", token, "--job-timeout", "0"}, "--job-timeout must be positive"},
		{"webhook without secret", []string{"serve", "--token-file", token, "--webhook-url", "http://127.0.0.1:1/x"}, "--webhook-secret-file"},
		{"bad max body", []string{"serve", "--token-file", token, "--max-body", "0"}, "--max-body must be positive"},
		{"unknown flag", []string{"serve", "--frobnicate"}, "unknown flag"},
		{"allow-registry with a scheme", []string{"serve", "--token-file", token, "--allow-registry", "https://reg.example.com"}, "--allow-registry"},
		{"allow-registry with a path", []string{"serve", "--token-file", token, "--allow-registry", "reg.example.com/team"}, "--allow-registry"},
		{"lease too short", []string{"serve", "--token-file", token, "--lease", "2ns"}, "--lease must be at least 1s"},
		{"lease negative", []string{"serve", "--token-file", token, "--lease", "-1s"}, "--lease must be at least 1s"},
		{"retain-images negative", []string{"serve", "--token-file", token, "--retain-images", "-1h"}, "--retain-images must be 0 (keep forever) or positive, got -1h0m0s"},
		{"retain-jobs negative", []string{"serve", "--token-file", token, "--retain-jobs", "-1ns"}, "--retain-jobs must be 0 (keep forever) or positive, got -1ns"},
		{"retain-jobs not a duration", []string{"serve", "--token-file", token, "--retain-jobs", "7d"}, "--retain-jobs"},
		{"enforce missing policies", []string{"serve", "--token-file", token, "--enforce", filepath.Join(dir, "nope.yaml")}, "nope.yaml"},
		{"enforce resync too short", []string{"serve", "--token-file", token, "--enforce", empty, "--enforce-resync", "10ms"}, "--enforce-resync must be at least 1s"},
		{"enforce bad bridge mode", []string{"serve", "--token-file", token, "--enforce", empty, "--enforce-bridge", "vlan"}, `--enforce-bridge: bridge mode "vlan"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, c.args...)
			if code != ExitBadInput || !strings.Contains(errOut, c.want) {
				t.Errorf("lockdown %v = exit %d, %q; want exit 2 with %q", c.args, code, errOut, c.want)
			}
		})
	}
}
