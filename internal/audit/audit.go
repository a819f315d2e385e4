package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
	"golang.org/x/sync/errgroup"

	chk "github.com/lockdown-sec/lockdown/internal/check"
	"github.com/lockdown-sec/lockdown/internal/model"
)

var _ Engine = (*client.Client)(nil)

// Host check modes.
const (
	HostAuto = ""    // host checks when the daemon runs on this host
	HostOn   = "on"  // host checks required: an error when not on the host
	HostOff  = "off" // no host checks (they SKIP)
)

// MinAPIVersion is the oldest Engine API the audit reads.
const MinAPIVersion = "1.24"

// Config configures an audit. The zero value audits the engine named by
// DOCKER_HOST (or the default socket) with every check.
type Config struct {
	// Engine is the Docker API client; nil: NewEngine(ctx, "").
	Engine Engine
	// Checks to run; nil: Checks(). Include / Exclude select among them by
	// ID, tag, scope or "cis:ID" (see Select).
	Checks           []Check
	Include, Exclude []string
	// Containers restricts the audit to containers with these names or ID
	// prefixes (and images to theirs); empty: every running container and
	// every image.
	Containers []string
	// AllContainers includes stopped containers.
	AllContainers bool
	// Advisories for the engine version checks; nil: they SKIP.
	Advisories Advisories
	// HostChecks is HostAuto, HostOn or HostOff.
	HostChecks string
	// HostRoot is where the host's filesystem is seen; "" is "/".
	HostRoot string
	// Concurrency bounds parallel inspections; 0 means 8.
	Concurrency int
	Logger      *slog.Logger
	// Now stamps the report; nil: time.Now.
	Now func() time.Time
	// Getenv reads the client's environment (DOCKER_CONTENT_TRUST, CIS
	// 4.5); nil: os.Getenv.
	Getenv func(string) string
	Tool   model.Tool
}

// NewEngine returns a Docker client for host ("" = DOCKER_HOST, else the
// default socket), with TLS from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH and
// API version negotiation (DOCKER_API_VERSION pins a version).
func NewEngine(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", orDefault(host, os.Getenv("DOCKER_HOST")), err)
	}
	return c, nil
}

