package daemon

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func keys(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}

func withheldKeys(ws []Withheld) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Key)
	}
	return out
}

func TestHarden(t *testing.T) {
	old, err := Parse("daemon.json", []byte(`{"debug": true, "log-level": "debug", "icc": true, "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"],
		"storage-driver": "overlay2", "insecure-registries": ["10.0.0.5:5000"], "seccomp-profile": "unconfined", "max-concurrent-downloads": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name         string
		facts        Facts
		wantChanged  []string
		wantWithheld []string
	}{
		{
			name:         "fresh engine",
			facts:        Facts{TCPWanted: true, InsecureRegs: []string{"10.0.0.5/32"}},
			wantChanged:  []string{"debug", "log-level", "icc", "userns-remap", "no-new-privileges", "live-restore", "userland-proxy", "default-ulimits", "log-opts", "seccomp-profile", "hosts"},
			wantWithheld: []string{"insecure-registries"},
		},
		{
			name:         "workloads that would break",
			facts:        Facts{Containers: 3, Volumes: 1, Linked: []string{"web"}, SwarmActive: true, FlagKeys: []string{"debug", "hosts"}, TCPWanted: true},
			wantChanged:  []string{"log-level", "no-new-privileges", "userland-proxy", "default-ulimits", "log-opts", "seccomp-profile"},
			wantWithheld: []string{"debug", "icc", "userns-remap", "live-restore", "hosts"},
		},
		{
			name:        "TCP with TLS files",
			facts:       Facts{TCPWanted: true, HaveTLSFiles: true},
			wantChanged: []string{"debug", "log-level", "icc", "userns-remap", "no-new-privileges", "live-restore", "userland-proxy", "default-ulimits", "log-opts", "seccomp-profile", "tlsverify"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Harden("daemon.json", old, c.facts)
			if d := cmp.Diff(c.wantChanged, keys(r.Changes)); d != "" {
				t.Errorf("changed (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.wantWithheld, withheldKeys(r.Withheld)); d != "" {
				t.Errorf("withheld (-want +got):\n%s", d)
			}
			for k, v := range old {
				if _, changed := r.New[k]; !changed && !slices.Contains(keys(r.Changes), k) {
					t.Errorf("key %s (%v) lost", k, v)
				}
			}
			if _, ok := old["userns-remap"]; ok {
				t.Errorf("Harden changed its input")
			}
		})
	}
	r := Harden("daemon.json", old, Facts{TCPWanted: true})
	if d := cmp.Diff([]any{"unix:///var/run/docker.sock"}, r.New["hosts"]); d != "" {
		t.Errorf("hosts without TLS (-want +got):\n%s", d)
	}
	if _, ok := r.New["seccomp-profile"]; ok {
		t.Errorf("seccomp-profile unconfined kept")
	}
	if r.New["max-concurrent-downloads"] == nil || r.New["storage-driver"] != "overlay2" {
		t.Errorf("other keys not kept: %v", r.New)
	}
	d, err := Diff(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`-  "icc": true,`, `+  "icc": false,`, `+  "no-new-privileges": true,`, "icc                CIS 2.2   LD-DKR-115 true -> false: ", `-    "tcp://0.0.0.0:2375"`} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
}

func TestFlagKeys(t *testing.T) {
	got := FlagKeys([]string{"/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock", "-D", "--icc=false", "--default-ulimit", "nofile=1:2", "-Htcp://x:1", "--log-opt", "max-size=1m"})
	want := []string{"containerd", "debug", "default-ulimits", "hosts", "icc", "log-opts"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FlagKeys (-want +got):\n%s", d)
	}
}

func TestParse(t *testing.T) {
	for in, wantErr := range map[string]string{
		"":           "",
		"  \n":       "",
		`{"a": 1}`:   "",
		`[1]`:        "x.json: not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}",
		`{"a": 1}{}`: "x.json: trailing data after the JSON object",
		`{"a": `:     "x.json: not a JSON object: unexpected EOF",
	} {
		_, err := Parse("x.json", []byte(in))
		if got := errString(err); got != wantErr {
			t.Errorf("Parse(%q) error = %q, want %q", in, got, wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"icc": true, "hosts": ["tcp://0.0.0.0:2375"], "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1, "Hard": 2}}}`))
	f.Add([]byte(`{"debug": 1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := Parse("fuzz.json", b)
		if err != nil {
			return
		}
		r := Harden("fuzz.json", cfg, Facts{TCPWanted: true})
		if _, err := Diff(r); err != nil {
			t.Fatalf("Diff: %v", err)
		}
	})
}

func BenchmarkHarden(b *testing.B) {
	old, _ := Parse("daemon.json", []byte(`{"debug": true, "icc": true, "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"], "storage-driver": "overlay2"}`))
	b.ReportAllocs()
	for b.Loop() {
		r := Harden("daemon.json", old, Facts{TCPWanted: true})
		if _, err := Diff(r); err != nil {
			b.Fatal(err)
		}
	}
}
