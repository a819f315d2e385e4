package audit

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseDaemonJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"icc": false, "hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2376"], "tlsverify": true}`,
		`{"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 4096}}}`,
		`{"log-level": "debug", "graph": "/srv"}`, `{"icc": "no"}`, `[]`, `{"debug": true} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseDaemonJSON(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parse daemon.json") {
				t.Fatalf("error %q does not say what was parsed", err)
			}
			return
		}
		_ = c.merge(DaemonConfig{})
	})
}

func FuzzParseDockerdArgs(f *testing.F) {
	for _, s := range []string{
		"dockerd", "dockerd\x00-H\x00fd://\x00--containerd=/run/containerd/containerd.sock",
		"/usr/bin/dockerd\x00--debug\x00--icc=false\x00-Htcp://0.0.0.0:2375\x00--log-level\x00warn",
		"dockerd\x00--tlsverify=maybe", "dockerd\x00--log-level", "dockerd\x00-\x00--\x00-D",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmdline string) {
		args := strings.Split(cmdline, "\x00")
		c, err := ParseDockerdArgs(args)
		if err == nil && len(c.Hosts) > len(args) {
			t.Fatalf("more hosts (%d) than arguments (%d)", len(c.Hosts), len(args))
		}
	})
}

// FuzzSecretScanner checks that a secret found by name or pattern is never
// printed: the hit's text holds at most its shown prefix.
func FuzzSecretScanner(f *testing.F) {
	for _, s := range [][2]string{
		{"DB_PASSWORD", "hunter2hunter2"}, {"AWS", "AKIAIOSFODNN7QXR2B5Z"}, {"URL", "https://u:p4ssw0rd@h/x"},
		{"K", "-----BEGIN RSA PRIVATE KEY-----MIIE"}, {"SEED", "qT7vK2mZ9xW4pL8nR3sY6bH1"}, {"PATH", "/usr/bin"},
		{"history", "|1 TOKEN=abc12345 /bin/sh -c curl --token=zz99yy88 x"},
	} {
		f.Add(s[0], s[1])
	}
	s := newSecretScanner()
	f.Fuzz(func(t *testing.T, key, value string) {
		if !utf8.ValidString(value) {
			return
		}
		for _, h := range append(s.keyValue("ENV", key, value), s.text("history[0]", key+"="+value)...) {
			if len(value) >= 12 && strings.Contains(h.Redacted, value) {
				t.Fatalf("hit %q shows the whole value %q", h.Redacted, value)
			}
			if !strings.Contains(h.Redacted, "<redacted ") {
				t.Fatalf("hit %q is not redacted", h.Redacted)
			}
		}
	})
}

func FuzzParseBaseline(f *testing.F) {
	f.Add([]byte(`{"version":1,"createdAt":"2026-11-27T00:00:00Z","entries":[{"ruleID":"LD-CTR-301","scope":"container","subject":"web","status":"FAIL","evidence":"` + strings.Repeat("a", 64) + `"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`nope`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bl, err := ParseBaseline(b)
		if err == nil && bl.Version != BaselineVersion {
			t.Fatalf("accepted version %d", bl.Version)
		}
	})
}

func FuzzParseAuditRules(f *testing.F) {
	f.Add([]byte("-w /usr/bin/dockerd -k docker\n-a always,exit -F path=/usr/bin/runc -F perm=x\n# c\n-w"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for p := range parseAuditRules(b) {
			if p == "" {
				t.Fatal("empty watched path")
			}
		}
	})
}

func FuzzParseMountInfo(f *testing.F) {
	f.Add([]byte("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n42 27 254:0 /var/lib/docker /var/lib/docker rw shared:1 - ext4 /dev/vda rw\n50 27 8:17 / /srv/a\\040b rw - xfs /dev/sdb1 rw\n"))
	f.Add([]byte(" - \n1 2 3 4 5 - x\n\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range parseMountInfo(b) {
			if m.fsType == "" {
				t.Fatal("mount without type")
			}
		}
	})
}

func FuzzParseTCPListen(f *testing.F) {
	f.Add([]byte("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000:0941 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0\n" +
		"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41235 1\n"))
	f.Add([]byte("   0: 00000000000000000000000000000000:0941 00000000000000000000000000000000:0000 0A 0:0 0:0 0 0 0 777 1\n   1: zz:zz 0 0A a b c d e f\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, l := range parseTCPListen(b) {
			if l.port < 0 || l.port > 65535 || !strings.HasSuffix(l.addr, ":"+strconv.Itoa(l.port)) {
				t.Fatalf("listener %+v: address and port disagree", l)
			}
		}
	})
}

func FuzzCgroupContainer(f *testing.F) {
	id := strings.Repeat("ab", 32)
	f.Add([]byte("9:name=systemd:/docker/" + id + "\n8:pids:/docker/" + id + "\n"))
	f.Add([]byte("0::/system.slice/docker-" + id + ".scope\n"))
	f.Add([]byte("0::/machine.slice/libpod-" + id + ".scope/container\n::\n:"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got := cgroupContainer(b, map[string]bool{id: true}); got != "" && got != id {
			t.Fatalf("cgroupContainer = %q, not a wanted ID", got)
		}
	})
}