// Run audits the engine. It returns an error when the engine cannot be
// read at all (unreachable, permission denied, API too old). Problems
// with single containers or images become warnings and SKIP results; if
// ctx ends mid-audit, Run returns what it has with ctx's error.
func Run(ctx context.Context, cfg Config) (*model.Report, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	checks := cfg.Checks
	if checks == nil {
		checks = Checks()
	}
	if err := ValidateChecks(checks); err != nil {
		return nil, err
	}
	checks, err := Select(checks, cfg.Include, cfg.Exclude)
	if err != nil {
		return nil, err
	}
	eng := cfg.Engine
	if eng == nil {
		c, err := NewEngine("")
		if err != nil {
			return nil, err
		}
		defer c.Close()
		eng = c
	}
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	getenv := os.Getenv
	if cfg.Getenv != nil {
		getenv = cfg.Getenv
	}
	conc := cfg.Concurrency
	if conc <= 0 {
		conc = 8
	}
	need := func(scope string) bool {
		return slices.ContainsFunc(checks, func(c Check) bool { return c.Info().Scope == scope })
	}
	selected := func(id string) bool {
		return slices.ContainsFunc(checks, func(c Check) bool { return c.Info().ID == id })
	}

	d, err := collectDaemon(ctx, eng, need(ScopeSwarm))
	if err != nil {
		return nil, err
	}
	d.ContentTrust.Client = getenv("DOCKER_CONTENT_TRUST")
	base := Target{Daemon: d, Advisories: cfg.Advisories}
	base.Host, base.HostReason = collectHost(ctx, cfg, d, log)
	if cfg.HostChecks == HostOn && base.Host == nil {
		return nil, fmt.Errorf("host checks requested but %s", base.HostReason)
	}

	rep := &model.Report{
		Kind:      "audit",
		Tool:      cfg.Tool,
		CreatedAt: now().UTC(),
		Target:    &model.Target{Input: d.Endpoint, Kind: engineKind(d), Name: d.Info.Name},
		Meta:      map[string]string{},
	}
	sprawl := selected(imageSprawlInfo.ID) || selected(containerSprawlInfo.ID)
	var ctrs []*Container
	var gone []string
	var imgs []*Image
	var cerr error
	if need(ScopeContainer) || need(ScopeImage) || sprawl {
		// Process lists (5.7): on the daemon's host, one pass over /proc;
		// else the Engine API's top, one ps in the daemon per container.
		var top []string
		if selected(sshdInfo.ID) && base.Host == nil {
			top = psArgs(d)
			if top == nil {
				top = []string{} // the engine's default columns, still a process list
			}
		}
		ctrs, gone, cerr = collectContainers(ctx, eng, cfg, conc, top, &base.Fleet, log, &rep.Warnings)
		if cerr == nil && selected(sshdInfo.ID) && base.Host != nil {
			cerr = hostProcesses(ctx, eng, ctrs, psArgs(d))
		}
	}
	if cerr == nil && (need(ScopeImage) || sprawl) {
		imgs, cerr = collectImages(ctx, eng, cfg, ctrs, conc, need(ScopeImage), &base.Fleet, log, &rep.Warnings)
	}

	add := func(c Check, subject, scope string, r Result) {
		in := c.Info()
		f := model.Finding{
			Kind: model.KindPosture, RuleID: in.ID, Title: in.Title, Severity: in.Severity,
			Status: r.Status, Subject: subject, Scope: scope, Evidence: r.Evidence,
			Location: r.Location, Remediation: in.Remediation, Rationale: in.Rationale,
			References: r.References, CIS: in.CIS,
		}
		if r.Severity != model.SeverityUnknown {
			f.Severity = r.Severity
		}
		if r.Remediation != "" {
			f.Remediation = r.Remediation
		}
		if f.Status == "" {
			f.Status = model.StatusSkip
		}
		rep.Findings = append(rep.Findings, f)
	}
	runOne := func(c Check, t *Target) (r Result) {
		defer func() {
			if p := recover(); p != nil {
				r = skip("check %s failed: %v", c.Info().ID, p)
				log.Error("check panicked", "check", c.Info().ID, "panic", p)
			}
		}()
		return c.Run(ctx, t)
	}
	for _, c := range checks {
		switch sc := c.Info().Scope; sc {
		case ScopeDaemon, ScopeHost, ScopeSwarm:
			add(c, sc, sc, runOne(c, &base))
		}
	}
	for _, c := range checks {
		if c.Info().Scope != ScopeContainer {
			continue
		}
		// A verdict about the host (its LSM) is reported once, not once
		// per container.
		if g, ok := c.(HostGated); ok {
			if r := g.Gate(&base); r != nil {
				if n := len(ctrs) + len(gone); n > 0 {
					r.Evidence += fmt.Sprintf(" (all %d audited containers)", n)
				}
				add(c, ScopeHost, ScopeHost, *r)
				continue
			}
		}
		for _, ct := range ctrs {
			t := base
			t.Container = ct
			add(c, ct.Name, ScopeContainer, runOne(c, &t))
		}
		for _, name := range gone {
			add(c, name, ScopeContainer, skip("container %s was removed during the audit", name))
		}
	}
	for _, c := range checks {
		if c.Info().Scope != ScopeImage {
			continue
		}
		for _, im := range imgs {
			t := base
			t.Image = im
			add(c, im.Name, ScopeImage, runOne(c, &t))
		}
	}

	rep.Meta["engine"] = engineName(d)
	rep.Meta["engineVersion"] = orDefault(d.Version.Version, d.Info.ServerVersion)
	rep.Meta["apiVersion"] = d.APIVersion
	rep.Meta["endpoint"] = d.Endpoint
	for _, comp := range []string{"containerd", "runc"} {
		if v, _ := componentVersion(&base, comp); v != "" {
			rep.Meta[comp+"Version"] = v
		}
	}
	rep.Meta["containers"] = strconv.Itoa(len(ctrs))
	rep.Meta["images"] = strconv.Itoa(len(imgs))
	if d.Swarm != nil {
		rep.Meta["swarm"] = fmt.Sprintf("active (%s, %d nodes, %d managers)", d.Swarm.role(), d.Info.Swarm.Nodes, d.Info.Swarm.Managers)
	} else {
		rep.Meta["swarm"] = orDefault(string(d.Info.Swarm.LocalNodeState), "not reported")
	}
	if base.Host != nil {
		rep.Meta["hostChecks"] = fmt.Sprintf("on (dockerd pid %d)", base.Host.DaemonPID)
	} else {
		rep.Meta["hostChecks"] = "skipped: " + base.HostReason
	}
	if s, ok := chk.Score(rep.Findings); ok {
		rep.Meta["score"] = strconv.Itoa(s)
	}
	if cerr != nil {
		return rep, cerr
	}
	return rep, ctx.Err()
}

