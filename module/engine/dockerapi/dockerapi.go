// Package dockerapi adapts engine.Engine to the Docker Engine API through
// github.com/moby/moby/client. It is the only package that imports the
// Docker client library; it negotiates the API version, so engines as old as
// Debian's docker.io 20.10 (API 1.41) work.
package dockerapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/registryauth"
)

// Engine talks to one Docker daemon.
type Engine struct {
	c       *client.Client
	creds   Credentials
	timeout time.Duration
}

// Credentials finds the login for the registry of an image reference. An
// error wrapping registryauth.ErrNoCredentials means there is none: the
// pull goes ahead anonymously. registryauth.Resolver.Lookup is one.
type Credentials func(ctx context.Context, ref string) (registryauth.Credentials, error)

// Option sets up an Engine.
type Option func(*Engine)

// WithCredentials makes PullImage log in to registries with what lookup
// finds, as `docker pull` does with the docker CLI's credentials.
func WithCredentials(lookup Credentials) Option {
	return func(e *Engine) { e.creds = lookup }
}

// WithTimeout bounds every call: a call must be answered within d (a stop
// gets its stop timeout on top), and a pull or load fails once the daemon
// has moved no data for d. Without it a daemon that accepts the connection
// and never answers blocks the module until the client's own timeout.
func WithTimeout(d time.Duration) Option {
	return func(e *Engine) { e.timeout = d }
}

// New connects to host (unix:///var/run/docker.sock style), or to what
// DOCKER_HOST says when host is empty. Nothing is sent until the first call.
// Without WithCredentials, pulls send no credentials.
func New(host string, opts ...Option) (*Engine, error) {
	copts := []client.Opt{client.FromEnv}
	if host != "" {
		copts = append(copts, client.WithHost(host))
	}
	c, err := client.New(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	e := &Engine{c: c}
	for _, o := range opts {
		o(e)
	}
	return e, nil
}

// errTimedOut is the cause of a context that call or watch cancelled.
var errTimedOut = errors.New("engine timeout")

// call bounds one request-answer call to the engine's timeout plus extra.
func (e *Engine) call(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	if e.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, e.timeout+extra, errTimedOut)
}

// watch bounds a stream: it fails once kick has not been called for the
// engine's timeout.
func (e *Engine) watch(ctx context.Context) (context.Context, func(), context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if e.timeout <= 0 {
		return ctx, func() {}, func() { cancel(nil) }
	}
	t := time.AfterFunc(e.timeout, func() { cancel(errTimedOut) })
	return ctx, func() { t.Reset(e.timeout) }, func() { t.Stop(); cancel(nil) }
}

// timedOut rewrites err when ctx was ended by call or watch, so that the
// log says the engine did not answer rather than "context canceled".
func (e *Engine) timedOut(ctx context.Context, err error, format string, a ...any) error {
	if err != nil && errors.Is(context.Cause(ctx), errTimedOut) {
		return fmt.Errorf("%s: %w: nothing from %s for %s (engine_timeout)", fmt.Sprintf(format, a...), engine.ErrTimeout, e.c.DaemonHost(), e.timeout)
	}
	return wrap(err, format, a...)
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.c.Close() }

// wrap maps the client's error classes onto ours.
func wrap(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, a...)
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %v: %w", msg, err, engine.ErrNotFound)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%s: %v: %w", msg, err, engine.ErrConflict)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

func (e *Engine) Ping(ctx context.Context) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	_, err := e.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return e.timedOut(ctx, err, "docker engine not answering")
}

func (e *Engine) RootDir(ctx context.Context) (string, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	info, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", e.timedOut(ctx, err, "docker info")
	}
	return info.Info.DockerRootDir, nil
}

func (e *Engine) HasImage(ctx context.Context, ref string) (bool, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	_, err := e.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, e.timedOut(ctx, err, "inspecting image %s", ref)
	}
	return true, nil
}

func (e *Engine) ImageID(ctx context.Context, ref string) (string, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	res, err := e.c.ImageInspect(ctx, ref)
	if err != nil {
		return "", e.timedOut(ctx, err, "inspecting image %s", ref)
	}
	return res.ID, nil
}

