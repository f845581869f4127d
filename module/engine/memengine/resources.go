package memengine

import (
	"context"
	"fmt"
	"maps"
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
	e.networks[cfg.Name] = engine.Network{ID: newID(), Name: cfg.Name, Internal: cfg.Internal, Labels: maps.Clone(cfg.Labels), Driver: "bridge", Scope: "local"}
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
		c.Networks[network] = slices.Clone(aliases)
		return nil
	})
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
	return n
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
