// Package seccomp builds Docker seccomp profiles: the logging profile an
// observation runs under, and the allow-list generated from what the
// workload was seen to call plus what the container runtime itself needs.
// It maps the kernel's syscall numbers to names for amd64 (x86_64, i386,
// x32) and arm64 (aarch64, arm), and compares a profile with Docker's
// default one.
package seccomp

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/elastic/go-seccomp-bpf/arch"
	moby "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Profile is a seccomp profile in Docker's JSON format.
type Profile = moby.Seccomp

// Audit architecture constants (linux/audit.h) as the kernel writes them
// into seccomp log records ("arch=c000003e").
const (
	AuditX86_64  uint32 = 0xc000003e
	AuditI386    uint32 = 0x40000003
	AuditAArch64 uint32 = 0xc00000b7
	AuditARM     uint32 = 0x40000028

	// x32Bit marks an x32 system call on the x86_64 audit architecture.
	x32Bit = 0x40000000
)

// platform is one Docker platform's seccomp architectures.
type platform struct {
	arches []specs.Arch
}

var platforms = map[string]platform{
	"amd64": {arches: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}},
	"arm64": {arches: []specs.Arch{specs.ArchAARCH64, specs.ArchARM}},
}

// Platforms lists the platforms (GOARCH names) this package has syscall
// tables for.
func Platforms() []string { return []string{"amd64", "arm64"} }

// NormalizePlatform maps what the Engine API or an image says
// ("x86_64", "aarch64", "linux/amd64") to a GOARCH name, or reports
// that there are no syscall tables for it.
func NormalizePlatform(s string) (string, error) {
	switch s {
	case "amd64", "x86_64", "linux/amd64":
		return "amd64", nil
	case "arm64", "aarch64", "linux/arm64", "linux/arm64/v8":
		return "arm64", nil
	}
	return "", fmt.Errorf("no syscall table for platform %q (supported: amd64, arm64)", s)
}

// SyscallName returns the name of system call nr of the audit
// architecture auditArch, as a seccomp log record reports them.
func SyscallName(auditArch uint32, nr int) (string, bool) {
	var info *arch.Info
	switch auditArch {
	case AuditX86_64:
		info = arch.X86_64
		if nr&x32Bit != 0 {
			info, nr = arch.X32, nr&^x32Bit
		}
	case AuditI386:
		info = arch.I386
	case AuditAArch64:
		info = arch.AARCH64
	case AuditARM:
		info = arch.ARM
	default:
		return "", false
	}
	name, ok := info.SyscallNumbers[nr]
	return name, ok
}

// KnownSyscall reports whether name is a system call of any of the
// platform's architectures.
func KnownSyscall(goarch, name string) bool {
	for _, info := range archInfos(goarch) {
		if _, ok := info.SyscallNames[name]; ok {
			return true
		}
	}
	return false
}

func archInfos(goarch string) []*arch.Info {
	switch goarch {
	case "amd64":
		return []*arch.Info{arch.X86_64, arch.I386, arch.X32}
	case "arm64":
		return []*arch.Info{arch.AARCH64, arch.ARM}
	}
	return nil
}

// RuntimeSyscalls are the calls a container needs whatever it runs: what
// runc's init makes after it installed the filter and before execve of
// the entrypoint (with no-new-privileges the filter goes in as late as
// possible: closing descriptors by listing /proc/self/fd, the exec FIFO,
// execve), what the Go runtime inside runc's init may make at any moment
// in between (signals, scheduling, memory), and what the kernel restarts
// or every process ends with. The observation sees most of them; listing
// them keeps a rare one (a garbage collection in runc's init, a
// restarted sleep) from making a start fail.
var RuntimeSyscalls = []string{
	// runc init after the filter: fifo, fd cleanup, exec.
	"close", "close_range", "execve", "execveat", "fcntl", "fstat", "fstatfs", "newfstatat", "getdents64",
	"openat", "read", "write", "getpid", "getppid", "kill", "epoll_ctl", "epoll_pwait", "capget", "capset",
	"prctl", "setgroups", "setresgid", "setresuid", "chdir",
	// Go runtime of runc's init: threads, signals, memory, time.
	"futex", "sched_yield", "nanosleep", "clock_nanosleep", "clock_gettime", "gettid", "tgkill",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "mmap", "munmap", "madvise",
	"mprotect", "brk", "clone", "clone3", "sched_getaffinity", "getrandom",
	// Every process.
	"restart_syscall", "exit", "exit_group", "arch_prctl", "set_tid_address", "set_robust_list", "rseq",
}

