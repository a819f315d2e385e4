// Package harden generates the hardened configuration of a Docker
// workload and proves it: it observes the workload in a throwaway
// container (internal/harden/observe), writes a seccomp allow-list and an
// AppArmor profile from what it saw, finds the capabilities it cannot do
// without by trying without them, sets limits from its peak use, and runs
// the result to check that the workload still passes. The daemon's own
// hardening is in internal/harden/daemon.
package harden

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"

	"github.com/lockdown-sec/lockdown/internal/harden/apparmor"
	"github.com/lockdown-sec/lockdown/internal/harden/observe"
	"github.com/lockdown-sec/lockdown/internal/harden/seccomp"
	"github.com/lockdown-sec/lockdown/internal/image"
)

// Engine is the part of the Docker client harden uses.
type Engine interface {
	observe.Engine
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (dimage.InspectResponse, error)
	Info(ctx context.Context) (system.Info, error)
}

var _ Engine = (*client.Client)(nil)

// ErrBadInput marks errors in what harden was given: no such image or
// container, a workload that exits at once or fails before any
// hardening, observation that cannot read the seccomp log. It is the
// project's one bad-input mark (the CLI exits 2).
var ErrBadInput = image.ErrBadInput

// Config configures one hardening. The zero value observes for the
// default time with no test command.
type Config struct {
	Engine Engine
	// Test runs inside the container once it has settled; exit 0 passes.
	// Without one, the workload passes by staying up (or exiting 0).
	Test []string
	// Observe is how long the workload runs under observation at least
	// (default 5s; the run also lasts until the test command ends).
	Observe time.Duration
	// Settle is the wait between start and test command (default 1s).
	Settle      time.Duration
	TestTimeout time.Duration
	StopTimeout time.Duration
	// Network is the network mode for an image ("" = none), Sysctls its
	// namespaced kernel settings. A container keeps its own.
	Network string
	Sysctls map[string]string
	// User overrides the choice of user ("" = the image's when it is not
	// root, else 65534:65534 when the workload passes as it).
	User string
	// Cmd overrides the image's command (harden image REF -- CMD is the
	// test command; this is the workload's).
	Cmd []string
	// Name names the profiles and the service ("" = from the image or
	// container name).
	Name string
	// ContainerPrefix prefixes the throwaway containers' names (default
	// "lockdown-harden-"); Labels are put on them.
	ContainerPrefix string
	Labels          map[string]string
	Logger          *slog.Logger
}

// NonRootUser is the user tried for a workload whose image runs as root.
const NonRootUser = "65534:65534"

// DefaultCaps is Docker's default capability set, which a root workload
// is minimised from.
var DefaultCaps = []string{"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
	"NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}

// Image hardens what image ref runs.
func Image(ctx context.Context, cfg Config, ref string) (*Plan, error) {
	h, err := newHardener(cfg)
	if err != nil {
		return nil, err
	}
	img, err := h.eng.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("image %s: not in the engine (harden never pulls: docker pull or docker load it first): %w", ref, ErrBadInput)
		}
		return nil, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	w := observe.Workload{Image: img.ID, Network: cfg.Network, Cmd: cfg.Cmd, Sysctls: cfg.Sysctls}
	p := &Plan{Subject: "image " + ref, Image: ref, ImageID: img.ID, Cmd: cfg.Cmd, Network: orNone(cfg.Network), Sysctls: cfg.Sysctls}
	imgUser := ""
	if img.Config != nil {
		imgUser = img.Config.User
		p.WorkingDir = img.Config.WorkingDir
	}
	return h.run(ctx, p, w, img, imgUser, defaultName(cfg.Name, ref))
}