func (e *Engine) PullImage(ctx context.Context, ref string) error {
	var opts client.ImagePullOptions
	// Why there is no login, for the error if the registry wants one.
	var none error
	var from string
	if e.creds != nil {
		c, err := e.creds(ctx, ref)
		switch {
		case errors.Is(err, registryauth.ErrNoCredentials):
			none = err
		case err != nil:
			return fmt.Errorf("pulling %s: %w", ref, err)
		default:
			if opts.RegistryAuth, err = encodeAuth(c); err != nil {
				return fmt.Errorf("pulling %s: %w", ref, err)
			}
			from = c.From
		}
	}
	ctx, kick, stop := e.watch(ctx)
	defer stop()
	resp, err := e.c.ImagePull(ctx, ref, opts)
	if err == nil {
		defer resp.Close()
		// The pull runs as long as we read; errors arrive inside the stream.
		err = readMessages(resp, kick, engine.ProgressFunc(ctx))
	}
	switch {
	case err == nil:
		return nil
	case none != nil && isAuthError(err):
		return fmt.Errorf("%w: %w", wrap(err, "pulling %s", ref), none)
	case from != "" && isAuthError(err):
		return fmt.Errorf("%w (the registry refused the credentials from %s)", wrap(err, "pulling %s", ref), from)
	}
	return e.timedOut(ctx, err, "pulling %s", ref)
}

