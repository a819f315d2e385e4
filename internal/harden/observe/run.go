// Package observe runs a workload in a throwaway container and learns what
// it needs: the system calls it makes (from the kernel's seccomp log,
// attributed to the container's own processes through the kernel's
// process events), the paths it writes (the Engine API's container
// changes), and its peak memory, process count and CPU (the Engine API's
// stats, read from the container's cgroup). The container is removed
// whatever happens.
package observe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/lockdown-sec/lockdown/internal/harden/seccomp"
)

// Engine is the part of the Docker client observation uses.
type Engine interface {
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerStats(ctx context.Context, containerID string, stream bool) (container.StatsResponseReader, error)
	ContainerDiff(ctx context.Context, containerID string) ([]container.FilesystemChange, error)
	ContainerExecCreate(ctx context.Context, containerID string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, config container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerStop(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
}

var _ Engine = (*client.Client)(nil)

// Workload is what runs: an image and how it starts.
type Workload struct {
	Image      string   // image ID or reference (never pulled)
	Entrypoint []string // nil: the image's
	Cmd        []string // nil: the image's
	Env        []string
	WorkingDir string
	// Network is the network mode ("none", "bridge", a network name);
	// "" is none.
	Network string
	// Sysctls are namespaced kernel settings (--sysctl).
	Sysctls map[string]string
}

// Confinement is how it runs.
type Confinement struct {
	User            string // "" is the image's
	Seccomp         string // profile JSON; "" is the engine's default
	CapDrop, CapAdd []string
	ReadOnly        bool
	Tmpfs           map[string]string // path → mount options
	NoNewPrivileges bool
	Memory          int64 // bytes; 0 unlimited
	NanoCPUs        int64
	PidsLimit       int64
}

// Options control one run.
type Options struct {
	// Test runs inside the container (exec) once the workload has settled;
	// its exit status decides whether the run passed. Nil: the workload
	// passes when it is still running at the end (or exited 0).
	Test []string
	// Observe is how long the workload runs at least; the run lasts until
	// the test command has ended too. 0 means Settle.
	Observe time.Duration
	// Settle is the wait after start before the test command (default 1s).
	Settle time.Duration
	// TestTimeout bounds the test command (default 2m).
	TestTimeout time.Duration
	// StopTimeout is how long the workload has to end after SIGTERM
	// before it is killed (default 5s).
	StopTimeout time.Duration
	// Syscalls reads the kernel's seccomp log for the container's
	// processes: the profile must log (SCMP_ACT_LOG, or the log flag).
	// Result.Records says how many records were the container's.
	Syscalls bool
	Name     string            // container name ("" lets the engine pick)
	Labels   map[string]string // container labels
	Logger   *slog.Logger
}

// Change is one path the container changed in its writable layer.
type Change struct {
	Path string `json:"path"`
	Kind string `json:"kind"` // "A" added, "C" changed, "D" deleted
}

// Result is what one run showed.
type Result struct {
	Passed bool   `json:"passed"`
	Reason string `json:"reason,omitempty"` // why it did not pass
	// Exited is set when the workload ended during the run; ExitCode is
	// its status. ExitedEarly: it ended before the test command ran (or,
	// without one, within Settle with a failure status).
	Exited      bool   `json:"exited"`
	ExitedEarly bool   `json:"exitedEarly,omitempty"`
	ExitCode    int    `json:"exitCode"`
	TestExit    int    `json:"testExit"`
	TestOutput  string `json:"testOutput,omitempty"`
	Logs        string `json:"logs,omitempty"` // the workload's last output lines

	Syscalls []string `json:"syscalls,omitempty"` // sorted names the container's processes made
	Records  int      `json:"records"`            // seccomp records attributed to the container
	Unknown  []string `json:"unknown,omitempty"`  // "arch/number" without a name
	// Executables are the programs the container's processes ran, as
	// paths inside the container.
	Executables []string `json:"executables,omitempty"`

	Changes    []Change      `json:"changes,omitempty"`
	PeakMemory int64         `json:"peakMemory"` // bytes
	PeakPids   int64         `json:"peakPids"`
	PeakCPU    float64       `json:"peakCPU"` // cores, over one stats interval
	Duration   time.Duration `json:"duration"`
}

// ErrExitedAtOnce is wrapped by callers when a workload ends before it
// could be observed.
var ErrExitedAtOnce = errors.New("the workload exited at once")

// Run creates the container, starts it, runs the test command, waits out
// the observation, stops the container and reads what it did. The
// container is removed when Run returns, even when ctx is cancelled.
func Run(ctx context.Context, eng Engine, w Workload, c Confinement, o Options) (*Result, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	settle := o.Settle
	if settle <= 0 {
		settle = time.Second
	}
	testTimeout := o.TestTimeout
	if testTimeout <= 0 {
		testTimeout = 2 * time.Minute
	}
	var audit *auditReader
	var procs *procWatcher
	if o.Syscalls {
		if err := CheckSeccompLog(ProcSeccomp); err != nil {
			return nil, err
		}
		var err error
		if procs, err = openProcWatcher(); err != nil {
			return nil, err
		}
		if audit, err = openAuditReader(); err != nil {
			procs.close()
			return nil, err
		}
	}
	// Listeners are closed on every path; on success they are drained below.
	closeListeners := func() (map[Record]int, []pidExe, int, int, []forkEvent, int) {
		var recs map[Record]int
		var exes []pidExe
		var bad, lost, plost int
		var forks []forkEvent
		if audit != nil {
			recs, exes, bad, lost = audit.close(300 * time.Millisecond)
			audit = nil
		}
		if procs != nil {
			forks, plost = procs.close()
			procs = nil
		}
		return recs, exes, bad, lost, forks, plost
	}
	defer closeListeners()

	netMode := w.Network
	if netMode == "" {
		netMode = "none"
	}
	cfg := &container.Config{
		Image: w.Image, Entrypoint: w.Entrypoint, Cmd: w.Cmd, Env: w.Env, WorkingDir: w.WorkingDir,
		User: c.User, Labels: o.Labels,
	}
	hc := &container.HostConfig{
		NetworkMode:    container.NetworkMode(netMode),
		Sysctls:        w.Sysctls,
		CapDrop:        c.CapDrop,
		CapAdd:         c.CapAdd,
		ReadonlyRootfs: c.ReadOnly,
		Tmpfs:          c.Tmpfs,
		Resources:      container.Resources{Memory: c.Memory, NanoCPUs: c.NanoCPUs},
	}
	if c.PidsLimit > 0 {
		p := c.PidsLimit
		hc.PidsLimit = &p
	}
	if c.Seccomp != "" {
		hc.SecurityOpt = append(hc.SecurityOpt, "seccomp="+c.Seccomp)
	}
	if c.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges=true")
	}
	created, err := eng.ContainerCreate(ctx, cfg, hc, nil, nil, o.Name)
	if err != nil {
		return nil, fmt.Errorf("create the observation container from image %s: %w", w.Image, err)
	}
	id := created.ID
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := eng.ContainerRemove(rctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			log.Warn("remove the observation container", "container", id[:12], "err", err)
		}
	}()

	began := time.Now()
	if err := eng.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return nil, fmt.Errorf("start the observation container (image %s): %w", w.Image, err)
	}
	res := &Result{}
	stats := watchStats(ctx, eng, id, log)

	var roots []int
	ins, err := eng.ContainerInspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect the observation container: %w", err)
	}
	if ins.State != nil && ins.State.Pid > 0 {
		roots = append(roots, ins.State.Pid)
	}

	// Settle, watching for an early end.
	exited, code, err := waitExit(ctx, eng, id, settle)
	if err != nil {
		return nil, err
	}
	if exited {
		res.Exited, res.ExitCode = true, code
		if code != 0 || o.Test != nil {
			res.ExitedEarly = true
		}
	}
	if o.Test != nil && !exited {
		out, testExit, pid, err := runTest(ctx, eng, id, o.Test, testTimeout)
		if err != nil {
			return nil, err
		}
		res.TestExit, res.TestOutput = testExit, out
		if pid > 0 {
			roots = append(roots, pid)
		}
	}
	if rest := o.Observe - time.Since(began); rest > 0 && !res.Exited {
		ex, code, err := waitExit(ctx, eng, id, rest)
		if err != nil {
			return nil, err
		}
		if ex {
			res.Exited, res.ExitCode = true, code
		}
	}
	// Stop: what the workload does on SIGTERM is part of what it needs.
	if !res.Exited {
		timeout := 5
		if o.StopTimeout > 0 {
			timeout = max(1, int(o.StopTimeout.Seconds()))
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := eng.ContainerStop(sctx, id, container.StopOptions{Timeout: &timeout})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("stop the observation container: %w", err)
		}
	}
	res.Duration = time.Since(began)
	peak := stats()
	res.PeakMemory, res.PeakPids, res.PeakCPU = peak.mem, peak.pids, peak.cpu

	changes, err := eng.ContainerDiff(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read the observation container's changes: %w", err)
	}
	for _, ch := range changes {
		res.Changes = append(res.Changes, Change{Path: ch.Path, Kind: changeKind(ch.Kind)})
	}
	slices.SortFunc(res.Changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	res.Logs = tailLogs(ctx, eng, id, 20)

	switch {
	case res.ExitedEarly && o.Test != nil && res.ExitCode == 0:
		res.Reason = fmt.Sprintf("the workload exited (status 0) within %s, before the test command could run", settle)
	case res.ExitedEarly:
		res.Reason = fmt.Sprintf("the workload exited with status %d within %s", res.ExitCode, settle)
	case o.Test != nil && res.TestExit != 0:
		res.Reason = fmt.Sprintf("the test command %q exited with status %d", strings.Join(o.Test, " "), res.TestExit)
	case res.Exited && res.ExitCode != 0:
		res.Reason = fmt.Sprintf("the workload exited with status %d during the observation", res.ExitCode)
	}
	res.Passed = res.Reason == ""

	if o.Syscalls {
		recs, exes, bad, lost, forks, plost := closeListeners()
		if lost > 0 || plost > 0 {
			return nil, fmt.Errorf("%w: the kernel dropped %d batches of seccomp records and %d of process events (receive buffer full): observe again on a quieter host", ErrNoSeccompLog, lost, plost)
		}
		if bad > 0 {
			log.Warn("seccomp records that did not parse", "count", bad)
		}
		ours := descendants(forks, roots)
		attribute(res, recs, ours)
		seen := map[string]bool{}
		for _, pe := range exes {
			if ours[pe.pid] && strings.HasPrefix(pe.exe, "/") && pe.exe != "/" && !seen[pe.exe] {
				seen[pe.exe] = true
				res.Executables = append(res.Executables, pe.exe)
			}
		}
		slices.Sort(res.Executables)
	}
	return res, nil
}