// engineKind is the report's target kind.
func engineKind(d *Daemon) string {
	if d.Podman {
		return "podman-engine"
	}
	return "docker-engine"
}

// engineName is "Docker Engine 20.10.24" or "Podman 4.3.1 (rootless)".
func engineName(d *Daemon) string {
	v := orDefault(d.Version.Version, d.Info.ServerVersion)
	name := "Docker Engine " + v
	if d.Podman {
		name = "Podman " + v
	}
	for _, o := range d.Info.SecurityOptions {
		if o == "name=rootless" || strings.HasPrefix(o, "name=rootless,") {
			return name + " (rootless)"
		}
	}
	return name
}

// engineError words an Engine API failure for the user.
func engineError(endpoint, what string, err error) error {
	return fmt.Errorf("docker engine at %s: %s: %w", endpoint, what, err)
}

func collectDaemon(ctx context.Context, eng Engine, swarmFacts bool) (*Daemon, error) {
	d := &Daemon{Endpoint: eng.DaemonHost()}
	info, err := eng.Info(ctx)
	if err != nil {
		return nil, engineError(d.Endpoint, "read /info", err)
	}
	d.Info = info
	d.APIVersion = eng.ClientVersion()
	if d.APIVersion != "" && versions.LessThan(d.APIVersion, MinAPIVersion) {
		return nil, fmt.Errorf("docker engine at %s: API version %s is older than %s, the oldest this audit reads", d.Endpoint, d.APIVersion, MinAPIVersion)
	}
	v, err := eng.ServerVersion(ctx)
	if err != nil {
		return nil, engineError(d.Endpoint, "read /version", err)
	}
	d.Version = v
	d.Podman = strings.Contains(strings.ToLower(v.Platform.Name), "podman") ||
		slices.ContainsFunc(v.Components, func(c types.ComponentVersion) bool { return strings.Contains(strings.ToLower(c.Name), "podman") })
	br, err := eng.NetworkInspect(ctx, "bridge", network.InspectOptions{})
	switch {
	case err == nil:
		if br.Driver == "bridge" {
			d.Bridge = &br
		}
	case cerrdefs.IsNotFound(err), d.Podman && err != nil:
		// Podman names its default network "podman".
	default:
		return nil, engineError(d.Endpoint, "inspect network bridge", err)
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive {
		return d, nil
	}
	s := &Swarm{Manager: info.Swarm.ControlAvailable, Info: info.Swarm}
	d.Swarm = s
	if !s.Manager || !swarmFacts {
		return d, nil
	}
	nets, err := eng.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("driver", "overlay"))})
	if err != nil {
		return nil, engineError(d.Endpoint, "list overlay networks", err)
	}
	for _, n := range nets {
		if n.Scope == "swarm" {
			s.Overlays = append(s.Overlays, n)
		}
	}
	secrets, err := eng.SecretList(ctx, swarm.SecretListOptions{})
	if err != nil {
		return nil, engineError(d.Endpoint, "list swarm secrets", err)
	}
	s.Secrets = len(secrets)
	if s.Services, err = eng.ServiceList(ctx, swarm.ServiceListOptions{}); err != nil {
		return nil, engineError(d.Endpoint, "list swarm services", err)
	}
	return d, nil
}

