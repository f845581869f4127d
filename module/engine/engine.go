// Package engine defines the small view of a container engine that the
// update module needs: pull and remove images, and create, start, stop,
// rename, inspect and remove containers. The rest of the code depends on
// this interface only; package dockerapi adapts it to the Docker Engine API
// and package memengine implements it in memory for fast tests. Both pass
// the contract suite in package enginetest.
package engine

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

// Sentinel errors every implementation returns (wrapped) so that callers
// can decide with errors.Is.
var (
	// ErrNotFound: the image or container does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the operation conflicts with the engine's state, such as
	// a name in use or an image still used by a container.
	ErrConflict = errors.New("conflict")
	// ErrTimeout: the engine did not answer, or a stream it sent stalled,
	// within the configured time.
	ErrTimeout = errors.New("engine did not answer in time")
	// ErrRenameSandbox: a Docker engine without a default bridge cannot
	// rename a running container that was stopped and started again
	// ("sandbox … not found"); it can once the container is stopped.
	// Only this answer is that quirk: any other failed rename is an error.
	ErrRenameSandbox = errors.New("the engine cannot rename this running container (no default bridge)")
)

// Engine is what the update module asks of a container engine.
type Engine interface {
	// Ping checks that the engine answers.
	Ping(ctx context.Context) error
	// RootDir is where the engine keeps images, for the free-space check;
	// empty when unknown.
	RootDir(ctx context.Context) (string, error)

	// HasImage tells whether ref (repo@sha256:… or an image ID sha256:…)
	// is present locally.
	HasImage(ctx context.Context, ref string) (bool, error)
	// PullImage fetches ref from its registry.
	PullImage(ctx context.Context, ref string) error
	// LoadImage loads images from a docker-archive (the `docker save`
	// format; layers may be gzipped, and layers the engine already has may
	// be left out) read from r.
	LoadImage(ctx context.Context, r io.Reader) error
	// ImageID is the ID (sha256:…) of the image that ref (a reference, a
	// tag or an ID) names; ErrNotFound when there is none.
	ImageID(ctx context.Context, ref string) (string, error)
	// RemoveImage removes the reference ref, and the image if nothing else
	// refers to it. ErrConflict when a container uses it.
	RemoveImage(ctx context.Context, ref string) error

	// ListContainers lists all containers (running or not) that carry every
	// label in labels (a label with an empty value only has to exist).
	ListContainers(ctx context.Context, labels map[string]string) ([]Container, error)
	// InspectContainer returns a container's current state.
	InspectContainer(ctx context.Context, id string) (Container, error)
	// CreateContainer creates (does not start) a container and returns its
	// ID; ErrNotFound when its image or its network is missing.
	CreateContainer(ctx context.Context, cfg ContainerConfig) (string, error)
	StartContainer(ctx context.Context, id string) error
	// StopContainer stops a running container, waiting at most timeout
	// before killing it. Stopping a stopped container is not an error.
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	// RemoveContainer removes a container, killing it if it runs, with its
	// anonymous volumes; its named volumes are kept.
	RemoveContainer(ctx context.Context, id string) error
	// RenameContainer gives a container a new name; it may be running.
	// ErrConflict when the name is taken; ErrRenameSandbox for the
	// no-bridge quirk.
	RenameContainer(ctx context.Context, id, name string) error

	// InspectNetwork returns the network called name; ErrNotFound when
	// there is none.
	InspectNetwork(ctx context.Context, name string) (Network, error)
	// CreateNetwork creates a bridge network; ErrConflict when the name is
	// taken.
	CreateNetwork(ctx context.Context, cfg NetworkConfig) error
	// ListNetworks lists the networks that carry every label in labels.
	ListNetworks(ctx context.Context, labels map[string]string) ([]Network, error)
	// RemoveNetwork removes a network; ErrConflict while a container
	// (running or not) is attached.
	RemoveNetwork(ctx context.Context, name string) error
	// ConnectNetwork attaches a created container to one more network,
	// with aliases. Attaching it where it is attached already is not an
	// error.
	ConnectNetwork(ctx context.Context, container, network string, aliases []string) error
	// ConnectEndpoint is ConnectNetwork with the endpoint's static
	// addresses.
	ConnectEndpoint(ctx context.Context, container string, ep Endpoint) error

	// InspectVolume returns the volume called name; ErrNotFound when there
	// is none.
	InspectVolume(ctx context.Context, name string) (Volume, error)
	// CreateVolume creates a local volume; ErrConflict when it exists.
	CreateVolume(ctx context.Context, cfg VolumeConfig) error
	// ListVolumes lists the volumes that carry every label in labels.
	ListVolumes(ctx context.Context, labels map[string]string) ([]Volume, error)
	// RemoveVolume removes a volume and its data; ErrConflict while a
	// container uses it.
	RemoveVolume(ctx context.Context, name string) error

	// ContainerLogs returns the last tail lines a container wrote to its
	// stdout and stderr (merged, oldest first, without line ends), whether
	// or not it runs with a TTY.
	ContainerLogs(ctx context.Context, id string, tail int) ([]string, error)
	// Version is the engine's version, such as "20.10.24".
	Version(ctx context.Context) (string, error)
}

