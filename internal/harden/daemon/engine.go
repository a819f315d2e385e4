package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/lockdown-sec/lockdown/internal/atomicfile"
)

// Engine is the part of the Docker client the daemon hardening reads.
type Engine interface {
	Info(ctx context.Context) (system.Info, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
}

var _ Engine = (*client.Client)(nil)

// Gather reads what decides which settings are safe: the engine's
// containers (links, default bridge), volumes, swarm and registry state,
// the daemon.json's TCP and TLS keys, and the keys set on dockerd's
// command line (argv; nil when unknown).
func Gather(ctx context.Context, eng Engine, cfg map[string]any, argv []string) (Facts, error) {
	var f Facts
	info, err := eng.Info(ctx)
	if err != nil {
		return f, fmt.Errorf("docker engine: read /info: %w", err)
	}
	f.SwarmActive = info.Swarm.LocalNodeState == "active"
	if rc := info.RegistryConfig; rc != nil {
		for _, n := range rc.InsecureRegistryCIDRs {
			if n != nil && !n.IP.IsLoopback() {
				f.InsecureRegs = append(f.InsecureRegs, (*n).String())
			}
		}
	}
	list, err := eng.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return f, fmt.Errorf("docker engine: list containers: %w", err)
	}
	f.Containers = len(list)
	for _, s := range list {
		ins, err := eng.ContainerInspect(ctx, s.ID)
		if err != nil {
			continue // removed meanwhile
		}
		name := strings.TrimPrefix(ins.Name, "/")
		if ins.HostConfig != nil && len(ins.HostConfig.Links) > 0 {
			f.Linked = append(f.Linked, name)
		}
		if ins.State != nil && ins.State.Running && ins.NetworkSettings != nil {
			if _, ok := ins.NetworkSettings.Networks["bridge"]; ok {
				f.OnBridge = append(f.OnBridge, name)
			}
		}
	}
	vols, err := eng.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		return f, fmt.Errorf("docker engine: list volumes: %w", err)
	}
	f.Volumes = len(vols.Volumes)
	for _, h := range StringList(cfg["hosts"]) {
		if isTCP(h) {
			f.TCPWanted = true
		}
	}
	f.HaveTLSFiles = cfg["tlscacert"] != nil && cfg["tlscert"] != nil && cfg["tlskey"] != nil
	if v, ok := cfg["iptables"].(bool); ok && !v {
		f.IPTablesFalse = true
	}
	f.FlagKeys = FlagKeys(argv)
	slices.Sort(f.Linked)
	slices.Sort(f.OnBridge)
	return f, nil
}

// flagKey maps dockerd flags whose daemon.json key differs.
var flagKey = map[string]string{
	"H": "hosts", "host": "hosts", "D": "debug", "l": "log-level", "b": "bridge", "G": "group", "p": "pidfile", "g": "data-root", "graph": "data-root",
	"default-ulimit": "default-ulimits", "log-opt": "log-opts", "insecure-registry": "insecure-registries",
	"authorization-plugin": "authorization-plugins", "label": "labels", "storage-opt": "storage-opts", "exec-opt": "exec-opts",
	"add-runtime": "runtimes", "registry-mirror": "registry-mirrors", "default-address-pool": "default-address-pools",
	"dns-opt": "dns-opts", "dns-search": "dns-search", "cluster-store-opt": "cluster-store-opts", "node-generic-resource": "node-generic-resources",
}