// collectHost finds the daemon's process on this host and reads its
// command line, environment and daemon.json. It returns nil and the reason
// when the audit is not on the daemon's host.
func collectHost(ctx context.Context, cfg Config, d *Daemon, log *slog.Logger) (*Host, string) {
	if cfg.HostChecks == HostOff {
		d.ConfigReason = "host checks are off (--host-checks=off)"
		return nil, "host checks are off (--host-checks=off)"
	}
	if d.Podman {
		d.ConfigReason = "the engine is Podman, which has no daemon.json or dockerd command line (its settings are in containers.conf)"
		return nil, "the engine is Podman: Docker's host files, units and audit rules do not apply"
	}
	pid, err := findDaemonPID(ctx, d.Endpoint)
	if err != nil {
		d.ConfigReason = "dockerd is not visible from here: " + err.Error()
		return nil, d.ConfigReason
	}
	if !sameRoot(pid) {
		d.ConfigReason = fmt.Sprintf("dockerd (pid %d) runs in another mount namespace", pid)
		return nil, d.ConfigReason
	}
	argv, err := readCmdline(pid)
	if err != nil {
		d.ConfigReason = err.Error()
		return nil, d.ConfigReason
	}
	if env, err := readEnviron(pid); err == nil {
		d.ContentTrust.Daemon, d.ContentTrust.DaemonSeen = env["DOCKER_CONTENT_TRUST"], true
	}
	h := &Host{Root: cfg.HostRoot, DaemonPID: pid, Cmdline: argv}
	flags, err := ParseDockerdArgs(argv)
	if err != nil {
		d.ConfigReason = fmt.Sprintf("parse dockerd command line (pid %d): %v", pid, err)
		log.Warn("dockerd command line", "pid", pid, "err", err)
		return h, ""
	}
	flags.Sources = []string{fmt.Sprintf("/proc/%d/cmdline", pid)}
	h.ConfigFile = orDefault(flags.ConfigFile, "/etc/docker/daemon.json")
	merged := flags
	b, err := os.ReadFile(h.path(h.ConfigFile))
	switch {
	case err == nil:
		fc, perr := ParseDaemonJSON(b)
		if perr != nil {
			d.ConfigReason = fmt.Sprintf("%s: %v", h.ConfigFile, perr)
			return h, ""
		}
		fc.Sources = []string{h.ConfigFile}
		merged = flags.merge(fc)
	case errors.Is(err, os.ErrNotExist):
		merged.Sources = append(merged.Sources, h.ConfigFile+" (absent)")
	default:
		d.ConfigReason = fmt.Sprintf("read %s: %v", h.ConfigFile, err)
		return h, ""
	}
	d.Config = &merged
	return h, ""
}

func containerName(names []string, id string) string {
	for _, n := range names {
		return strings.TrimPrefix(n, "/")
	}
	return shortID(id)
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// collectContainers lists and inspects containers in parallel (with the
// process list of running ones from the Engine API's top with the ps
// arguments top, when top is not nil), and fills fleet's
// container counts. Containers that vanish between list and inspect are
// returned by name in gone.
func collectContainers(ctx context.Context, eng Engine, cfg Config, conc int, top []string, fleet *Fleet, log *slog.Logger, warnings *[]model.Warning) ([]*Container, []string, error) {
	all, err := eng.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return nil, nil, engineError(eng.DaemonHost(), "list containers", err)
	}
	list := all
	if !cfg.AllContainers {
		list = slices.DeleteFunc(slices.Clone(all), func(s container.Summary) bool { return s.State != container.StateRunning })
	}
	if len(cfg.Containers) > 0 {
		var sel []container.Summary
		for _, want := range cfg.Containers {
			i := slices.IndexFunc(list, func(s container.Summary) bool {
				return containerName(s.Names, s.ID) == strings.TrimPrefix(want, "/") || (len(want) >= 4 && strings.HasPrefix(s.ID, want))
			})
			if i < 0 {
				which := "running containers"
				if cfg.AllContainers {
					which = "containers"
				}
				return nil, nil, fmt.Errorf("container %q not found among the %s of %s", want, which, eng.DaemonHost())
			}
			if !slices.ContainsFunc(sel, func(s container.Summary) bool { return s.ID == list[i].ID }) {
				sel = append(sel, list[i])
			}
		}
		list = sel
		all = sel
	}
	fleet.usedImages = map[string]bool{}
	for _, s := range all {
		fleet.usedImages[s.ImageID] = true
		if s.State == container.StateRunning {
			fleet.Running = append(fleet.Running, containerName(s.Names, s.ID))
		} else {
			fleet.Stopped = append(fleet.Stopped, containerName(s.Names, s.ID))
		}
	}
	slices.Sort(fleet.Running)
	slices.Sort(fleet.Stopped)
	out := make([]*Container, len(list))
	removed := make([]bool, len(list))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i, s := range list {
		g.Go(func() error {
			name := containerName(s.Names, s.ID)
			ins, err := eng.ContainerInspect(gctx, s.ID)
			if cerrdefs.IsNotFound(err) {
				log.Info("container removed during the audit", "container", name)
				removed[i] = true
				return nil
			}
			if err != nil {
				return engineError(eng.DaemonHost(), "inspect container "+name, err)
			}
			c := &Container{Name: strings.TrimPrefix(ins.Name, "/"), Inspect: ins}
			if c.Name == "" {
				c.Name = name
			}
			if top != nil && ins.State != nil && ins.State.Running {
				// The Engine API's top: ps on the host, filtered to the
				// container's processes; nothing runs in the container.
				p, err := eng.ContainerTop(gctx, s.ID, top)
				if err == nil {
					c.Processes = &p
				} else {
					c.TopError = err.Error()
				}
			}
			out[i] = c
			return nil
		})
	}
	err = g.Wait()
	var ctrs []*Container
	var gone []string
	for i, c := range out {
		switch {
		case c != nil:
			ctrs = append(ctrs, c)
		case removed[i]:
			name := containerName(list[i].Names, list[i].ID)
			gone = append(gone, name)
			*warnings = append(*warnings, model.Warning{Path: "container " + name, Message: "removed during the audit; its checks are skipped"})
		}
	}
	slices.SortFunc(ctrs, func(a, b *Container) int { return strings.Compare(a.Name, b.Name) })
	return ctrs, gone, err
}

