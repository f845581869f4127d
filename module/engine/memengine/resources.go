package memengine

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/mender-docker/mender-docker/module/engine"
)

// Networks and volumes, as a Docker engine keeps them: by name, in use
// while a container (running or not) refers to them.

func (e *Engine) InspectNetwork(ctx context.Context, name string) (engine.Network, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return engine.Network{}, err
	}
	n, ok := e.networks[name]
	if !ok {
		return engine.Network{}, fmt.Errorf("network %s: %w", name, engine.ErrNotFound)
	}
	return cloneNetwork(n), nil
}

func (e *Engine) CreateNetwork(ctx context.Context, cfg engine.NetworkConfig) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	if _, ok := e.networks[cfg.Name]; ok {
		return fmt.Errorf("creating network %s: name in use: %w", cfg.Name, engine.ErrConflict)
	}
	e.networks[cfg.Name] = engine.Network{ID: newID(), Name: cfg.Name, Internal: cfg.Internal, Labels: maps.Clone(cfg.Labels), Driver: "bridge", Scope: "local",
		IPAM: cloneIPAM(cfg.IPAM), EnableIPv6: cfg.EnableIPv6}
	return nil
}

func (e *Engine) ListNetworks(ctx context.Context, labels map[string]string) ([]engine.Network, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return nil, err
	}
	var out []engine.Network
	for _, name := range slices.Sorted(maps.Keys(e.networks)) {
		if n := e.networks[name]; matches(n.Labels, labels) {
			out = append(out, cloneNetwork(n))
		}
	}
	return out, nil
}

func (e *Engine) RemoveNetwork(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	if _, ok := e.networks[name]; !ok {
		return fmt.Errorf("network %s: %w", name, engine.ErrNotFound)
	}
	for _, c := range e.containers {
		if _, ok := c.Networks[name]; ok {
			return fmt.Errorf("removing network %s: container %s is attached: %w", name, c.Name, engine.ErrConflict)
		}
	}
	delete(e.networks, name)
	return nil
}

func (e *Engine) ConnectNetwork(ctx context.Context, container, network string, aliases []string) error {
	return e.ConnectEndpoint(ctx, container, engine.Endpoint{Network: network, Aliases: aliases})
}

func (e *Engine) ConnectEndpoint(ctx context.Context, container string, ep engine.Endpoint) error {
	network, aliases := ep.Network, ep.Aliases
	return e.withContainer(container, func(c *engine.Container) error {
		if _, ok := e.networks[network]; !ok {
			return fmt.Errorf("network %s: %w", network, engine.ErrNotFound)
		}
		if _, ok := c.Networks[network]; ok {
			return nil
		}
		if mode := e.configs[c.ID].NetworkMode; mode == "none" || mode == "host" || strings.HasPrefix(mode, "container:") {
			// As Docker: such a container has no network of its own to add to.
			return fmt.Errorf("connecting %s to network %s: network mode %s", c.Name, network, mode)
		}
		if c.Networks == nil {
			c.Networks = map[string][]string{}
		}
		addrs, err := e.staticAddresses(c.Name, ep)
		if err != nil {
			return err
		}
		c.Networks[network] = slices.Clone(aliases)
		if addrs != nil {
			if c.Addresses == nil {
				c.Addresses = map[string][]string{}
			}
			c.Addresses[network] = addrs
		}
		return nil
	})
}

// staticAddresses checks ep's static addresses as Docker does: only on a
// network whose IPAM names subnets, and inside one of them.
func (e *Engine) staticAddresses(name string, ep engine.Endpoint) ([]string, error) {
	var out []string
	for _, a := range []string{ep.IPv4Address, ep.IPv6Address} {
		if a == "" {
			continue
		}
		ip, err := netip.ParseAddr(a)
		if err != nil {
			return nil, fmt.Errorf("connecting %s to network %s: %q is not an address", name, ep.Network, a)
		}
		n := e.networks[ep.Network]
		if n.IPAM == nil || !slices.ContainsFunc(n.IPAM.Config, func(p engine.IPAMPool) bool {
			s, err := netip.ParsePrefix(p.Subnet)
			return err == nil && s.Contains(ip)
		}) {
			return nil, fmt.Errorf("connecting %s to network %s: no configured subnet contains %s", name, ep.Network, a)
		}
		out = append(out, a)
	}
	return out, nil
}

func (e *Engine) InspectVolume(ctx context.Context, name string) (engine.Volume, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return engine.Volume{}, err
	}
	v, ok := e.volumes[name]
	if !ok {
		return engine.Volume{}, fmt.Errorf("volume %s: %w", name, engine.ErrNotFound)
	}
	return cloneVolume(v), nil
}

func (e *Engine) CreateVolume(ctx context.Context, cfg engine.VolumeConfig) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	if _, ok := e.volumes[cfg.Name]; ok {
		return fmt.Errorf("creating volume %s: %w", cfg.Name, engine.ErrConflict)
	}
	e.volumes[cfg.Name] = engine.Volume{Name: cfg.Name, Labels: maps.Clone(cfg.Labels), Driver: "local"}
	return nil
}

func (e *Engine) ListVolumes(ctx context.Context, labels map[string]string) ([]engine.Volume, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return nil, err
	}
	var out []engine.Volume
	for _, name := range slices.Sorted(maps.Keys(e.volumes)) {
		if v := e.volumes[name]; matches(v.Labels, labels) {
			out = append(out, cloneVolume(v))
		}
	}
	return out, nil
}

func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.enter(); err != nil {
		return err
	}
	if _, ok := e.volumes[name]; !ok {
		return fmt.Errorf("volume %s: %w", name, engine.ErrNotFound)
	}
	for id, c := range e.containers {
		if slices.Contains(namedVolumes(e.configs[id]), name) {
			return fmt.Errorf("removing volume %s: container %s uses it: %w", name, c.Name, engine.ErrConflict)
		}
	}
	delete(e.volumes, name)
	return nil
}

// Volumes lists the volumes' names, sorted.
func (e *Engine) Volumes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.volumes))
}

// Networks lists the networks' names, sorted.
func (e *Engine) Networks() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Sorted(maps.Keys(e.networks))
}

// namedVolumes are the volume names in cfg's binds (a source that is not
// an absolute path).
func namedVolumes(cfg engine.ContainerConfig) []string {
	var out []string
	for _, b := range cfg.Binds {
		if src, _, ok := strings.Cut(b, ":"); ok && !strings.HasPrefix(src, "/") {
			out = append(out, src)
		}
	}
	return out
}

func cloneNetwork(n engine.Network) engine.Network {
	n.Labels = maps.Clone(n.Labels)
	n.IPAM = cloneIPAM(n.IPAM)
	return n
}

func cloneIPAM(i *engine.IPAM) *engine.IPAM {
	if i == nil {
		return nil
	}
	out := &engine.IPAM{Driver: i.Driver}
	for _, p := range i.Config {
		p.AuxAddresses = maps.Clone(p.AuxAddresses)
		out.Config = append(out.Config, p)
	}
	return out
}

// AddVolume puts a volume on the engine as another tool would create it,
// with any driver and options (the module never does).
func (e *Engine) AddVolume(v engine.Volume) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.volumes[v.Name] = cloneVolume(v)
}

func cloneVolume(v engine.Volume) engine.Volume {
	v.Labels = maps.Clone(v.Labels)
	v.Options = maps.Clone(v.Options)
	return v
}
