package apparmor

import (
	"context"
	"strings"
	"testing"

	"github.com/lockdown-sec/lockdown/internal/testutil"
)

func TestGenerateParses(t *testing.T) {
	testutil.RequireCmd(t, "apparmor_parser")
	in := Input{
		Name:         "lockdown-web_1",
		Executables:  []string{"/usr/bin/busybox", "/usr/bin/dash", "/opt/my app/run"},
		Writable:     []string{"/tmp", "/var/lib/app"},
		Network:      true,
		Capabilities: []string{"NET_BIND_SERVICE"},
		ImageDirs:    []string{"/usr", "/etc", "/lib", "/opt"},
	}
	p, err := Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"profile lockdown-web_1 flags=(attach_disconnected,mediate_deleted) {", "  capability net_bind_service,\n",
		"  /usr/bin/busybox ix,\n", "  \"/opt/my app/run\" ix,\n", "  /var/lib/app/** rwkl,\n", "  network inet stream,\n", "  deny mount,\n"} {
		if !strings.Contains(p, want) {
			t.Errorf("profile lacks %q:\n%s", want, p)
		}
	}
	if err := Check(context.Background(), p); err != nil {
		t.Errorf("Check: %v\n%s", err, p)
	}
	in.Network = false
	in.Capabilities = nil
	p, err = Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p, "  deny network inet,\n") || strings.Contains(p, "capability") {
		t.Errorf("profile without network and capabilities:\n%s", p)
	}
	if err := Check(context.Background(), p); err != nil {
		t.Errorf("Check: %v", err)
	}
	// The parser really checks: a broken profile is refused.
	if err := Check(context.Background(), strings.Replace(p, "deny mount,", "deny mount", 1)); err == nil {
		t.Errorf("Check of a broken profile = nil")
	}
}

func TestGenerateRefuses(t *testing.T) {
	for name, in := range map[string]Input{
		"bad name":        {Name: "a b"},
		"relative path":   {Name: "x", Executables: []string{"bin/sh"}},
		"pattern in path": {Name: "x", Writable: []string{"/tmp/*"}},
		"unclean path":    {Name: "x", ImageDirs: []string{"/usr/../etc"}},
	} {
		if _, err := Generate(in); err == nil {
			t.Errorf("%s: Generate = nil error", name)
		}
	}
}