// attribute keeps the records of the container's processes.
func attribute(res *Result, recs map[Record]int, ours map[int]bool) {
	calls, unknown := map[string]bool{}, map[string]bool{}
	for r, n := range recs {
		if !ours[r.PID] {
			continue
		}
		res.Records += n
		name, ok := seccomp.SyscallName(r.Arch, r.Syscall)
		if !ok {
			unknown[fmt.Sprintf("%x/%d", r.Arch, r.Syscall)] = true
			continue
		}
		calls[name] = true
	}
	res.Syscalls, res.Unknown = sortedKeys(calls), sortedKeys(unknown)
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func changeKind(k container.ChangeType) string {
	switch k {
	case container.ChangeAdd:
		return "A"
	case container.ChangeDelete:
		return "D"
	}
	return "C"
}

// waitExit polls the container for up to d; it reports whether the
// container ended and with which status.
func waitExit(ctx context.Context, eng Engine, id string, d time.Duration) (bool, int, error) {
	deadline := time.Now().Add(d)
	for {
		ins, err := eng.ContainerInspect(ctx, id)
		if err != nil {
			return false, 0, fmt.Errorf("inspect the observation container: %w", err)
		}
		if ins.State != nil && !ins.State.Running && ins.State.Status != "created" {
			return true, ins.State.ExitCode, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false, 0, nil
		}
		select {
		case <-ctx.Done():
			return false, 0, ctx.Err()
		case <-time.After(min(left, 100*time.Millisecond)):
		}
	}
}

// runTest runs the test command in the container and returns its output,
// exit status and host PID.
func runTest(ctx context.Context, eng Engine, id string, cmd []string, timeout time.Duration) (string, int, int, error) {
	ex, err := eng.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return "", 0, 0, fmt.Errorf("create the test command %q in the observation container: %w", strings.Join(cmd, " "), err)
	}
	att, err := eng.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return "", 0, 0, fmt.Errorf("start the test command: %w", err)
	}
	var out bytes.Buffer
	lw := &limitedWriter{w: &out, n: 64 << 10}
	done := make(chan error, 1)
	go func() { _, err := stdcopy.StdCopy(lw, lw, att.Reader); done <- err }()
	pid := 0
	if ei, err := eng.ContainerExecInspect(ctx, ex.ID); err == nil {
		pid = ei.Pid
	}
	select {
	case <-done:
	case <-time.After(timeout):
		att.Close()
		return out.String(), 0, pid, fmt.Errorf("the test command %q did not end within %s", strings.Join(cmd, " "), timeout)
	case <-ctx.Done():
		att.Close()
		return out.String(), 0, pid, ctx.Err()
	}
	att.Close()
	for i := 0; ; i++ {
		ei, err := eng.ContainerExecInspect(ctx, ex.ID)
		if err != nil {
			return out.String(), 0, pid, fmt.Errorf("inspect the test command: %w", err)
		}
		if pid == 0 {
			pid = ei.Pid
		}
		if !ei.Running {
			return out.String(), ei.ExitCode, pid, nil
		}
		if i > 100 {
			return out.String(), 0, pid, fmt.Errorf("the test command still runs after its output ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	if _, err := l.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

func tailLogs(ctx context.Context, eng Engine, id string, lines int) string {
	rc, err := eng.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(lines)})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out bytes.Buffer
	lw := &limitedWriter{w: &out, n: 8 << 10}
	_, _ = stdcopy.StdCopy(lw, lw, rc)
	return strings.TrimSpace(out.String())
}

type peaks struct {
	mem, pids int64
	cpu       float64
}

// watchStats follows the container's stats stream until the returned
// function is called, which returns the peaks seen. On cgroup v1 the
// memory peak is the cgroup's own max_usage; elsewhere the highest usage
// sampled (once a second).
func watchStats(ctx context.Context, eng Engine, id string, log *slog.Logger) func() peaks {
	sctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var p peaks
	done := make(chan struct{})
	go func() {
		defer close(done)
		rd, err := eng.ContainerStats(sctx, id, true)
		if err != nil {
			log.Debug("container stats", "err", err)
			return
		}
		defer rd.Body.Close()
		dec := json.NewDecoder(bufio.NewReader(rd.Body))
		for {
			var s container.StatsResponse
			if err := dec.Decode(&s); err != nil {
				return
			}
			mu.Lock()
			p.mem = max(p.mem, int64(s.MemoryStats.Usage), int64(s.MemoryStats.MaxUsage))
			p.pids = max(p.pids, int64(s.PidsStats.Current))
			if dc, ds := float64(s.CPUStats.CPUUsage.TotalUsage)-float64(s.PreCPUStats.CPUUsage.TotalUsage), float64(s.CPUStats.SystemUsage)-float64(s.PreCPUStats.SystemUsage); dc > 0 && ds > 0 && s.PreCPUStats.SystemUsage > 0 {
				cpus := float64(s.CPUStats.OnlineCPUs)
				if cpus == 0 {
					cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
				}
				p.cpu = max(p.cpu, dc/ds*cpus)
			}
			mu.Unlock()
		}
	}()
	return func() peaks {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return p
	}
}