// Container hardens what container nameOrID runs. The container itself
// is not touched: a copy of it (image, command, environment, working
// directory, network) runs in the throwaway containers; its mounts are
// not copied.
func Container(ctx context.Context, cfg Config, nameOrID string) (*Plan, error) {
	h, err := newHardener(cfg)
	if err != nil {
		return nil, err
	}
	c, err := h.eng.ContainerInspect(ctx, nameOrID)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("container %s: no such container: %w", nameOrID, ErrBadInput)
		}
		return nil, fmt.Errorf("inspect container %s: %w", nameOrID, err)
	}
	if c.Config == nil || c.HostConfig == nil {
		return nil, fmt.Errorf("container %s: inspect data is incomplete", nameOrID)
	}
	img, err := h.eng.ImageInspect(ctx, c.Image)
	if err != nil {
		return nil, fmt.Errorf("inspect image %s of container %s: %w", c.Image, nameOrID, err)
	}
	name := strings.TrimPrefix(c.Name, "/")
	netMode := string(c.HostConfig.NetworkMode)
	if netMode == "default" || netMode == "host" || strings.HasPrefix(netMode, "container:") {
		netMode = "bridge"
	}
	w := observe.Workload{Image: c.Image, Entrypoint: c.Config.Entrypoint, Cmd: c.Config.Cmd, Env: c.Config.Env,
		WorkingDir: c.Config.WorkingDir, Network: netMode, Sysctls: c.HostConfig.Sysctls}
	p := &Plan{Sysctls: c.HostConfig.Sysctls, Subject: "container " + name, Image: c.Config.Image, ImageID: c.Image, Entrypoint: c.Config.Entrypoint, Cmd: c.Config.Cmd,
		WorkingDir: c.Config.WorkingDir, Network: netMode}
	for _, e := range c.Config.Env {
		k, _, _ := strings.Cut(e, "=")
		p.EnvNames = append(p.EnvNames, k)
	}
	return h.run(ctx, p, w, img, c.Config.User, defaultName(cfg.Name, name))
}

type hardener struct {
	cfg  Config
	eng  Engine
	log  *slog.Logger
	run0 string // random part of the throwaway containers' names
	n    int
}