// encodeAuth is the API's X-Registry-Auth value: base64url of the JSON
// login.
func encodeAuth(c registryauth.Credentials) (string, error) {
	b, err := json.Marshal(registry.AuthConfig{
		Username:      c.Username,
		Password:      c.Password,
		ServerAddress: c.ServerAddress,
		IdentityToken: c.IdentityToken,
		RegistryToken: c.RegistryToken,
	})
	if err != nil {
		return "", fmt.Errorf("encoding registry credentials: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// isAuthError tells a registry's refusal of the (missing) login. Engines
// report it in words ("no basic auth credentials", "unauthorized: …")
// more often than as a 401.
func isAuthError(err error) bool {
	if cerrdefs.IsUnauthorized(err) || cerrdefs.IsPermissionDenied(err) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"no basic auth credentials", "unauthorized", "authentication required", "denied"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func (e *Engine) LoadImage(ctx context.Context, r io.Reader) error {
	ctx, kick, stop := e.watch(ctx)
	defer stop()
	// Not quiet: the engine's progress while it unpacks and registers
	// the layers is what shows it is still working.
	// The upload goes through a pipe that is closed when ctx ends, since
	// the HTTP client waits for a body read that r may never return from.
	body, bw := io.Pipe()
	go func() {
		_, err := io.Copy(bw, &kickReader{r: r, kick: kick})
		bw.CloseWithError(err)
	}()
	defer context.AfterFunc(ctx, func() { body.CloseWithError(context.Cause(ctx)) })()
	defer body.Close()
	resp, err := e.c.ImageLoad(ctx, body, client.ImageLoadWithQuiet(false))
	if err != nil {
		return e.timedOut(ctx, err, "loading images")
	}
	defer resp.Close()
	return e.timedOut(ctx, readMessages(resp, kick, nil), "loading images")
}

// readMessages reads the engine's JSON message stream to its end, calling
// kick for each message and progress (when not nil) with the bytes
// downloaded so far, and returns the first error it reports.
func readMessages(r io.Reader, kick func(), progress func(engine.Progress)) error {
	dec := json.NewDecoder(r)
	type layer struct{ done, total int64 }
	layers := map[string]*layer{}
	for {
		var msg struct {
			ID             string `json:"id"`
			Status         string `json:"status"`
			ProgressDetail struct {
				Current int64 `json:"current"`
				Total   int64 `json:"total"`
			} `json:"progressDetail"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the engine's answer: %w", err)
		}
		kick()
		if progress != nil && msg.ID != "" {
			l := layers[msg.ID]
			if l == nil {
				l = &layer{}
				layers[msg.ID] = l
			}
			switch msg.Status {
			case "Downloading":
				l.done, l.total = msg.ProgressDetail.Current, max(l.total, msg.ProgressDetail.Total)
			case "Download complete", "Pull complete", "Already exists":
				l.done = l.total
			}
			var p engine.Progress
			for _, l := range layers {
				p.Done, p.Total = p.Done+l.done, p.Total+l.total
			}
			progress(p)
		}
		if msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}

// kickReader calls kick for every read: an upload that moves is progress.
type kickReader struct {
	r    io.Reader
	kick func()
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	k.kick()
	return n, err
}

func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	_, err := e.c.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
	return e.timedOut(ctx, err, "removing image %s", ref)
}

func (e *Engine) ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.timedOut(ctx, err, "listing containers")
	}
	out := make([]engine.Container, 0, len(res.Items))
	for _, s := range res.Items {
		c := engine.Container{ID: s.ID, Image: s.Image, Labels: s.Labels}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		c.State.Running = s.State == container.StateRunning
		c.State.Restarting = s.State == container.StateRestarting
		c.Binds = binds(s.Mounts)
		out = append(out, c)
	}
	return out, nil
}

// binds are the bind mounts of host paths among a container's mounts.
func binds(mounts []container.MountPoint) []engine.Bind {
	var out []engine.Bind
	for _, m := range mounts {
		if m.Type == "bind" {
			out = append(out, engine.Bind{Source: m.Source, Destination: m.Destination, ReadOnly: !m.RW})
		}
	}
	return out
}

func (e *Engine) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	res, err := e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return engine.Container{}, e.timedOut(ctx, err, "inspecting container %s", id)
	}
	r := res.Container
	c := engine.Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/")}
	if r.Config != nil {
		c.Image, c.Labels = r.Config.Image, r.Config.Labels
	}
	if h := r.HostConfig; h != nil {
		c.RestartPolicy = string(h.RestartPolicy.Name)
		c.PidMode, c.IpcMode, c.NetworkMode = string(h.PidMode), string(h.IpcMode), string(h.NetworkMode)
		c.UTSMode, c.UsernsMode = string(h.UTSMode), string(h.UsernsMode)
	}
	var hostname string
	if r.Config != nil {
		hostname = r.Config.Hostname
	}
	if s := r.NetworkSettings; s != nil {
		for name, ep := range s.Networks {
			if !engine.UserNetwork(name) {
				continue
			}
			if c.Networks == nil {
				c.Networks = map[string][]string{}
			}
			c.Networks[name] = configuredAliases(r.ID, hostname, ep)
			if a := staticAddresses(ep); a != nil {
				if c.Addresses == nil {
					c.Addresses = map[string][]string{}
				}
				c.Addresses[name] = a
			}
		}
	}
	c.Binds = binds(r.Mounts)
	c.MacAddress = primaryMAC(r)
	c.State.RestartCount = r.RestartCount
	if s := r.State; s != nil {
		c.State.Running = s.Running && !s.Restarting
		c.State.Restarting = s.Restarting
		c.State.ExitCode = s.ExitCode
		c.State.StartedAt, _ = time.Parse(time.RFC3339Nano, s.StartedAt)
		if s.Health != nil {
			c.State.Health = string(s.Health.Status)
			if n := len(s.Health.Log); n > 0 && s.Health.Log[n-1] != nil {
				p := s.Health.Log[n-1]
				c.State.LastProbe = &engine.Probe{End: p.End, ExitCode: p.ExitCode, Output: p.Output}
			}
		}
	}
	return c, nil
}

func (e *Engine) CreateContainer(ctx context.Context, cfg engine.ContainerConfig) (string, error) {
	cc, hc, err := toDocker(cfg)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", cfg.Name, err)
	}
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	if mode := networkMode(cfg); engine.UserNetwork(mode) {
		// The engine looks for the network only at start; refuse it here,
		// before anything changed, as for a missing image.
		if _, err := e.InspectNetwork(ctx, mode); err != nil {
			return "", fmt.Errorf("creating %s: %w", cfg.Name, err)
		}
	}
	opts := client.ContainerCreateOptions{Config: cc, HostConfig: hc, NetworkingConfig: networkingConfig(cfg), Name: cfg.Name}
	if cfg.MacAddress != "" {
		id, err := e.createWithMAC(ctx, cfg, opts)
		return id, e.timedOut(ctx, err, "creating %s", cfg.Name)
	}
	res, err := e.c.ContainerCreate(ctx, opts)
	if err != nil {
		return "", e.timedOut(ctx, err, "creating %s", cfg.Name)
	}
	return res.ID, nil
}

func (e *Engine) StartContainer(ctx context.Context, id string) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	_, err := e.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return e.timedOut(ctx, err, "starting %s", id)
}

func (e *Engine) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout / time.Second)
	ctx, cancel := e.call(ctx, timeout)
	defer cancel()
	_, err := e.c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	return e.timedOut(ctx, err, "stopping %s", id)
}

func (e *Engine) RemoveContainer(ctx context.Context, id string) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	// RemoveVolumes takes the anonymous volumes only, as docker rm -v.
	_, err := e.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	return e.timedOut(ctx, err, "removing %s", id)
}

func (e *Engine) RenameContainer(ctx context.Context, id, name string) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	_, err := e.c.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name})
	if err != nil && sandboxRE.MatchString(err.Error()) {
		// The daemon's 404 for the no-bridge quirk, not a missing container.
		return fmt.Errorf("renaming %s to %s: %v: %w", id, name, err, engine.ErrRenameSandbox)
	}
	return e.timedOut(ctx, err, "renaming %s to %s", id, name)
}

// sandboxRE is the daemon's answer when it cannot rename a running
// container whose network sandbox it lost (no default bridge).
var sandboxRE = regexp.MustCompile(`\bsandbox [0-9a-f]{12,64} not found\b`)

// maxLogBytes bounds what ContainerLogs reads: tail lines of a container
// that never writes a newline could otherwise be its whole output.
const maxLogBytes = 64 << 10

func (e *Engine) ContainerLogs(ctx context.Context, id string, tail int) ([]string, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	// The stream is multiplexed (8-byte frame headers) unless the
	// container has a TTY: then it is the raw terminal output.
	res, err := e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, e.timedOut(ctx, err, "inspecting container %s", id)
	}
	tty := res.Container.Config != nil && res.Container.Config.Tty
	rc, err := e.c.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(tail)})
	if err != nil {
		return nil, e.timedOut(ctx, err, "reading the log of %s", id)
	}
	defer rc.Close()
	var buf limitedBuffer
	buf.max = maxLogBytes
	if tty {
		_, err = io.Copy(&buf, rc)
	} else {
		_, err = stdcopy.StdCopy(&buf, &buf, rc)
	}
	if err != nil {
		return nil, e.timedOut(ctx, err, "reading the log of %s", id)
	}
	return engine.SplitLines(buf.b, tail), nil
}

// limitedBuffer keeps the last max bytes written to it.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > l.max {
		l.b = l.b[len(l.b)-l.max:]
	}
	return len(p), nil
}

func (e *Engine) Version(ctx context.Context) (string, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	v, err := e.c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", e.timedOut(ctx, err, "docker version")
	}
	return v.Version, nil
}

// toDocker maps our configuration onto the API's types.
func toDocker(c engine.ContainerConfig) (*container.Config, *container.HostConfig, error) {
	cc, hc := containerConfig(c), hostConfig(c)
	setResources(hc, c)
	setSecurityOpt(hc, c.SecurityOpt)
	hc.Devices = deviceMappings(c.Devices)
	for _, d := range c.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, nil, fmt.Errorf("--dns %q: not an IP address", d)
		}
		hc.DNS = append(hc.DNS, a)
	}
	if err := setPorts(cc, hc, c.Ports); err != nil {
		return nil, nil, err
	}
	return cc, hc, nil
}

// containerConfig is the part of c that the engine keeps in the
// container's config (what docker inspect shows under Config).
func containerConfig(c engine.ContainerConfig) *container.Config {
	cc := &container.Config{
		Image:       c.Image,
		Labels:      c.Labels,
		Env:         c.Env,
		Cmd:         c.Cmd,
		Entrypoint:  c.Entrypoint,
		User:        c.User,
		WorkingDir:  c.WorkingDir,
		Hostname:    c.Hostname,
		Domainname:  c.Domainname,
		Tty:         c.Tty,
		OpenStdin:   c.OpenStdin,
		StopSignal:  c.StopSignal,
		StopTimeout: c.StopTimeout,
	}
	if h := c.Healthcheck; h != nil {
		cc.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return cc
}

// hostConfig is the part of c that the engine keeps in the container's
// host config, but for resources, security options, devices, DNS servers
// and ports (toDocker's other steps).
func hostConfig(c engine.ContainerConfig) *container.HostConfig {
	hc := &container.HostConfig{
		Binds:           c.Binds,
		Tmpfs:           c.Tmpfs,
		NetworkMode:     container.NetworkMode(networkMode(c)),
		Privileged:      c.Privileged,
		ReadonlyRootfs:  c.ReadOnly,
		PublishAllPorts: c.PublishAll,
		CapAdd:          c.CapAdd,
		CapDrop:         c.CapDrop,
		UsernsMode:      container.UsernsMode(c.UsernsMode),
		UTSMode:         container.UTSMode(c.UTSMode),
		GroupAdd:        c.GroupAdd,
		Sysctls:         c.Sysctls,
		PidMode:         container.PidMode(c.PidMode),
		IpcMode:         container.IpcMode(c.IpcMode),
		ShmSize:         c.ShmSize,
		RestartPolicy: container.RestartPolicy{
			Name:              container.RestartPolicyMode(c.RestartPolicy),
			MaximumRetryCount: c.RestartRetries,
		},
		LogConfig:  container.LogConfig{Type: c.LogDriver, Config: c.LogOpts},
		DNSSearch:  c.DNSSearch,
		DNSOptions: c.DNSOptions,
	}
	hc.DeviceCgroupRules = c.DeviceCgroupRules
	if c.Init {
		t := true
		hc.Init = &t
	}
	for _, h := range c.ExtraHosts {
		hc.ExtraHosts = append(hc.ExtraHosts, extraHost(h))
	}
	return hc
}

// setResources puts c's resource limits in hc.
func setResources(hc *container.HostConfig, c engine.ContainerConfig) {
	hc.Memory, hc.NanoCPUs = c.Memory, c.NanoCPUs
	hc.MemoryReservation, hc.MemorySwap = c.MemoryReservation, c.MemorySwap
	hc.CPUShares, hc.CPUPeriod, hc.CPUQuota = c.CPUShares, c.CPUPeriod, c.CPUQuota
	hc.CpusetCpus, hc.CpusetMems, hc.BlkioWeight = c.CpusetCpus, c.CpusetMems, c.BlkioWeight
	hc.OomScoreAdj = c.OomScoreAdj
	if c.PidsLimit != 0 {
		hc.PidsLimit = &c.PidsLimit
	}
	if c.OomKillDisable {
		t := true
		hc.OomKillDisable = &t
	}
	for _, u := range c.Ulimits {
		hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
}

// setSecurityOpt puts the --security-opt values in hc.
func setSecurityOpt(hc *container.HostConfig, opts []string) {
	for _, o := range opts {
		if o == "systempaths=unconfined" {
			// What the docker CLI sends for it: no masked or read-only
			// paths (an empty list, not nil, which would mean the default).
			hc.MaskedPaths, hc.ReadonlyPaths = []string{}, []string{}
			continue
		}
		hc.SecurityOpt = append(hc.SecurityOpt, o)
	}
}

// deviceMappings are --device values (host[:container[:perms]]) as the
// engine takes them.
func deviceMappings(devices []string) []container.DeviceMapping {
	var out []container.DeviceMapping
	for _, d := range devices {
		parts := strings.SplitN(d, ":", 3)
		m := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		if len(parts) > 1 && parts[1] != "" {
			m.PathInContainer = parts[1]
		}
		if len(parts) > 2 {
			m.CgroupPermissions = parts[2]
		}
		out = append(out, m)
	}
	return out
}

// setPorts exposes and publishes ports.
func setPorts(cc *container.Config, hc *container.HostConfig, ports []engine.PortBinding) error {
	if len(ports) == 0 {
		return nil
	}
	cc.ExposedPorts = network.PortSet{}
	hc.PortBindings = network.PortMap{}
	for _, p := range ports {
		port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto))
		if err != nil {
			return err
		}
		b := network.PortBinding{HostPort: p.HostPort}
		if p.HostIP != "" {
			if b.HostIP, err = netip.ParseAddr(p.HostIP); err != nil {
				return fmt.Errorf("--publish: %q is not an IP address", p.HostIP)
			}
		}
		cc.ExposedPorts[port] = struct{}{}
		hc.PortBindings[port] = append(hc.PortBindings[port], b)
	}
	return nil
}

// extraHost is an --add-host value as the engine reads it: host:ip. The
// docker CLI also takes host=ip and a bracketed IPv6 address, and rewrites
// them before it sends them; engines before API 1.44 refuse them as given.
func extraHost(v string) string {
	host, ip, ok := strings.Cut(v, "=")
	if !ok {
		host, ip, ok = strings.Cut(v, ":")
	}
	if !ok {
		return v
	}
	return host + ":" + strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
}

var _ engine.Engine = (*Engine)(nil)
