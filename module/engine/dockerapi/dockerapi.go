// Package dockerapi adapts engine.Engine to the Docker Engine API through
// github.com/moby/moby/client. It is the only package that imports the
// Docker client library; it negotiates the API version, so engines as old as
// Debian's docker.io 20.10 (API 1.41) work.
package dockerapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/mender-docker/mender-docker/module/engine"
)

// Engine talks to one Docker daemon.
type Engine struct {
	c *client.Client
}

// New connects to host (unix:///var/run/docker.sock style), or to what
// DOCKER_HOST says when host is empty. Nothing is sent until the first call.
func New(host string) (*Engine, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Engine{c: c}, nil
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
	_, err := e.c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return wrap(err, "docker engine not answering")
}

func (e *Engine) RootDir(ctx context.Context) (string, error) {
	info, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", wrap(err, "docker info")
	}
	return info.Info.DockerRootDir, nil
}

func (e *Engine) HasImage(ctx context.Context, ref string) (bool, error) {
	_, err := e.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, wrap(err, "inspecting image %s", ref)
	}
	return true, nil
}

func (e *Engine) PullImage(ctx context.Context, ref string) error {
	resp, err := e.c.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return wrap(err, "pulling %s", ref)
	}
	defer resp.Close()
	// The pull runs as long as we read; errors arrive inside the stream.
	if err := resp.Wait(ctx); err != nil {
		return wrap(err, "pulling %s", ref)
	}
	return nil
}

func (e *Engine) LoadImage(ctx context.Context, r io.Reader) error {
	resp, err := e.c.ImageLoad(ctx, r, client.ImageLoadWithQuiet(true))
	if err != nil {
		return wrap(err, "loading images")
	}
	defer resp.Close()
	// Failures come inside the answer's JSON stream.
	dec := json.NewDecoder(resp)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("loading images: reading the engine's answer: %w", err)
		}
		if msg.Error != "" {
			return fmt.Errorf("loading images: %s", msg.Error)
		}
	}
}

func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.c.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
	return wrap(err, "removing image %s", ref)
}

func (e *Engine) ListContainers(ctx context.Context, labels map[string]string) ([]engine.Container, error) {
	f := client.Filters{}
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	res, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, wrap(err, "listing containers")
	}
	out := make([]engine.Container, 0, len(res.Items))
	for _, s := range res.Items {
		c := engine.Container{ID: s.ID, Image: s.Image, Labels: s.Labels}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		c.State.Running = s.State == container.StateRunning
		c.State.Restarting = s.State == container.StateRestarting
		out = append(out, c)
	}
	return out, nil
}

func (e *Engine) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	res, err := e.c.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return engine.Container{}, wrap(err, "inspecting container %s", id)
	}
	r := res.Container
	c := engine.Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/")}
	if r.Config != nil {
		c.Image, c.Labels = r.Config.Image, r.Config.Labels
	}
	if r.HostConfig != nil {
		c.RestartPolicy = string(r.HostConfig.RestartPolicy.Name)
	}
	c.State.RestartCount = r.RestartCount
	if s := r.State; s != nil {
		c.State.Running = s.Running && !s.Restarting
		c.State.Restarting = s.Restarting
		c.State.ExitCode = s.ExitCode
		c.State.StartedAt, _ = time.Parse(time.RFC3339Nano, s.StartedAt)
		if s.Health != nil {
			c.State.Health = string(s.Health.Status)
		}
	}
	return c, nil
}

func (e *Engine) CreateContainer(ctx context.Context, cfg engine.ContainerConfig) (string, error) {
	cc, hc, err := toDocker(cfg)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", cfg.Name, err)
	}
	res, err := e.c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cc, HostConfig: hc, Name: cfg.Name})
	if err != nil {
		return "", wrap(err, "creating %s", cfg.Name)
	}
	return res.ID, nil
}

func (e *Engine) StartContainer(ctx context.Context, id string) error {
	_, err := e.c.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return wrap(err, "starting %s", id)
}

func (e *Engine) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout / time.Second)
	_, err := e.c.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	return wrap(err, "stopping %s", id)
}

func (e *Engine) RemoveContainer(ctx context.Context, id string) error {
	_, err := e.c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	return wrap(err, "removing %s", id)
}

func (e *Engine) RenameContainer(ctx context.Context, id, name string) error {
	_, err := e.c.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: name})
	return wrap(err, "renaming %s to %s", id, name)
}

// toDocker maps our configuration onto the API's types.
func toDocker(c engine.ContainerConfig) (*container.Config, *container.HostConfig, error) {
	cc := &container.Config{
		Image:       c.Image,
		Labels:      c.Labels,
		Env:         c.Env,
		Cmd:         c.Cmd,
		Entrypoint:  c.Entrypoint,
		User:        c.User,
		WorkingDir:  c.WorkingDir,
		Hostname:    c.Hostname,
		Tty:         c.Tty,
		OpenStdin:   c.OpenStdin,
		StopSignal:  c.StopSignal,
		StopTimeout: c.StopTimeout,
	}
	hc := &container.HostConfig{
		Binds:           c.Binds,
		Tmpfs:           c.Tmpfs,
		NetworkMode:     container.NetworkMode(c.NetworkMode),
		ExtraHosts:      c.ExtraHosts,
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
		LogConfig: container.LogConfig{Type: c.LogDriver, Config: c.LogOpts},
	}
	if c.Init {
		t := true
		hc.Init = &t
	}
	hc.Memory, hc.NanoCPUs = c.Memory, c.NanoCPUs
	hc.DeviceCgroupRules = c.DeviceCgroupRules
	for _, o := range c.SecurityOpt {
		if o == "systempaths=unconfined" {
			// What the docker CLI sends for it: no masked or read-only
			// paths (an empty list, not nil, which would mean the default).
			hc.MaskedPaths, hc.ReadonlyPaths = []string{}, []string{}
			continue
		}
		hc.SecurityOpt = append(hc.SecurityOpt, o)
	}
	for _, d := range c.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return nil, nil, fmt.Errorf("--dns %q: not an IP address", d)
		}
		hc.DNS = append(hc.DNS, a)
	}
	for _, d := range c.Devices {
		parts := strings.SplitN(d, ":", 3)
		m := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		if len(parts) > 1 && parts[1] != "" {
			m.PathInContainer = parts[1]
		}
		if len(parts) > 2 {
			m.CgroupPermissions = parts[2]
		}
		hc.Devices = append(hc.Devices, m)
	}
	if len(c.Ports) > 0 {
		cc.ExposedPorts = network.PortSet{}
		hc.PortBindings = network.PortMap{}
		for _, p := range c.Ports {
			port, err := network.ParsePort(fmt.Sprintf("%d/%s", p.ContainerPort, p.Proto))
			if err != nil {
				return nil, nil, err
			}
			b := network.PortBinding{HostPort: p.HostPort}
			if p.HostIP != "" {
				if b.HostIP, err = netip.ParseAddr(p.HostIP); err != nil {
					return nil, nil, fmt.Errorf("--publish: %q is not an IP address", p.HostIP)
				}
			}
			cc.ExposedPorts[port] = struct{}{}
			hc.PortBindings[port] = append(hc.PortBindings[port], b)
		}
	}
	if h := c.Healthcheck; h != nil {
		cc.Healthcheck = &container.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return cc, hc, nil
}

var _ engine.Engine = (*Engine)(nil)