// FlagKeys returns the daemon.json keys that dockerd's argv sets.
func FlagKeys(argv []string) []string {
	var out []string
	for i, a := range argv {
		if i == 0 && !strings.HasPrefix(a, "-") {
			continue
		}
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			continue
		}
		name := strings.TrimLeft(a, "-")
		if !strings.HasPrefix(a, "--") {
			name = name[:1] // -H tcp://…, -Htcp://…, -D
		}
		name, _, _ = strings.Cut(name, "=")
		if k, ok := flagKey[name]; ok {
			name = k
		}
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// DockerdArgv reads the command line of the dockerd whose pidfile is p.
func DockerdArgv(p string) ([]string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("dockerd pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil, fmt.Errorf("dockerd pidfile %s: %q is not a PID", p, strings.TrimSpace(string(b)))
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, fmt.Errorf("dockerd (pid %d) command line: %w", pid, err)
	}
	return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00"), nil
}

// ErrRefused means dockerd would refuse the configuration.
var ErrRefused = errors.New("dockerd refuses the configuration")

// Validate checks that dockerd accepts cfg: with `dockerd --validate`
// when the installed dockerd has it (23.0 and later), else by starting a
// throwaway dockerd with it, in its own network and mount namespaces
// (unshare), with its own data root, exec root, pidfile and socket under
// a temporary directory, until it answers /info. The unix sockets of
// "hosts" are replaced by the throwaway's; TCP entries are kept (they
// bind inside the throwaway's network namespace), so TLS files are
// loaded too. argvKeys are keys dockerd's command line sets: a key in
// both is refused, as dockerd would.
func Validate(ctx context.Context, cfg map[string]any, argvKeys []string) error {
	for _, k := range argvKeys {
		if _, ok := cfg[k]; ok {
			return fmt.Errorf("%w: %q is set both on dockerd's command line and in daemon.json", ErrRefused, k)
		}
	}
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return fmt.Errorf("validate: dockerd not found: %w", err)
	}
	dir, err := os.MkdirTemp("", "lockdown-validate-")
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	defer os.RemoveAll(dir)
	// With userns-remap the remapped root must traverse the data root's
	// parents.
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	if hasValidate(ctx, dockerd) {
		b, err := Encode(cfg)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, "daemon.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		out, err := exec.CommandContext(ctx, dockerd, "--validate", "--config-file", p).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: dockerd --validate: %s", ErrRefused, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return throwaway(ctx, dockerd, dir, cfg)
}

func hasValidate(ctx context.Context, dockerd string) bool {
	out, _ := exec.CommandContext(ctx, dockerd, "--help").CombinedOutput()
	return bytes.Contains(out, []byte("--validate"))
}

func throwaway(ctx context.Context, dockerd, dir string, cfg map[string]any) error {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return fmt.Errorf("validate: unshare (util-linux) not found: %w", err)
	}
	sock := filepath.Join(dir, "d.sock")
	c := make(map[string]any, len(cfg))
	for k, v := range cfg {
		c[k] = v
	}
	hosts := []any{"unix://" + sock}
	for _, h := range StringList(cfg["hosts"]) {
		if isTCP(h) {
			hosts = append(hosts, h)
		}
	}
	c["hosts"] = hosts
	c["data-root"], c["exec-root"], c["pidfile"] = filepath.Join(dir, "data"), filepath.Join(dir, "exec"), filepath.Join(dir, "pid")
	delete(c, "containerd") // its own containerd under the exec root
	b, err := Encode(c)
	if err != nil {
		return err
	}
	p := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	logp := filepath.Join(dir, "log")
	logf, err := os.Create(logp)
	if err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	defer logf.Close()
	// A new network namespace (with loopback up) and a private mount
	// namespace: nothing the throwaway daemon does reaches the host's
	// network or mount table.
	cmd := exec.Command(unshare, "--net", "--mount", "--propagation", "private", "--", "sh", "-c",
		`ip link set lo up 2>/dev/null; exec "$0" --config-file "$1"`, dockerd, p)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("validate: start dockerd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			b, _ := os.ReadFile(logp)
			return fmt.Errorf("%w: the throwaway dockerd exited (%v): %s", ErrRefused, err, lastError(string(b)))
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := hc.Get("http://docker/info"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("validate: the throwaway dockerd did not answer within 90s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lastError picks dockerd's fatal line from its log.
func lastError(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "level=fatal") || strings.HasPrefix(lines[i], "unable to") || strings.Contains(lines[i], "failed to start daemon") {
			return strings.TrimSpace(lines[i])
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// Apply writes r.New to r.Path atomically after saving the old file as
// backup (when there was one). It returns the backup's path ("" when
// the file did not exist).
func Apply(r *Result, backup string) (string, error) {
	b, err := Encode(r.New)
	if err != nil {
		return "", err
	}
	mode := os.FileMode(0o644)
	old, err := os.ReadFile(r.Path)
	switch {
	case err == nil:
		if fi, err := os.Stat(r.Path); err == nil {
			mode = fi.Mode().Perm()
		}
		if err := atomicfile.WriteBytes(backup, mode, old); err != nil {
			return "", fmt.Errorf("back up %s: %w", r.Path, err)
		}
	case errors.Is(err, os.ErrNotExist):
		backup = ""
	default:
		return "", fmt.Errorf("read %s: %w", r.Path, err)
	}
	if err := atomicfile.WriteBytes(r.Path, mode, b); err != nil {
		return "", err
	}
	return backup, nil
}