// Container is a container as the engine reports it.
type Container struct {
	ID     string
	Name   string // without the leading slash
	Image  string // as given at creation
	Labels map[string]string
	State  State
	// RestartPolicy is kept here so that tests can show it survives.
	RestartPolicy string
	// Networks the container is attached to, by name, with their aliases
	// (only the ones given at creation or connection). Only
	// InspectContainer fills it.
	Networks map[string][]string
	// Addresses are the static addresses (IPv4, then IPv6) the container
	// was given on a network, by network name; only InspectContainer
	// fills it.
	Addresses map[string][]string
	// MacAddress is the container's MAC address on its primary network
	// while it runs: the one ContainerConfig.MacAddress asked for, or the
	// engine's own (memengine has none of its own). Only
	// InspectContainer fills it.
	MacAddress string
	// Binds are the container's bind mounts of host paths (not named
	// volumes or tmpfs), as given at creation: the engine resolves their
	// sources again at every start.
	Binds []Bind
	// Namespaces the container joins ("", "host", "container:ID", or for
	// NetworkMode a network name). Only InspectContainer fills them.
	PidMode, IpcMode, NetworkMode, UTSMode, UsernsMode string
}

// Bind is one bind mount of a host path.
type Bind struct {
	Source      string // the host path, as given
	Destination string
	ReadOnly    bool
}

// HostBind reads a -v value (src:dst[:opts]) that binds a host path;
// ok is false for a named or anonymous volume.
func HostBind(v string) (b Bind, ok bool) {
	src, rest, found := strings.Cut(v, ":")
	if !found || !strings.HasPrefix(src, "/") {
		return Bind{}, false
	}
	dst, opts, _ := strings.Cut(rest, ":")
	b = Bind{Source: src, Destination: dst}
	for _, o := range strings.Split(opts, ",") {
		if o == "ro" || o == "readonly" {
			b.ReadOnly = true
		}
	}
	return b, true
}

// Network is a network as the engine reports it.
type Network struct {
	ID       string
	Name     string
	Internal bool
	Labels   map[string]string
	// Driver ("bridge", "host", "null", …) and Scope ("local", …): what
	// tells the engine's own networks from user-defined ones.
	Driver string
	Scope  string
	// IPAM is the network's address configuration as created (nil: the
	// engine's defaults); EnableIPv6 whether it has IPv6.
	IPAM       *IPAM
	EnableIPv6 bool
}

// NetworkConfig is what a network is created with.
type NetworkConfig struct {
	Name     string
	Internal bool
	Labels   map[string]string
	// IPAM, when set, fixes the network's subnets (nil: the engine picks
	// one); EnableIPv6 gives it IPv6.
	IPAM       *IPAM
	EnableIPv6 bool
}

// IPAM is a network's address management: its driver ("" or "default")
// and address pools.
type IPAM struct {
	Driver string
	Config []IPAMPool
}

// IPAMPool is one subnet of a network, in CIDR and address notation:
// IPRange the part containers get addresses from, AuxAddresses addresses
// kept from them by host name.
type IPAMPool struct {
	Subnet       string
	IPRange      string
	Gateway      string
	AuxAddresses map[string]string
}

// Volume is a named volume as the engine reports it.
type Volume struct {
	Name   string
	Labels map[string]string
	// Driver and Options are what the volume was created with: the local
	// driver's options can bind any host path (o=bind,device=/etc).
	Driver  string
	Options map[string]string
}

// VolumeConfig is what a named volume is created with (local driver, no
// options: a volume's driver options could bind any host path).
type VolumeConfig struct {
	Name   string
	Labels map[string]string
}

// UserNetwork tells whether a network mode names a user-defined network
// rather than one of the engine's own modes.
func UserNetwork(mode string) bool {
	switch mode {
	case "", "default", "bridge", "host", "none":
		return false
	}
	return !strings.HasPrefix(mode, "container:")
}

// Endpoint is a container's attachment to a user-defined network.
type Endpoint struct {
	Network string
	Aliases []string
	// IPv4Address and IPv6Address are static addresses on the network
	// (empty: the engine assigns one). Left out of JSON when unset, so
	// that the config hash of a container without them is unchanged.
	IPv4Address string `json:",omitempty"`
	IPv6Address string `json:",omitempty"`
}

// State is a container's run state.
type State struct {
	Running      bool
	Restarting   bool
	ExitCode     int
	RestartCount int
	StartedAt    time.Time
	// Health is "" when the container has no health check, else
	// "starting", "healthy" or "unhealthy".
	Health string
	// LastProbe is the health check's latest result; nil before the first
	// or without a health check. Only InspectContainer fills it.
	LastProbe *Probe
}

