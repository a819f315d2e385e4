package audit

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/go-connections/nat"
	"github.com/google/go-cmp/cmp"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"github.com/lockdown-sec/lockdown/internal/model"
)

func ptr[T any](v T) *T { return &v }

func TestParseDockerdArgs(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want DaemonConfig
	}{
		{"none", []string{"dockerd"}, DaemonConfig{}},
		{"forms", []string{"/usr/sbin/dockerd", "-H", "fd://", "-Htcp://0.0.0.0:2375", "--host=unix:///x.sock", "-D", "--icc=false",
			"--log-level", "warn", "--tlsverify", "--tlscacert", "/ca.pem", "--default-ulimit", "nofile=10:20", "--userland-proxy=false",
			"--containerd=/run/containerd/containerd.sock", "--bip", "10.0.0.1/24", "--live-restore", "--config-file", "/etc/d.json"},
			DaemonConfig{Hosts: []string{"fd://", "tcp://0.0.0.0:2375", "unix:///x.sock"}, Debug: ptr(true), ICC: ptr(false), LogLevel: "warn",
				TLSVerify: ptr(true), TLSCACert: "/ca.pem", DefaultUlimits: []string{"nofile=10:20"}, UserlandProxy: ptr(false),
				Containerd: "/run/containerd/containerd.sock", LiveRestore: ptr(true), ConfigFile: "/etc/d.json"}},
		{"short with equals", []string{"-H=tcp://127.0.0.1:2375", "-l", "debug"}, DaemonConfig{Hosts: []string{"tcp://127.0.0.1:2375"}, LogLevel: "debug"}},
		{"unknown bool flag does not eat the next", []string{"--some-new-flag", "--debug"}, DaemonConfig{Debug: ptr(true)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseDockerdArgs(c.args)
			if err != nil {
				t.Fatalf("ParseDockerdArgs(%q): %v", c.args, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ParseDockerdArgs(%q) (-want +got):\n%s", c.args, diff)
			}
		})
	}
	for _, bad := range [][]string{{"--icc=maybe"}, {"--log-level"}} {
		if _, err := ParseDockerdArgs(bad); err == nil {
			t.Errorf("ParseDockerdArgs(%q) = nil error, want one", bad)
		}
	}
}

