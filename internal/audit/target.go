package audit

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/client"
)

// Target is what a check looks at: the daemon facts always, the host when
// the audit runs on the daemon's host, and the one container or image the
// check runs on for container and image checks.
type Target struct {
	Daemon *Daemon
	// Host is nil when the audit does not run on the daemon's host;
	// HostReason then says why.
	Host       *Host
	HostReason string

	Container *Container // container checks only
	Image     *Image     // image checks only

	Advisories Advisories // nil: version checks SKIP
}

// Daemon holds what the Engine API says about the daemon, plus the parsed
// daemon.json and command line when they could be read.
type Daemon struct {
	Endpoint   string // as dialled: unix:///var/run/docker.sock, tcp://…
	APIVersion string // negotiated
	Info       system.Info
	Version    types.Version
	// Bridge is the default bridge network ("bridge"); nil when the daemon
	// runs with --bridge=none.
	Bridge *network.Inspect

	// Config is the daemon's own configuration (daemon.json + command
	// line), or nil when it could not be read; ConfigReason then says why.
	Config       *DaemonConfig
	ConfigReason string
}

// Host is the daemon's host, seen from the same mount namespace.
type Host struct {
	// Root is where the host's root filesystem is seen ("/" normally).
	Root       string
	DaemonPID  int
	Cmdline    []string // dockerd's argv
	ConfigFile string   // daemon.json path in use (may not exist)
}

// Container is one container as inspected.
type Container struct {
	Name    string // without the leading "/"
	Inspect container.InspectResponse
}

// Image is one image as inspected.
type Image struct {
	Name    string // first repo tag, else the short ID
	Inspect image.InspectResponse
	History []image.HistoryResponseItem
}

// Engine is the part of the Docker client the audit uses; *client.Client
// implements it.
type Engine interface {
	Info(ctx context.Context) (system.Info, error)
	ServerVersion(ctx context.Context) (types.Version, error)
	NetworkInspect(ctx context.Context, networkID string, options network.InspectOptions) (network.Inspect, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, imageID string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageHistory(ctx context.Context, imageID string, opts ...client.ImageHistoryOption) ([]image.HistoryResponseItem, error)
	DaemonHost() string
	ClientVersion() string
}
