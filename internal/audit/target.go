package audit

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
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

	// Fleet counts what the audit saw (CIS section 6): all of the engine's
	// containers and images, or with a container filter only the selected
	// containers and their images.
	Fleet Fleet

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

	// Swarm is set when the engine is in swarm mode (active).
	Swarm *Swarm
	// ContentTrust is DOCKER_CONTENT_TRUST as the client (this audit) and,
	// on the daemon's host, dockerd see it.
	ContentTrust ContentTrust
	// Podman is set when the API is served by Podman (podman system service).
	Podman bool

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
	// Processes is the container's process list from the Engine API's top
	// (never by exec in the container); nil when it is not running or the
	// engine could not list it (TopError says why).
	Processes *container.TopResponse
	TopError  string
}

// Fleet is the audited containers and images, for the sprawl checks.
type Fleet struct {
	Running, Stopped []string // container names
	Images           int
	UnusedImages     []string // images no container (running or stopped) uses

	usedImages map[string]bool // image IDs of every container listed
}

// Swarm holds the swarm facts of an engine in swarm mode.
type Swarm struct {
	Manager  bool
	Info     swarm.Info
	Overlays []network.Summary // swarm-scope overlay networks (managers)
	Secrets  int
	Services []swarm.Service
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
	ContainerTop(ctx context.Context, containerID string, arguments []string) (container.TopResponse, error)
	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	SecretList(ctx context.Context, options swarm.SecretListOptions) ([]swarm.Secret, error)
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	DaemonHost() string
	ClientVersion() string
}

// ContentTrust is what the audit saw of DOCKER_CONTENT_TRUST (CIS 4.5).
type ContentTrust struct {
	Client     string
	Daemon     string
	DaemonSeen bool // dockerd's environment was readable
}