func TestParseDaemonJSON(t *testing.T) {
	got, err := ParseDaemonJSON([]byte(`{"icc": false, "hosts": ["unix:///var/run/docker.sock"], "log-level": "info",
		"default-ulimits": {"nproc": {"Name": "nproc", "Soft": 512, "Hard": 1024}, "nofile": {"Name": "nofile", "Soft": 1024, "Hard": 4096}},
		"graph": "/srv/docker", "no-new-privileges": true, "insecure-registries": ["10.0.0.0/8"], "unknown-key": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	want := DaemonConfig{ICC: ptr(false), Hosts: []string{"unix:///var/run/docker.sock"}, LogLevel: "info",
		DefaultUlimits: []string{"nofile=1024:4096", "nproc=512:1024"}, DataRoot: "/srv/docker", NoNewPrivileges: ptr(true),
		InsecureRegistries: []string{"10.0.0.0/8"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseDaemonJSON (-want +got):\n%s", diff)
	}
	if c, err := ParseDaemonJSON([]byte("  \n")); err != nil || !cmp.Equal(c, DaemonConfig{}) {
		t.Errorf("ParseDaemonJSON(empty) = %+v, %v; want empty config", c, err)
	}
	for _, bad := range []string{`{"icc": "no"}`, `[1]`, `{"debug": true} {}`, `{"default-ulimits": {"x": 3}}`} {
		if _, err := ParseDaemonJSON([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "parse daemon.json") {
			t.Errorf("ParseDaemonJSON(%s) = %v, want a parse daemon.json error", bad, err)
		}
	}
}

func TestMergeConfig(t *testing.T) {
	flags := DaemonConfig{Sources: []string{"cmdline"}, Debug: ptr(true), Hosts: []string{"fd://"}}
	file := DaemonConfig{Sources: []string{"daemon.json"}, Debug: ptr(false), ICC: ptr(false), LogLevel: "warn"}
	got := flags.merge(file)
	want := DaemonConfig{Sources: []string{"cmdline", "daemon.json"}, Debug: ptr(true), Hosts: []string{"fd://"}, ICC: ptr(false), LogLevel: "warn"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merge (-want +got):\n%s", diff)
	}
	if len(flags.Sources) != 1 {
		t.Errorf("merge changed its receiver's Sources: %v", flags.Sources)
	}
}

func TestValidateAndSelect(t *testing.T) {
	all := Checks()
	if err := ValidateChecks(all); err != nil {
		t.Fatalf("ValidateChecks(Checks()) = %v", err)
	}
	for _, c := range all {
		in := c.Info()
		if in.Rationale == "" || in.Remediation == "" || in.Severity == model.SeverityUnknown || len(in.Tags) == 0 {
			t.Errorf("check %s lacks rationale, remediation, severity or tags", in.ID)
		}
	}
	dup := append(all[:2:2], all[0])
	if err := ValidateChecks(dup); err == nil || !strings.Contains(err.Error(), "duplicate check ID "+all[0].Info().ID) {
		t.Errorf("ValidateChecks(duplicate) = %v, want duplicate ID error", err)
	}
	ids := func(cs []Check) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Info().ID)
		}
		return out
	}
	cases := []struct {
		include, exclude []string
		want             []string
	}{
		{[]string{"LD-DKR-110", "ld-ctr-301"}, nil, []string{"LD-DKR-110", "LD-CTR-301"}},
		{[]string{"tls"}, []string{"LD-DKR-122"}, []string{"LD-DKR-113", "LD-SWM-707"}},
		{[]string{"cis:5.4"}, nil, []string{"LD-CTR-302", "LD-CTR-303"}},
		{[]string{"cis:1.1.7"}, nil, []string{"LD-HST-222"}},
		{[]string{"cis:3.16"}, nil, []string{"LD-HST-201"}},
		{[]string{"image"}, []string{"secrets", "LD-IMG-405"}, []string{"LD-IMG-401", "LD-IMG-402", "LD-IMG-406", "LD-IMG-404"}},
	}
	for _, c := range cases {
		got, err := Select(all, c.include, c.exclude)
		if err != nil {
			t.Fatalf("Select(%v, %v): %v", c.include, c.exclude, err)
		}
		if diff := cmp.Diff(c.want, ids(got)); diff != "" {
			t.Errorf("Select(%v, %v) (-want +got):\n%s", c.include, c.exclude, diff)
		}
	}
	if _, err := Select(all, []string{"LD-NOPE-1"}, nil); err == nil {
		t.Error("Select(unknown ID) = nil error, want one")
	}
}

func TestSecrets(t *testing.T) {
	s := newSecretScanner()
	cases := []struct {
		key, value string
		want       string // "" = no hit; else the hit's String()
	}{
		{"DB_PASSWORD", "s3cr3t-pass", "ENV DB_PASSWORD=<redacted 11 chars> (secret-like name)"},
		{"API_KEY", "abcd1234efgh", "ENV API_KEY=<redacted 12 chars> (secret-like name)"},
		{"PASSWORD_FILE", "/run/secrets/db", ""},
		{"DB_PASSWORD", "$DB_PASSWORD", ""},
		{"TOKEN_TTL", "3600", ""},
		{"GPG_KEYS", "B42F6819007F00F88E364FD4036A9C25BF357DD4", ""},
		{"PYTHON_SHA256", "bfb249609990220491a1b92850a07135ed0831e41738cf681d63cf01b2a8fbd1", ""},
		{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", ""},
		{"AWS_ID", "AKIAIOSFODNN7QXR2B5Z", "ENV AWS_ID=AKIA<redacted 20 chars> (AWS access key ID)"},
		{"SLACK", "xoxb-123456789012-abcdefghijkl", "ENV SLACK=xoxb-<redacted 30 chars> (Slack token)"},
		{"DATABASE_URL", "postgres://app:pa55word@db:5432/app", "ENV DATABASE_URL=<redacted 8 chars> (password in URL)"},
		{"SESSION_SEED", "qT7vK2mZ9xW4pL8nR3sY6bH1", "ENV SESSION_SEED=<redacted 24 chars> (high-entropy value, 4.6 bits/char)"},
		{"NODE_VERSION", "20.11.1", ""},
	}
	for _, c := range cases {
		hits := s.keyValue("ENV", c.key, c.value)
		got := ""
		if len(hits) > 0 {
			got = hits[0].String()
		}
		if got != c.want {
			t.Errorf("keyValue(%s=%s) = %q, want %q", c.key, c.value, got, c.want)
		}
		if strings.Contains(got, c.value) && len(c.value) > 4 {
			t.Errorf("keyValue(%s) leaks the value: %q", c.key, got)
		}
	}
	hist := s.text("history[2]", "|2 GITHUB_TOKEN=ghp_Zq8Xv2Lm4Np6Rt0Yb3Cd5Fg7Hj9Kw1Ms2QeAB NPM_TOKEN=abc12345 /bin/sh -c mysql --password=hunter22 -e 'select 1'")
	var got []string
	for _, h := range hist {
		got = append(got, h.String())
	}
	want := []string{"history[2] ghp_<redacted 41 chars> (GitHub token)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	hist = s.text("history[3]", "/bin/sh -c mysql --password=hunter22 -e 'select 1' && export NPM_TOKEN=abc12345")
	got = nil
	for _, h := range hist {
		got = append(got, h.String())
	}
	want = []string{"history[3] NPM_TOKEN=<redacted 8 chars> (secret-like name)", "history[3] --password=<redacted 8 chars> (secret on a command line)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}

func TestParseAuditRules(t *testing.T) {
	got := parseAuditRules([]byte("# docker\n-w /usr/bin/dockerd -k docker\n-w /etc/docker/ -p wa\n-a always,exit -F path=/usr/bin/runc -F perm=x -k docker\n-a exit,always -F dir=/var/lib/docker -k d\n\n-w"))
	want := map[string]bool{"/usr/bin/dockerd": true, "/etc/docker": true, "/usr/bin/runc": true, "/var/lib/docker": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseAuditRules (-want +got):\n%s", diff)
	}
}

func TestParseMountInfo(t *testing.T) {
	in := "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n42 27 254:0 /var/lib/docker /var/lib/docker rw shared:1 - ext4 /dev/vda rw\n50 27 8:17 / /srv/my\\040docker rw - xfs /dev/sdb1 rw\nbroken line\n"
	got := parseMountInfo([]byte(in))
	want := []mountInfo{
		{major: "254", minor: "0", root: "/", mountPoint: "/", fsType: "ext4", source: "/dev/vda"},
		{major: "254", minor: "0", root: "/var/lib/docker", mountPoint: "/var/lib/docker", fsType: "ext4", source: "/dev/vda"},
		{major: "8", minor: "17", root: "/", mountPoint: "/srv/my docker", fsType: "xfs", source: "/dev/sdb1"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(mountInfo{})); diff != "" {
		t.Errorf("parseMountInfo (-want +got):\n%s", diff)
	}
}

// TestHostFileChecks runs the host file checks on a real directory tree
// standing in for the host's root (Host.Root).
func TestHostFileChecks(t *testing.T) {
	root := t.TempDir()
	mk := func(p string, mode os.FileMode) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("etc/docker/daemon.json", 0o666)
	mk("etc/group", 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\ndocker:x:998:alice,bob\n"), 0o644)
	mk("lib/systemd/system/docker.service", 0o644)
	mk("etc/docker/certs.d/reg:5000/ca.crt", 0o644)
	mk("etc/audit/rules.d/docker.rules", 0o640)
	os.WriteFile(filepath.Join(root, "etc/audit/rules.d/docker.rules"), []byte("-w /etc/docker -k docker\n"), 0o640)
	if err := os.Chmod(filepath.Join(root, "etc/docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	tg := &Target{
		Daemon: &Daemon{Endpoint: "unix:///var/run/docker.sock", Config: &DaemonConfig{}, Info: system.Info{DockerRootDir: "/var/lib/docker"}},
		Host:   &Host{Root: root, ConfigFile: "/etc/docker/daemon.json"},
	}
	uid := os.Geteuid()
	cases := []struct {
		id, status, evidence string
	}{
		{"LD-HST-202", model.StatusFail, "/etc/docker/daemon.json"},
		{"LD-HST-203", model.StatusPass, "/etc/docker root:"},
		{"LD-HST-207", model.StatusFail, "/etc/docker/certs.d/reg:5000/ca.crt"},
		{"LD-HST-208", model.StatusPass, "/lib/systemd/system/docker.service"},
		{"LD-HST-209", model.StatusInfo, "not present"},
		{"LD-HST-204", model.StatusInfo, "TLS is not configured"},
		{"LD-HST-224", model.StatusInfo, "members: alice,bob"},
		{"LD-HST-222", model.StatusFail, "not watched by /etc/audit/rules.d/docker.rules: /etc/docker/daemon.json"},
	}
	for _, c := range cases {
		r := checkOf(t, c.id).Run(context.Background(), tg)
		wantStatus := c.status
		if uid != 0 && (wantStatus == model.StatusPass) {
			wantStatus = model.StatusFail // files are not root's
		}
		if r.Status != wantStatus || !strings.Contains(r.Evidence, c.evidence) {
			t.Errorf("%s = %s %q, want %s containing %q", c.id, r.Status, r.Evidence, wantStatus, c.evidence)
		}
	}
	tg.Host = nil
	tg.HostReason = "dockerd is not visible from here"
	if r := checkOf(t, "LD-HST-201").Run(context.Background(), tg); r.Status != model.StatusSkip || !strings.Contains(r.Evidence, "not visible") {
		t.Errorf("LD-HST-201 off host = %s %q, want SKIP with the reason", r.Status, r.Evidence)
	}
}

func checkOf(t *testing.T, id string) Check {
	t.Helper()
	for _, c := range Checks() {
		if c.Info().ID == id {
			return c
		}
	}
	t.Fatalf("no check %s", id)
	return nil
}

// TestContainerLogic covers inspect data the real-engine tests cannot
// produce on this machine (AppArmor hosts, shared propagation, devices,
// privileged ports on all interfaces, restart policies).
func TestContainerLogic(t *testing.T) {
	base := func() container.InspectResponse {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Name: "/c", HostConfig: &container.HostConfig{}},
			Config:            &container.Config{},
			NetworkSettings:   &container.NetworkSettings{},
		}
	}
	withAA := &Daemon{Info: system.Info{SecurityOptions: []string{"name=apparmor", "name=seccomp,profile=default"}}}
	noAA := &Daemon{Info: system.Info{SecurityOptions: []string{"name=seccomp,profile=default"}}}
	withSEL := &Daemon{Info: system.Info{SecurityOptions: []string{"name=selinux", "name=seccomp,profile=default"}}}
	cases := []struct {
		name   string
		d      *Daemon
		edit   func(c *container.InspectResponse)
		id     string
		status string
	}{
		{"apparmor unconfined", withAA, func(c *container.InspectResponse) { c.AppArmorProfile = "unconfined" }, "LD-CTR-304", model.StatusFail},
		{"apparmor default", withAA, func(c *container.InspectResponse) { c.AppArmorProfile = "docker-default" }, "LD-CTR-304", model.StatusPass},
		{"seccomp unconfined", noAA, func(c *container.InspectResponse) { c.HostConfig.SecurityOpt = []string{"seccomp=unconfined"} }, "LD-CTR-306", model.StatusFail},
		{"seccomp daemon-wide off", &Daemon{}, func(c *container.InspectResponse) {}, "LD-CTR-306", model.StatusFail},
		{"label disable", noAA, func(c *container.InspectResponse) { c.HostConfig.SecurityOpt = []string{"label:disable"} }, "LD-CTR-305", model.StatusFail},
		{"nnp false", noAA, func(c *container.InspectResponse) { c.HostConfig.SecurityOpt = []string{"no-new-privileges=false"} }, "LD-CTR-307", model.StatusFail},
		{"nnp daemon default", &Daemon{Config: &DaemonConfig{NoNewPrivileges: ptr(true)}}, func(c *container.InspectResponse) {}, "LD-CTR-307", model.StatusPass},
		{"shared propagation", noAA, func(c *container.InspectResponse) {
			c.Mounts = []container.MountPoint{{Type: "bind", Source: "/mnt", Destination: "/mnt", Propagation: "rshared"}}
		}, "LD-CTR-317", model.StatusFail},
		{"etc read-only file is fine", noAA, func(c *container.InspectResponse) {
			c.Mounts = []container.MountPoint{{Type: "bind", Source: "/etc/localtime", Destination: "/etc/localtime"}}
		}, "LD-CTR-315", model.StatusPass},
		{"etc mounted", noAA, func(c *container.InspectResponse) {
			c.Mounts = []container.MountPoint{{Type: "bind", Source: "/etc", Destination: "/host/etc"}}
		}, "LD-CTR-315", model.StatusFail},
		{"root mounted", noAA, func(c *container.InspectResponse) {
			c.Mounts = []container.MountPoint{{Type: "bind", Source: "/", Destination: "/host"}}
		}, "LD-CTR-315", model.StatusFail},
		{"docker.sock elsewhere", noAA, func(c *container.InspectResponse) {
			c.Mounts = []container.MountPoint{{Type: "bind", Source: "/srv/x/docker.sock", Destination: "/d.sock"}}
		}, "LD-CTR-316", model.StatusFail},
		{"device", noAA, func(c *container.InspectResponse) {
			c.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/sda", PathInContainer: "/dev/sda", CgroupPermissions: "rwm"}}
		}, "LD-CTR-318", model.StatusFail},
		{"privileged port", noAA, func(c *container.InspectResponse) {
			c.HostConfig.PortBindings = nat.PortMap{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "80"}}}
		}, "LD-CTR-324", model.StatusFail},
		{"all interfaces", noAA, func(c *container.InspectResponse) {
			c.HostConfig.PortBindings = nat.PortMap{"80/tcp": {{HostPort: "8080"}}}
		}, "LD-CTR-325", model.StatusFail},
		{"restart always", noAA, func(c *container.InspectResponse) { c.HostConfig.RestartPolicy.Name = "always" }, "LD-CTR-322", model.StatusFail},
		{"restart on-failure:10", noAA, func(c *container.InspectResponse) {
			c.HostConfig.RestartPolicy = container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 10}
		}, "LD-CTR-322", model.StatusFail},
		{"host network", noAA, func(c *container.InspectResponse) { c.HostConfig.NetworkMode = "host" }, "LD-CTR-310", model.StatusFail},
		{"host ipc", noAA, func(c *container.InspectResponse) { c.HostConfig.IpcMode = "host" }, "LD-CTR-312", model.StatusFail},
		{"host uts", noAA, func(c *container.InspectResponse) { c.HostConfig.UTSMode = "host" }, "LD-CTR-313", model.StatusFail},
		{"host userns", noAA, func(c *container.InspectResponse) { c.HostConfig.UsernsMode = "host" }, "LD-CTR-314", model.StatusFail},
		{"net_raw dropped then added", noAA, func(c *container.InspectResponse) {
			c.HostConfig.CapDrop = []string{"ALL"}
			c.HostConfig.CapAdd = []string{"CAP_NET_RAW"}
		}, "LD-CTR-303", model.StatusFail},
		{"incomplete inspect", noAA, func(c *container.InspectResponse) { c.Config = nil }, "LD-CTR-308", model.StatusSkip},
		{"net_raw without a network", noAA, func(c *container.InspectResponse) { c.HostConfig.NetworkMode = "none" }, "LD-CTR-303", model.StatusInfo},
		{"net_raw on a network", noAA, func(c *container.InspectResponse) { c.HostConfig.NetworkMode = "bridge" }, "LD-CTR-303", model.StatusFail},
		{"publish all", noAA, func(c *container.InspectResponse) { c.HostConfig.PublishAllPorts = true }, "LD-CTR-328", model.StatusFail},
		{"ulimit override", noAA, func(c *container.InspectResponse) {
			c.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1 << 20, Hard: 1 << 20}}
		}, "LD-CTR-329", model.StatusWarn},
		{"cgroup parent", noAA, func(c *container.InspectResponse) { c.HostConfig.CgroupParent = "/custom" }, "LD-CTR-330", model.StatusWarn},
		{"selinux label", withSEL, func(c *container.InspectResponse) { c.ProcessLabel = "system_u:system_r:container_t:s0:c1,c2" }, "LD-CTR-305", model.StatusPass},
		{"selinux without label", withSEL, func(c *container.InspectResponse) {}, "LD-CTR-305", model.StatusFail},
		{"sshd not running", noAA, func(c *container.InspectResponse) { c.State = &container.State{} }, "LD-CTR-327", model.StatusSkip},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ins := base()
			c.edit(&ins)
			tg := &Target{Daemon: c.d, Container: &Container{Name: "c", Inspect: ins}}
			r := checkOf(t, c.id).Run(context.Background(), tg)
			if r.Status != c.status {
				t.Errorf("%s(%s) = %s %q, want %s", c.id, c.name, r.Status, r.Evidence, c.status)
			}
		})
	}
}

func TestImageLogic(t *testing.T) {
	im := &Image{Name: "x:1", Inspect: image.InspectResponse{RepoTags: []string{"x:1", "x:latest"}, Config: &dockerspec.DockerOCIImageConfig{}},
		History: []image.HistoryResponseItem{
			{CreatedBy: "ADD https://user:pw1234@example.com/tool.tgz /opt/ # buildkit"},
			{CreatedBy: "/bin/sh -c #(nop) ADD file:7d70391f0d5adb51fc26141f58002b62862a2d7bfeec1389438ea684d00e6046 in /g"},
		}}
	tg := &Target{Daemon: &Daemon{}, Image: im}
	r := checkOf(t, "LD-IMG-404").Run(context.Background(), tg)
	if r.Status != model.StatusFail || r.Evidence != "history[0] ADD https://<redacted>@example.com/tool.tgz" {
		t.Errorf("LD-IMG-404 = %s %q, want FAIL naming the URL without its password", r.Status, r.Evidence)
	}
	if r := checkOf(t, "LD-IMG-405").Run(context.Background(), tg); r.Status != model.StatusFail || r.Evidence != "RepoTags: x:latest" {
		t.Errorf("LD-IMG-405 = %s %q, want FAIL RepoTags: x:latest", r.Status, r.Evidence)
	}
	if r := checkOf(t, "LD-IMG-403").Run(context.Background(), tg); r.Status != model.StatusFail || strings.Contains(r.Evidence, "pw1234") {
		t.Errorf("LD-IMG-403 = %s %q, want FAIL (password in the ADD URL) without the password", r.Status, r.Evidence)
	}
}

// TestUpdateAlone: CIS 4.7 on build history as both builders record it.
func TestUpdateAlone(t *testing.T) {
	cases := []struct {
		step string
		want string
	}{
		{"/bin/sh -c apt-get update", model.StatusFail},
		{"RUN /bin/sh -c apk update # buildkit", model.StatusFail},
		{"/bin/sh -c yum -y makecache", model.StatusFail},
		{"/bin/sh -c apt-get update && apt-get install -y --no-install-recommends curl", model.StatusPass},
		{"/bin/sh -c apk update && apk add curl", model.StatusPass},
		{"/bin/sh -c dnf -y update", model.StatusFail},
		{"/bin/sh -c apt-get upgrade -y", model.StatusPass},
		{"/bin/sh -c #(nop)  CMD [\"sh\"]", model.StatusPass},
	}
	for _, c := range cases {
		im := &Image{Name: "x", History: []image.HistoryResponseItem{{CreatedBy: c.step}}}
		r := checkOf(t, "LD-IMG-406").Run(context.Background(), &Target{Daemon: &Daemon{}, Image: im})
		if r.Status != c.want {
			t.Errorf("LD-IMG-406(%q) = %s %q, want %s", c.step, r.Status, r.Evidence, c.want)
		}
	}
}

// TestRootless: a rootless engine (Docker rootless or rootless Podman)
// passes 2.1 and 2.9 and is flagged in the engine's name.
func TestRootless(t *testing.T) {
	d := &Daemon{Podman: true, Version: types.Version{Version: "4.3.1"},
		Info: system.Info{SecurityOptions: []string{"name=seccomp,profile=default", "name=rootless"}}}
	for _, id := range []string{"LD-DKR-128", "LD-DKR-116"} {
		if r := checkOf(t, id).Run(context.Background(), &Target{Daemon: d}); r.Status != model.StatusPass || !strings.Contains(r.Evidence, "rootless") {
			t.Errorf("%s on a rootless engine = %s %q, want PASS naming rootless", id, r.Status, r.Evidence)
		}
	}
	if got := engineName(d); got != "Podman 4.3.1 (rootless)" {
		t.Errorf("engineName = %q, want Podman 4.3.1 (rootless)", got)
	}
}

func TestUnusedImages(t *testing.T) {
	a, b, c := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64), "sha256:"+strings.Repeat("c", 64)
	list := []image.Summary{
		{ID: a, RepoTags: []string{"web:1", "web:latest"}, Containers: -1},
		{ID: b, RepoTags: []string{"<none>:<none>"}, Containers: -1},
		{ID: c, RepoTags: []string{"db:2"}, Containers: -1},
	}
	got := unusedImages(list, map[string]bool{c: true})
	if diff := cmp.Diff([]string{"bbbbbbbbbbbb", "web:1"}, got); diff != "" {
		t.Errorf("unusedImages (-want +got):\n%s", diff)
	}
}

func TestBaseline(t *testing.T) {
	f := func(id, subject, status, ev string) model.Finding {
		return model.Finding{Kind: model.KindPosture, RuleID: id, Subject: subject, Scope: ScopeContainer, Status: status, Evidence: ev}
	}
	first := &model.Report{Kind: "audit", Meta: map[string]string{"score": "50"}, Findings: []model.Finding{
		f("LD-CTR-301", "web", model.StatusFail, "HostConfig.Privileged: true"),
		f("LD-CTR-302", "web", model.StatusPass, "none"),
		f("LD-CTR-319", "web", model.StatusFail, "HostConfig.Memory: 0 (unlimited)"),
	}}
	b := NewBaseline(first, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if len(b.Entries) != 2 {
		t.Fatalf("baseline entries = %d, want 2 (FAIL and WARN only)", len(b.Entries))
	}
	path := filepath.Join(t.TempDir(), "baseline.json")
	if err := b.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	b2, err := ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, b2); diff != "" {
		t.Fatalf("baseline round trip (-want +got):\n%s", diff)
	}
	second := &model.Report{Kind: "audit", Meta: map[string]string{}, Findings: []model.Finding{
		f("LD-CTR-301", "web", model.StatusFail, "HostConfig.Privileged: true"),                    // unchanged: accepted
		f("LD-CTR-319", "web", model.StatusPass, "HostConfig.Memory: 1 bytes"),                     // fixed: shown
		f("LD-CTR-302", "web", model.StatusFail, "HostConfig.CapAdd: SYS_ADMIN"),                   // new: shown
		f("LD-CTR-301", "db", model.StatusFail, "HostConfig.Privileged: true"),                     // other subject: shown
		f("LD-CTR-319", "web2", model.StatusFail, "HostConfig.Memory: 0 (unlimited), and changed"), // other evidence: shown
	}}
	out := b2.Apply(second)
	var shown []string
	for _, x := range out.Findings {
		shown = append(shown, x.RuleID+"/"+x.Subject+"/"+x.Status)
	}
	if diff := cmp.Diff([]string{"LD-CTR-319/web/PASS", "LD-CTR-302/web/FAIL", "LD-CTR-301/db/FAIL", "LD-CTR-319/web2/FAIL"}, shown); diff != "" {
		t.Errorf("Apply shown (-want +got):\n%s", diff)
	}
	if len(out.Suppressed) != 1 || out.Suppressed[0].By != "baseline" || out.Suppressed[0].Finding.Subject != "web" {
		t.Errorf("Apply suppressed = %+v, want the web LD-CTR-301 result", out.Suppressed)
	}
	if len(second.Findings) != 5 || len(second.Suppressed) != 0 {
		t.Error("Apply modified its input")
	}
	for _, bad := range []string{`{}`, `{"version":1,"entries":[{"ruleID":"x"}]}`, `{"version":1,"extra":1}`, `nope`} {
		if _, err := ParseBaseline([]byte(bad)); err == nil {
			t.Errorf("ParseBaseline(%s) = nil error, want one", bad)
		}
	}
}

// TestHostGates: without the LSM in the host kernel, AppArmor and SELinux
// are decided once for the host (not applicable), not once per container.
func TestHostGates(t *testing.T) {
	noLSM := &Target{Daemon: &Daemon{Info: system.Info{SecurityOptions: []string{"name=seccomp,profile=default"}}}}
	both := &Target{Daemon: &Daemon{Info: system.Info{SecurityOptions: []string{"name=apparmor", "name=selinux"}}}}
	for _, id := range []string{"LD-CTR-304", "LD-CTR-305"} {
		g, ok := checkOf(t, id).(HostGated)
		if !ok {
			t.Fatalf("%s is not host-gated", id)
		}
		r := g.Gate(noLSM)
		if r == nil || r.Status != model.StatusSkip || !strings.HasPrefix(r.Evidence, "not applicable: ") {
			t.Errorf("%s.Gate(no LSM) = %+v, want a not-applicable SKIP", id, r)
		}
		if r := g.Gate(both); r != nil {
			t.Errorf("%s.Gate(AppArmor and SELinux) = %+v, want nil (per container)", id, r)
		}
	}
}

// TestSSHD reads the process list as the Engine API's top returns it.
func TestSSHD(t *testing.T) {
	ins := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{Name: "/c", HostConfig: &container.HostConfig{}, State: &container.State{Running: true}},
		Config:            &container.Config{},
	}
	top := func(cmds ...string) *container.TopResponse {
		r := &container.TopResponse{Titles: []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}}
		for i, c := range cmds {
			r.Processes = append(r.Processes, []string{"root", strconv.Itoa(100 + i), "1", "0", "10:00", "?", "00:00:00", c})
		}
		return r
	}
	cases := []struct {
		name   string
		ps     *container.TopResponse
		status string
		ev     string
	}{
		{"sshd", top("/usr/sbin/sshd -D", "sleep 3600"), model.StatusFail, "sshd runs: pid 100: /usr/sbin/sshd -D"},
		{"session", top("sleep 1", "sshd: root@pts/0"), model.StatusFail, "sshd runs: pid 101: sshd: root@pts/0"},
		{"none", top("nginx: master process", "/bin/sshd-helper"), model.StatusPass, "no sshd among 2 processes"},
		{"no top", nil, model.StatusSkip, "the engine did not list the container's processes: unknown error"},
	}
	for _, c := range cases {
		r := checkOf(t, "LD-CTR-327").Run(context.Background(), &Target{Daemon: &Daemon{}, Container: &Container{Name: "c", Inspect: ins, Processes: c.ps}})
		if r.Status != c.status || r.Evidence != c.ev {
			t.Errorf("LD-CTR-327(%s) = %s %q, want %s %q", c.name, r.Status, r.Evidence, c.status, c.ev)
		}
	}
}

func TestCgroupContainer(t *testing.T) {
	id := strings.Repeat("ab", 32)
	want := map[string]bool{id: true}
	cases := map[string]string{
		"cgroup v1 cgroupfs": "9:name=systemd:/docker/" + id + "\n8:pids:/docker/" + id + "\n",
		"cgroup v2 systemd":  "0::/system.slice/docker-" + id + ".scope\n",
		"podman":             "0::/machine.slice/libpod-" + id + ".scope/container\n",
		"cgroup parent":      "8:pids:/ld15cg/" + id + "\n",
		"another container":  "8:pids:/docker/" + strings.Repeat("cd", 32) + "\n",
		"host process":       "9:name=systemd:/\n8:pids:/\n",
		"malformed":          "garbage",
	}
	for name, cg := range cases {
		got := cgroupContainer([]byte(cg), want)
		exp := id
		if strings.HasPrefix(name, "another") || name == "host process" || name == "malformed" {
			exp = ""
		}
		if got != exp {
			t.Errorf("cgroupContainer(%s) = %q, want %q", name, got, exp)
		}
	}
}

// TestMountEvidenceOrder: the engine returns a container's mounts in map
// order, which changes from one inspect to the next; the evidence must not,
// or a baseline written by one run does not match the next.
func TestMountEvidenceOrder(t *testing.T) {
	mounts := []container.MountPoint{
		{Type: "bind", Source: "/etc", Destination: "/e", Propagation: "rshared"},
		{Type: "bind", Source: "/run/docker.sock", Destination: "/a.sock", RW: true, Propagation: "shared"},
		{Type: "bind", Source: "/", Destination: "/host", Propagation: "rshared"},
		{Type: "bind", Source: "/srv/containerd.sock", Destination: "/b.sock", Propagation: "rshared"},
	}
	for _, id := range []string{"LD-CTR-315", "LD-CTR-316", "LD-CTR-317"} {
		t.Run(id, func(t *testing.T) {
			var want string
			for i := range mounts {
				ms := append(slices.Clone(mounts[i:]), mounts[:i]...)
				ins := container.InspectResponse{
					ContainerJSONBase: &container.ContainerJSONBase{Name: "/c", HostConfig: &container.HostConfig{}},
					Config:            &container.Config{},
					Mounts:            ms,
				}
				r := checkOf(t, id).Run(context.Background(), &Target{Daemon: &Daemon{}, Container: &Container{Name: "c", Inspect: ins}})
				if r.Status != model.StatusFail {
					t.Fatalf("%s(rotation %d) = %s %q, want FAIL", id, i, r.Status, r.Evidence)
				}
				if i == 0 {
					want = r.Evidence
					continue
				}
				if r.Evidence != want {
					t.Errorf("%s(rotation %d) evidence = %q, want %q (same mounts, another order)", id, i, r.Evidence, want)
				}
			}
		})
	}
}