// siblings are calls that do the same thing in another form: the libc
// (or its version) picks among them, so a workload seen to make one may
// make another on the next run (dash forks with vfork for one command
// and clone for a pipeline). None is more dangerous than its sibling.
var siblings = [][]string{
	{"clone", "fork", "vfork"},
	{"open", "openat", "openat2", "creat"},
	{"stat", "lstat", "fstat", "newfstatat", "statx", "fstatat64", "stat64", "lstat64", "fstat64"},
	{"dup", "dup2", "dup3"},
	{"pipe", "pipe2"},
	{"poll", "ppoll"},
	{"select", "pselect6", "_newselect"},
	{"epoll_wait", "epoll_pwait", "epoll_pwait2"},
	{"epoll_create", "epoll_create1"},
	{"accept", "accept4"},
	{"wait4", "waitid", "waitpid"},
	{"eventfd", "eventfd2"},
	{"signalfd", "signalfd4"},
	{"getdents", "getdents64"},
	{"access", "faccessat", "faccessat2"},
	{"readlink", "readlinkat"},
	{"unlink", "unlinkat"},
	{"rename", "renameat", "renameat2"},
	{"mkdir", "mkdirat"},
	{"rmdir", "unlinkat"},
	{"chmod", "fchmod", "fchmodat", "fchmodat2"},
	{"chown", "fchown", "lchown", "fchownat"},
	{"link", "linkat"},
	{"symlink", "symlinkat"},
	{"utime", "utimes", "utimensat", "futimesat"},
	{"send", "sendto"},
	{"recv", "recvfrom"},
	{"getrlimit", "prlimit64", "ugetrlimit"},
	{"sendfile", "sendfile64"},
	{"nanosleep", "clock_nanosleep"},
	{"time", "gettimeofday", "clock_gettime"},
	{"mmap", "mmap2"},
	{"lseek", "_llseek"},
}

// cloneNamespaces are the clone flags that make namespaces
// (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET): clone is
// allowed only without them, as in Docker's default profile, so a
// process cannot do with clone what unshare is refused.
const cloneNamespaces = 0x7E020000

// LogProfile is the profile an observation runs under: every system call
// is allowed and logged by the kernel (SCMP_ACT_LOG).
func LogProfile(goarch string) (*Profile, error) {
	p, ok := platforms[goarch]
	if !ok {
		return nil, fmt.Errorf("no seccomp architectures for platform %q", goarch)
	}
	prof := &Profile{Syscalls: []*moby.Syscall{}}
	prof.DefaultAction = specs.ActLog
	prof.Architectures = slices.Clone(p.arches)
	return prof, nil
}

// Generate returns the allow-list profile for a workload that was seen to
// make the observed calls: default action SCMP_ACT_ERRNO (EPERM), the
// platform's architectures, the observed calls in one rule and the
// runtime's own needs that were not observed in a second. Names that no
// architecture of the platform knows are an error.
func Generate(goarch string, observed []string) (*Profile, error) {
	p, ok := platforms[goarch]
	if !ok {
		return nil, fmt.Errorf("no seccomp architectures for platform %q", goarch)
	}
	seen := map[string]bool{}
	var obs []string
	for _, n := range observed {
		if !KnownSyscall(goarch, n) {
			return nil, fmt.Errorf("system call %q is not known on %s", n, goarch)
		}
		if !seen[n] {
			seen[n] = true
			obs = append(obs, n)
		}
	}
	var more []string
	add := func(n string) {
		if !seen[n] && KnownSyscall(goarch, n) {
			seen[n] = true
			more = append(more, n)
		}
	}
	for _, n := range RuntimeSyscalls {
		add(n)
	}
	for _, g := range siblings {
		if slices.ContainsFunc(g, func(n string) bool { return seen[n] }) {
			for _, n := range g {
				add(n)
			}
		}
	}
	// clone and clone3 get rules of their own below.
	clone := seen["clone"]
	obs = slices.DeleteFunc(obs, func(n string) bool { return n == "clone" || n == "clone3" })
	more = slices.DeleteFunc(more, func(n string) bool { return n == "clone" || n == "clone3" })
	slices.Sort(obs)
	slices.Sort(more)
	prof := &Profile{Syscalls: []*moby.Syscall{}}
	prof.DefaultAction = specs.ActErrno
	prof.Architectures = slices.Clone(p.arches)
	if len(obs) > 0 {
		prof.Syscalls = append(prof.Syscalls, &moby.Syscall{
			LinuxSyscall: specs.LinuxSyscall{Names: obs, Action: specs.ActAllow},
			Comment:      "observed: the workload made these calls",
		})
	}
	if len(more) > 0 {
		prof.Syscalls = append(prof.Syscalls, &moby.Syscall{
			LinuxSyscall: specs.LinuxSyscall{Names: more, Action: specs.ActAllow},
			Comment:      "runtime and siblings: runc needs these to start the entrypoint, every process to run and end, and other forms of observed calls",
		})
	}
	if clone {
		prof.Syscalls = append(prof.Syscalls, &moby.Syscall{
			LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 0, Value: cloneNamespaces, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			Comment: "clone without namespace flags (as in Docker's default profile)",
		})
	}
	enosys := uint(38)
	prof.Syscalls = append(prof.Syscalls, &moby.Syscall{
		LinuxSyscall: specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		Comment:      "clone3 cannot be filtered by its flags: ENOSYS makes the libc fall back to clone",
	})
	return prof, nil
}