// Probe is one run of a container's health check.
type Probe struct {
	End      time.Time
	ExitCode int
	Output   string
}

// Health statuses.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// ContainerConfig is everything needed to create a container: the subset
// of `docker run` that the module supports.
type ContainerConfig struct {
	Name       string
	Image      string
	Labels     map[string]string
	Env        []string
	Cmd        []string
	Entrypoint []string // nil: the image's; empty non-nil: none
	User       string
	WorkingDir string
	Hostname   string
	Tty        bool
	OpenStdin  bool

	Ports       []PortBinding
	PublishAll  bool
	Binds       []string // docker -v syntax: [src:]dst[:opts]
	Tmpfs       map[string]string
	NetworkMode string // "", "host", "none", "bridge" or a network name
	// Networks are user-defined networks to attach with aliases. When set,
	// NetworkMode is the first one's name: CreateContainer attaches that one
	// with its aliases, and the caller attaches each other one with
	// ConnectNetwork before it starts the container.
	Networks   []Endpoint
	ExtraHosts []string
	DNS        []string

	RestartPolicy  string // "", "no", "always", "on-failure", "unless-stopped"
	RestartRetries int

	Privileged bool
	ReadOnly   bool
	Init       bool
	CapAdd     []string
	CapDrop    []string
	Devices    []string // host[:container[:perms]]
	// DeviceCgroupRules are --device-cgroup-rule values: "c 1:3 rwm".
	DeviceCgroupRules []string
	// SecurityOpt holds --security-opt values as key=value;
	// "systempaths=unconfined" is not an engine option (the docker CLI
	// turns it into empty masked and read-only path lists) and adapters
	// do the same.
	SecurityOpt []string
	GroupAdd    []string
	Sysctls     map[string]string
	PidMode     string
	IpcMode     string
	UsernsMode  string // "" or "host"
	UTSMode     string // "" or "host"

	Memory   int64 // bytes
	NanoCPUs int64
	ShmSize  int64
	// Resources of later releases: omitted from JSON when unset, so that
	// the config hash (module/keep.go) of a container without them stays
	// what an earlier release computed.
	MemoryReservation int64    `json:",omitempty"` // bytes
	MemorySwap        int64    `json:",omitempty"` // memory plus swap, bytes; -1 unlimited
	CPUShares         int64    `json:",omitempty"`
	CPUPeriod         int64    `json:",omitempty"` // microseconds
	CPUQuota          int64    `json:",omitempty"` // microseconds
	CpusetCpus        string   `json:",omitempty"`
	CpusetMems        string   `json:",omitempty"`
	BlkioWeight       uint16   `json:",omitempty"`
	PidsLimit         int64    `json:",omitempty"` // -1 unlimited
	OomScoreAdj       int      `json:",omitempty"`
	OomKillDisable    bool     `json:",omitempty"`
	Ulimits           []Ulimit `json:",omitempty"`
	DNSSearch         []string `json:",omitempty"`
	DNSOptions        []string `json:",omitempty"`
	Domainname        string   `json:",omitempty"`
	// MacAddress is the container's MAC address (lower-case
	// aa:bb:cc:dd:ee:ff) on its primary network, NetworkMode's (the
	// first of Networks); other networks get the engine's own. Empty:
	// the engine's.
	MacAddress string `json:",omitempty"`

	LogDriver string
	LogOpts   map[string]string

	Healthcheck *Healthcheck
	StopSignal  string
	StopTimeout *int
}

// Ulimit is one --ulimit: a resource limit (nofile, nproc...) inside the
// container.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// PortBinding publishes one container port on the host.
type PortBinding struct {
	HostIP        string
	HostPort      string // empty: any free port
	ContainerPort uint16
	Proto         string // tcp, udp or sctp
}

// Healthcheck overrides the image's HEALTHCHECK. Test ["NONE"] disables it.
type Healthcheck struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// SplitLines cuts a container's output into at most tail lines (the last
// ones), dropping line ends: "\n", and the "\r\n" a TTY writes.
func SplitLines(b []byte, tail int) []string {
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" || tail == 0 {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return lines
}

// Progress is how far a pull has come, in bytes, summed over its layers
// as far as the engine has told their sizes.
type Progress struct {
	Done, Total int64
}

type progressKey struct{}

// WithProgress returns a context whose image pulls call fn as the engine
// reports progress (often: the caller decides how much of it to show).
// Engines that cannot tell never call it.
func WithProgress(ctx context.Context, fn func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// ProgressFunc is the function WithProgress put in ctx, or nil.
func ProgressFunc(ctx context.Context) func(Progress) {
	fn, _ := ctx.Value(progressKey{}).(func(Progress))
	return fn
}
