package seccomp

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestSyscallName(t *testing.T) {
	cases := []struct {
		arch uint32
		nr   int
		want string
		ok   bool
	}{
		{AuditX86_64, 257, "openat", true},
		{AuditX86_64, 59, "execve", true},
		{AuditX86_64, 272, "unshare", true},
		{AuditX86_64, x32Bit | 1, "write", true},
		{AuditI386, 11, "execve", true},
		{AuditAArch64, 221, "execve", true},
		{AuditAArch64, 97, "unshare", true},
		{AuditARM, 11, "execve", true},
		{AuditX86_64, 99999, "", false},
		{0x1234, 1, "", false},
	}
	for _, c := range cases {
		got, ok := SyscallName(c.arch, c.nr)
		if got != c.want || ok != c.ok {
			t.Errorf("SyscallName(%#x, %d) = %q, %v; want %q, %v", c.arch, c.nr, got, ok, c.want, c.ok)
		}
	}
}

func TestGenerate(t *testing.T) {
	p, err := Generate("amd64", []string{"write", "openat", "write", "epoll_wait", "close"})
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != specs.ActErrno {
		t.Errorf("defaultAction = %s, want SCMP_ACT_ERRNO", p.DefaultAction)
	}
	if d := cmp.Diff([]specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}, p.Architectures); d != "" {
		t.Errorf("architectures (-want +got):\n%s", d)
	}
	if len(p.Syscalls) != 4 {
		t.Fatalf("%d rules, want 4 (observed, runtime and siblings, clone, clone3)", len(p.Syscalls))
	}
	if c := p.Syscalls[2]; c.Names[0] != "clone" || len(c.Args) != 1 || c.Args[0].Value != cloneNamespaces || c.Args[0].Op != specs.OpMaskedEqual {
		t.Errorf("clone rule %+v: want clone only without namespace flags", c)
	}
	if c := p.Syscalls[3]; c.Names[0] != "clone3" || c.Action != specs.ActErrno || *c.ErrnoRet != 38 {
		t.Errorf("clone3 rule %+v: want ENOSYS", c)
	}
	if d := cmp.Diff([]string{"close", "epoll_wait", "openat", "write"}, p.Syscalls[0].Names); d != "" {
		t.Errorf("observed rule (-want +got):\n%s", d)
	}
	rt := p.Syscalls[1].Names
	for _, n := range []string{"execve", "futex", "exit_group", "epoll_pwait", "epoll_pwait2", "fork", "vfork", "open", "creat"} {
		if !slices.Contains(rt, n) {
			t.Errorf("runtime rule lacks %s", n)
		}
	}
	if slices.Contains(rt, "write") || slices.Contains(rt, "close") {
		t.Errorf("runtime rule repeats an observed call: %v", rt)
	}
	all, cond := Allowed(p)
	if cond != 1 || slices.Contains(all, "unshare") || slices.Contains(all, "mount") || slices.Contains(all, "ptrace") {
		t.Errorf("Allowed = %v (%d conditional): must not allow unshare, mount, ptrace", all, cond)
	}
	b, _ := json.Marshal(p)
	var back Profile
	if err := json.Unmarshal(b, &back); err != nil || back.DefaultAction != specs.ActErrno {
		t.Errorf("round trip: %v %+v", err, back)
	}
	if _, err := Generate("amd64", []string{"no_such_call"}); err == nil || err.Error() != `system call "no_such_call" is not known on amd64` {
		t.Errorf("Generate(unknown) error = %v", err)
	}
	if _, err := Generate("s390x", nil); err == nil {
		t.Errorf("Generate(s390x) = nil error")
	}
}

func TestCompareWithDockerDefault(t *testing.T) {
	p, err := Generate("amd64", []string{"read", "write", "openat", "close", "socket", "bind", "listen", "accept4"})
	if err != nil {
		t.Fatal(err)
	}
	sz, err := Compare(p, "amd64", nil)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := Allowed(p)
	if sz.Syscalls != len(all) || sz.Syscalls < 60 {
		t.Errorf("Syscalls = %d, want %d (observed, runtime, siblings)", sz.Syscalls, len(all))
	}
	if sz.DockerDefault < 300 || sz.Syscalls >= sz.DockerDefault || sz.Bytes >= sz.DockerBytes {
		t.Errorf("size %+v: ours must be smaller than Docker's default (300+ calls)", sz)
	}
	def, _ := DockerDefault("amd64", nil)
	withAdmin, _ := DockerDefault("amd64", []string{"SYS_ADMIN"})
	if slices.Contains(def, "mount") || !slices.Contains(withAdmin, "mount") {
		t.Errorf("Docker's default: mount allowed without SYS_ADMIN = %v, with = %v; want false, true", slices.Contains(def, "mount"), slices.Contains(withAdmin, "mount"))
	}
	if slices.Contains(def, "ptrace") != true {
		// Docker's default allows ptrace on kernels >= 4.8.
		t.Errorf("Docker's default without caps does not allow ptrace")
	}
}

func TestNormalizePlatform(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "linux/amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"} {
		if got, err := NormalizePlatform(in); got != want || err != nil {
			t.Errorf("NormalizePlatform(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizePlatform("riscv64"); err == nil {
		t.Errorf("NormalizePlatform(riscv64) = nil error")
	}
}

// BenchmarkGenerate is the profile generation of one observation: 120
// observed names (a busy server) into an allow-list, and its comparison
// with Docker's default profile.
func BenchmarkGenerate(b *testing.B) {
	var names []string
	for _, n := range []int{0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14, 16, 17, 20, 21, 22, 23, 24, 28, 32, 33, 35, 39, 41, 42, 43, 44, 45, 46, 47, 49, 50, 51, 52, 54, 55, 56, 57, 59, 60, 61, 62, 63, 72, 79, 80, 89, 96, 97, 102, 104, 107, 108, 110, 137, 138, 157, 158, 186, 202, 217, 218, 228, 230, 231, 232, 233, 257, 262, 270, 271, 273, 281, 288, 290, 291, 292, 293, 302, 318, 332, 334, 435, 439} {
		name, ok := SyscallName(AuditX86_64, n)
		if !ok {
			b.Fatalf("no name for %d", n)
		}
		names = append(names, name)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := Generate("amd64", names)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compare(p, "amd64", []string{"NET_BIND_SERVICE"}); err != nil {
			b.Fatal(err)
		}
	}
}