// Allowed returns the sorted names a profile allows, unconditionally or
// under argument conditions (counted in conditional).
func Allowed(p *Profile) (names []string, conditional int) {
	set := map[string]bool{}
	for _, s := range p.Syscalls {
		if s.Action != specs.ActAllow && s.Action != specs.ActLog {
			continue
		}
		if len(s.Args) > 0 || s.Includes != nil || s.Excludes != nil {
			conditional++
		}
		for _, n := range s.Names {
			set[n] = true
		}
		if s.Name != "" {
			set[s.Name] = true
		}
	}
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, conditional
}

// Size compares a profile with Docker's default profile.
type Size struct {
	Syscalls      int `json:"syscalls"`      // names the profile allows
	DockerDefault int `json:"dockerDefault"` // names Docker's default profile allows (same platform, same capabilities)
	Bytes         int `json:"bytes"`         // the profile's JSON
	DockerBytes   int `json:"dockerBytes"`   // Docker's default profile's JSON
}

// Compare measures p against Docker's default profile as it applies to a
// container of platform goarch with the capabilities caps (Docker's
// default adds rules for some capabilities, e.g. SYS_ADMIN).
func Compare(p *Profile, goarch string, caps []string) (Size, error) {
	ours, _ := Allowed(p)
	def, err := DockerDefault(goarch, caps)
	if err != nil {
		return Size{}, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return Size{}, fmt.Errorf("encode profile: %w", err)
	}
	db, err := dockerDefaultBytes()
	if err != nil {
		return Size{}, fmt.Errorf("encode docker's default profile: %w", err)
	}
	return Size{Syscalls: len(ours), DockerDefault: len(def), Bytes: len(b), DockerBytes: db}, nil
}

// dockerDefaultBytes is the size of Docker's default profile as JSON.
var dockerDefaultBytes = sync.OnceValues(func() (int, error) {
	b, err := json.Marshal(moby.DefaultProfile())
	return len(b), err
})

// DockerDefault returns the names Docker's default profile allows for a
// container of platform goarch with capabilities caps ("CAP_SYS_ADMIN" or
// "SYS_ADMIN"), counting every name of a rule that allows it under
// argument conditions too (the default lets clone and socket through
// with conditions).
func DockerDefault(goarch string, caps []string) ([]string, error) {
	if _, ok := platforms[goarch]; !ok {
		return nil, fmt.Errorf("no seccomp architectures for platform %q", goarch)
	}
	full := make([]string, len(caps))
	for i, c := range caps {
		full[i] = "CAP_" + trimCap(c)
	}
	slices.Sort(full)
	key := goarch + " " + strings.Join(full, ",")
	if v, ok := dockerDefaults.Load(key); ok {
		return slices.Clone(v.([]string)), nil
	}
	set := map[string]bool{}
	for _, s := range moby.DefaultProfile().Syscalls {
		if s.Action != specs.ActAllow {
			continue
		}
		if !filterApplies(s.Includes, goarch, full, true) || (s.Excludes != nil && filterApplies(s.Excludes, goarch, full, false)) {
			continue
		}
		for _, n := range s.Names {
			if KnownSyscall(goarch, n) {
				set[n] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	dockerDefaults.Store(key, out)
	return slices.Clone(out), nil
}

// dockerDefaults caches DockerDefault by platform and capabilities: the
// default profile is the same for every observation.
var dockerDefaults sync.Map

// filterApplies evaluates a rule's includes (all conditions must hold) or
// excludes (any condition excludes) for the platform and capabilities;
// kernel version conditions are taken as met (the comparison is about the
// profile, not this host's kernel).
func filterApplies(f *moby.Filter, goarch string, caps []string, include bool) bool {
	if f == nil {
		return include
	}
	native := map[string]string{"amd64": "amd64", "arm64": "arm64"}[goarch]
	if include {
		if len(f.Arches) > 0 && !slices.Contains(f.Arches, native) {
			return false
		}
		for _, c := range f.Caps {
			if !slices.Contains(caps, c) {
				return false
			}
		}
		return true
	}
	if slices.Contains(f.Arches, native) {
		return true
	}
	for _, c := range f.Caps {
		if slices.Contains(caps, c) {
			return true
		}
	}
	return false
}

func trimCap(c string) string {
	if len(c) > 4 && (c[:4] == "CAP_" || c[:4] == "cap_") {
		c = c[4:]
	}
	b := []byte(c)
	for i, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			b[i] = ch - 32
		}
	}
	return string(b)
}