// hostProcesses fills the process lists of the running containers from
// /proc on the daemon's host, in one pass; a running container with no
// process found there (an unknown cgroup layout) gets the Engine API's top.
func hostProcesses(ctx context.Context, eng Engine, ctrs []*Container, args []string) error {
	var ids []string
	for _, c := range ctrs {
		if c.Inspect.ContainerJSONBase != nil && c.Inspect.State != nil && c.Inspect.State.Running {
			ids = append(ids, c.Inspect.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	procs, err := containerProcesses(ids)
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		if !slices.Contains(ids, c.Inspect.ID) {
			continue
		}
		if p := procs[c.Inspect.ID]; p != nil {
			c.Processes = p
			continue
		}
		p, err := eng.ContainerTop(ctx, c.Inspect.ID, args)
		if err != nil {
			c.TopError = err.Error()
			continue
		}
		c.Processes = &p
	}
	return nil
}

// psArgs are the ps arguments for the Engine API's top: only the PID and
// the command line, which is all 5.7 reads and half the work of ps -ef.
// Podman's top takes its own descriptors: its default (nil) then.
func psArgs(d *Daemon) []string {
	if d.Podman {
		return nil
	}
	return []string{"-o", "pid,args"}
}

// unusedImages names the images (first tag, else short ID) that no
// container uses, sorted. The engine's own per-image container count is
// not computed by /images/json (-1), so usage comes from the container
// list.
func unusedImages(list []image.Summary, used map[string]bool) []string {
	var out []string
	for _, s := range list {
		if used[s.ID] {
			continue
		}
		name := shortID(s.ID)
		if len(s.RepoTags) > 0 && s.RepoTags[0] != "<none>:<none>" {
			name = s.RepoTags[0]
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// collectImages lists every image (or, with a container filter, the images
// of the selected containers), fills fleet's image counts, and, when
// inspect is set, inspects each with its history.
func collectImages(ctx context.Context, eng Engine, cfg Config, ctrs []*Container, conc int, inspect bool, fleet *Fleet, log *slog.Logger, warnings *[]model.Warning) ([]*Image, error) {
	var ids []string
	if len(cfg.Containers) > 0 {
		for _, c := range ctrs {
			if !slices.Contains(ids, c.Inspect.Image) {
				ids = append(ids, c.Inspect.Image)
			}
		}
	} else {
		list, err := eng.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs()})
		if err != nil {
			return nil, engineError(eng.DaemonHost(), "list images", err)
		}
		for _, s := range list {
			ids = append(ids, s.ID)
		}
		fleet.UnusedImages = unusedImages(list, fleet.usedImages)
	}
	fleet.Images = len(ids)
	if !inspect {
		return nil, nil
	}
	out := make([]*Image, len(ids))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i, id := range ids {
		g.Go(func() error {
			ins, err := eng.ImageInspect(gctx, id)
			if err == nil {
				var hist []image.HistoryResponseItem
				hist, err = eng.ImageHistory(gctx, id)
				if err == nil {
					slices.Reverse(hist) // build order: history[0] is the first step
					name := shortID(id)
					if len(ins.RepoTags) > 0 {
						name = ins.RepoTags[0]
					}
					out[i] = &Image{Name: name, Inspect: ins, History: hist}
					return nil
				}
			}
			if cerrdefs.IsNotFound(err) {
				log.Info("image removed during the audit", "image", id)
				mu.Lock()
				*warnings = append(*warnings, model.Warning{Path: "image " + shortID(id), Message: "removed during the audit; its checks are skipped"})
				mu.Unlock()
				return nil
			}
			return engineError(eng.DaemonHost(), "inspect image "+shortID(id), err)
		})
	}
	err := g.Wait()
	var imgs []*Image
	for _, im := range out {
		if im != nil {
			imgs = append(imgs, im)
		}
	}
	slices.SortFunc(imgs, func(a, b *Image) int { return strings.Compare(a.Name, b.Name) })
	return imgs, err
}