func newHardener(cfg Config) (*hardener, error) {
	if cfg.Engine == nil {
		return nil, errors.New("harden: no Docker engine")
	}
	// Before anything else: without the seccomp log there is nothing to
	// learn from.
	if err := observe.Available(); err != nil {
		return nil, fmt.Errorf("observation needs the kernel's seccomp log: %w: %w", err, ErrBadInput)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Observe <= 0 {
		cfg.Observe = 5 * time.Second
	}
	if cfg.ContainerPrefix == "" {
		cfg.ContainerPrefix = "lockdown-harden-"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &hardener{cfg: cfg, eng: cfg.Engine, log: log, run0: hex.EncodeToString(b)}, nil
}

var nameClean = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9_.-]+`) })

// defaultName is a profile and service name from a reference or name.
func defaultName(given, from string) string {
	if given != "" {
		return given
	}
	from = path.Base(strings.SplitN(from, "@", 2)[0])
	from, _, _ = strings.Cut(from, ":")
	from = strings.Trim(nameClean().ReplaceAllString(from, "-"), "-.")
	if from == "" {
		from = "workload"
	}
	return from
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// runOnce runs the workload once under c.
func (h *hardener) runOnce(ctx context.Context, p *Plan, what string, w observe.Workload, c observe.Confinement, watch bool, observeFor time.Duration) (*observe.Result, error) {
	h.n++
	res, err := observe.Run(ctx, h.eng, w, c, observe.Options{
		Test: h.cfg.Test, Observe: observeFor, Settle: h.cfg.Settle, TestTimeout: h.cfg.TestTimeout, StopTimeout: h.cfg.StopTimeout,
		Syscalls: watch, Name: fmt.Sprintf("%s%s-%d", h.cfg.ContainerPrefix, h.run0, h.n), Labels: h.cfg.Labels, Logger: h.log,
	})
	if err != nil {
		if errors.Is(err, observe.ErrNoSeccompLog) {
			return nil, fmt.Errorf("%s: %w: %w", what, err, ErrBadInput)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	t := Trial{What: what, Passed: res.Passed, Reason: res.Reason, Duration: res.Duration.Round(time.Millisecond)}
	if !res.Passed {
		t.Output = strings.TrimSpace(res.TestOutput + "\n" + res.Logs)
	}
	p.Trials = append(p.Trials, t)
	h.log.Info("harden run", "what", what, "passed", res.Passed, "reason", res.Reason, "took", t.Duration)
	return res, nil
}

func (h *hardener) run(ctx context.Context, p *Plan, w observe.Workload, img dimage.InspectResponse, imgUser, name string) (*Plan, error) {
	p.Name = name
	plat, err := seccomp.NormalizePlatform(img.Architecture)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", p.Image, err)
	}
	p.Platform = plat
	p.Test = h.cfg.Test
	logProfile, err := seccomp.LogProfile(plat)
	if err != nil {
		return nil, err
	}
	logJSON, err := json.Marshal(logProfile)
	if err != nil {
		return nil, err
	}

	// 1. Observe, as a non-root user when the image runs as root and the
	// workload passes that way.
	users := []string{h.cfg.User}
	switch {
	case h.cfg.User != "":
	case !isRoot(imgUser):
		users = []string{imgUser}
	default:
		users = []string{NonRootUser, ""}
	}
	var obs *observe.Result
	var nonRootFailure string
	for i, u := range users {
		what := "observe as " + userLabel(u)
		obs, err = h.runOnce(ctx, p, what, w, observe.Confinement{User: u, Seccomp: string(logJSON), NoNewPrivileges: true}, true, h.cfg.Observe)
		if err != nil {
			return nil, err
		}
		if obs.Passed {
			p.User = u
			break
		}
		detail := orNoOutput(strings.TrimSpace(obs.TestOutput + "\n" + obs.Logs))
		if i < len(users)-1 {
			nonRootFailure = obs.Reason + " (output: " + detail + ")"
			continue
		}
		if obs.ExitedEarly {
			return nil, fmt.Errorf("%s: %w: %s (output: %s): %w", p.Subject, observe.ErrExitedAtOnce, obs.Reason, detail, ErrBadInput)
		}
		return nil, fmt.Errorf("%s: the workload fails before any hardening: %s (output: %s): %w", p.Subject, obs.Reason, detail, ErrBadInput)
	}
	if obs.Records == 0 {
		return nil, fmt.Errorf("%s: %w: the kernel logged no seccomp record for the container's processes (audit disabled, audit=0?): %w", p.Subject, observe.ErrNoSeccompLog, ErrBadInput)
	}
	switch {
	case isRoot(p.User) && nonRootFailure != "":
		p.User = "0:0"
		p.UserNote = "the workload needs root: as " + NonRootUser + " " + nonRootFailure
	case isRoot(p.User):
		p.UserNote = "runs as root as configured"
	case p.User == NonRootUser:
		p.UserNote = "the image runs as root; the workload passes as nobody (" + NonRootUser + ")"
	}
	p.Observed = Observed{Duration: obs.Duration.Round(time.Millisecond), Records: obs.Records, Syscalls: obs.Syscalls, Executables: obs.Executables,
		Changes: obs.Changes, PeakMemory: obs.PeakMemory, PeakPids: obs.PeakPids, PeakCPU: math.Round(obs.PeakCPU*1000) / 1000}

	// 2. What it learned: profile, writable paths, limits.
	prof, err := seccomp.Generate(plat, obs.Syscalls)
	if err != nil {
		return nil, err
	}
	p.Seccomp = prof
	profJSON, err := json.Marshal(prof)
	if err != nil {
		return nil, err
	}
	tree := h.imageTree(ctx, p.ImageID)
	p.Tmpfs = writtenDirs(obs.Changes, tree.entriesUnder)
	// Docker copies the image directory's content and mode into a tmpfs
	// (tmpcopyup) but the mount's root belongs to root: a non-root user
	// must own it to write there.
	if uid, gid, ok := numericUser(p.User); ok && uid != 0 {
		for i := range p.Tmpfs {
			p.Tmpfs[i].Options += fmt.Sprintf(",uid=%d,gid=%d", uid, gid)
		}
	}
	p.ReadOnly = true
	p.NoNewPrivileges = true
	ncpu := 0
	if info, err := h.eng.Info(ctx); err == nil {
		ncpu = info.NCPU
	}
	p.Memory, p.NanoCPUs, p.PidsLimit = limits(obs.PeakMemory, obs.PeakCPU, obs.PeakPids, ncpu)
	p.RestartPolicy = "on-failure:5"
	if len(h.cfg.Test) > 0 {
		p.Healthcheck = h.cfg.Test
	}
	p.CapDrop = []string{"ALL"}
	p.CapAdd = []string{}

	hardened := func(caps []string) observe.Confinement {
		tm := map[string]string{}
		for _, t := range p.Tmpfs {
			tm[t.Path] = t.Options
		}
		return observe.Confinement{User: p.User, Seccomp: string(profJSON), CapDrop: []string{"ALL"}, CapAdd: caps, ReadOnly: true,
			Tmpfs: tm, NoNewPrivileges: true, Memory: p.Memory, NanoCPUs: p.NanoCPUs, PidsLimit: p.PidsLimit}
	}
	// 3. Capabilities: none at all first; a root workload that fails so
	// gets Docker's default set back and is minimised from it.
	res, err := h.runOnce(ctx, p, "hardened, no capabilities", w, hardened(nil), false, 0)
	if err != nil {
		return nil, err
	}
	p.Verified = res.Passed
	switch {
	case res.Passed:
		p.CapNote = "passes with every capability dropped"
	case !isRoot(p.User):
		p.CapNote = "a non-root process has no capabilities in any case; the failure is not about them"
	default:
		full, err := h.runOnce(ctx, p, "hardened, Docker's default capabilities", w, hardened(DefaultCaps), false, 0)
		if err != nil {
			return nil, err
		}
		if !full.Passed {
			p.CapNote = "fails with Docker's default capabilities too: the failure is not about capabilities"
			break
		}
		tried := map[string]bool{"": false, strings.Join(DefaultCaps, ","): true}
		var runErr error
		pass := func(caps []string) bool {
			k := strings.Join(caps, ",")
			if v, ok := tried[k]; ok {
				return v
			}
			if runErr != nil {
				return false
			}
			r, err := h.runOnce(ctx, p, "hardened, capabilities "+k, w, hardened(caps), false, 0)
			if err != nil {
				runErr = err
				return false
			}
			tried[k] = r.Passed
			return r.Passed
		}
		need := minimizeCaps(DefaultCaps, nil, pass)
		if runErr != nil {
			return nil, runErr
		}
		slices.Sort(need)
		p.CapAdd = need
		// The minimal set passed in the search (or is the full set).
		p.Verified = pass(need)
		p.CapNote = fmt.Sprintf("fails without %s (each tried without, from Docker's default set)", strings.Join(need, ", "))
	}
	p.SeccompSize, err = seccomp.Compare(prof, plat, p.CapAdd)
	if err != nil {
		return nil, err
	}

	// 4. AppArmor, from the image's directories and what ran.
	aa := apparmor.Input{Name: "lockdown-" + p.Name, Executables: obs.Executables, Network: usesNetwork(obs.Syscalls),
		Capabilities: p.CapAdd, ImageDirs: tree.topDirs()}
	for _, t := range p.Tmpfs {
		aa.Writable = append(aa.Writable, t.Path)
	}
	p.AppArmor = AppArmor{Name: aa.Name, Enforced: apparmor.KernelEnabled()}
	if p.AppArmor.Profile, err = apparmor.Generate(aa); err != nil {
		return nil, err
	}
	if err := apparmor.Check(ctx, p.AppArmor.Profile); err != nil {
		p.AppArmor.Parsed = err.Error()
	} else {
		p.AppArmor.Parsed = "ok"
	}
	if !p.AppArmor.Enforced {
		p.AppArmor.Note = "this host's kernel has no AppArmor: the profile was checked with apparmor_parser -Q but not enforced in the runs; load it with apparmor_parser -r on a host with AppArmor"
	}
	p.SELinux = "on an SELinux host (dockerd --selinux-enabled) keep the default container_t type with its per-container MCS label: do not set label=disable; relabel any bind mount with :Z (private) or :z (shared); the tmpfs mounts need no label"
	p.Fixes, p.NotFixed = fixes(p)
	return p, nil
}

// minimizeCaps returns a small subset of cands that passes together with
// keep, knowing that cands ∪ keep passes: a half that is not needed is
// dropped whole, and each capability of a needed half is tried without.
func minimizeCaps(cands, keep []string, pass func([]string) bool) []string {
	with := func(a, b []string) []string {
		out := slices.Concat(a, b)
		slices.Sort(out)
		return slices.Compact(out)
	}
	if len(cands) == 0 || pass(with(keep, nil)) {
		return nil
	}
	if len(cands) == 1 {
		return cands
	}
	a, b := cands[:len(cands)/2], cands[len(cands)/2:]
	needA := minimizeCaps(a, with(keep, b), pass)
	needB := minimizeCaps(b, with(keep, needA), pass)
	return with(needA, needB)
}

// limits sets memory (twice the peak, at least 64 MiB, in MiB), CPU
// (twice the peak, at least half a CPU, at most the host's) and PIDs
// (four times the peak, at least 64).
func limits(peakMem int64, peakCPU float64, peakPids int64, ncpu int) (mem, nanoCPUs, pids int64) {
	const mib = 1 << 20
	mem = max(64*mib, (2*peakMem+mib-1)/mib*mib)
	cpu := max(0.5, math.Ceil(peakCPU*2*4)/4)
	if ncpu > 0 {
		cpu = min(cpu, float64(ncpu))
	}
	nanoCPUs = int64(cpu * 1e9)
	pids = max(64, 4*peakPids)
	return mem, nanoCPUs, pids
}

func usesNetwork(calls []string) bool {
	for _, c := range []string{"socket", "connect", "bind", "accept", "accept4", "sendto", "recvfrom"} {
		if slices.Contains(calls, c) {
			return true
		}
	}
	return false
}

func isRoot(u string) bool {
	name, _, _ := strings.Cut(u, ":")
	return name == "" || name == "root" || name == "0"
}

func userLabel(u string) string {
	if u == "" {
		return "the image's user (root)"
	}
	return u
}

func orNoOutput(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "none"
	}
	if len(s) > 400 {
		s = s[len(s)-400:]
	}
	return strings.Join(strings.Fields(s), " ")
}

// fixes lists the audit checks the plan makes pass and those it leaves.
func fixes(p *Plan) (fixed, left []Fix) {
	add := func(id, setting string) { fixed = append(fixed, Fix{Check: id, Setting: setting}) }
	leave := func(id, why string) { left = append(left, Fix{Check: id, Setting: why}) }
	add(CheckPrivileged, "not privileged")
	add(CheckDangerousCaps, "--cap-drop ALL --cap-add "+orNoneList(p.CapAdd))
	if slices.Contains(p.CapAdd, "NET_RAW") {
		leave(CheckNetRaw, "the workload fails without NET_RAW")
	} else {
		add(CheckNetRaw, "--cap-drop ALL")
	}
	add(CheckAppArmor, "--security-opt apparmor="+p.AppArmor.Name)
	add(CheckSELinux, "no label=disable")
	add(CheckSeccomp, "--security-opt seccomp=<generated allow-list>")
	add(CheckNoNewPrivs, "--security-opt no-new-privileges")
	if isRoot(p.User) {
		leave(CheckNonRoot, p.UserNote)
	} else {
		add(CheckNonRoot, "--user "+p.User)
	}
	add(CheckReadOnly, "--read-only with tmpfs for the written paths")
	for _, id := range []string{CheckHostPID, CheckHostIPC, CheckHostUTS, CheckHostUser} {
		add(id, "no host namespace")
	}
	if p.Network != "host" {
		add(CheckHostNetwork, "--network "+p.Network)
	}
	for _, id := range []string{CheckSensitiveMount, CheckDockerSocket, CheckPropagation, CheckDevices} {
		add(id, "no host mounts or devices")
	}
	add(CheckMemory, fmt.Sprintf("--memory %dm", p.Memory>>20))
	add(CheckCPU, fmt.Sprintf("--cpus %s", cpus(p.NanoCPUs)))
	add(CheckPids, fmt.Sprintf("--pids-limit %d", p.PidsLimit))
	add(CheckRestart, "--restart "+p.RestartPolicy)
	if len(p.Healthcheck) > 0 {
		add(CheckHealthcheck, "--health-cmd <the test command>")
	} else {
		leave(CheckHealthcheck, "no test command to use as health check")
	}
	if p.Network == "bridge" || p.Network == "default" {
		leave(CheckDefaultBridge, "the workload ran on the default bridge: create a network for it")
	} else {
		add(CheckDefaultBridge, "--network "+p.Network)
	}
	return fixed, left
}

func orNoneList(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ",")
}

func cpus(nano int64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", float64(nano)/1e9), "0"), ".")
}
