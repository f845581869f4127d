package dockerapi

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"

	"github.com/mender-docker/mender-docker/module/engine"
)

// Networks and volumes. The engine finds a network by exact name, full ID
// or ID prefix; we want exact names only, so answers are checked by name.

// labelFilters is a list filter for every label in labels (an empty value
// only has to exist).
func labelFilters(labels map[string]string) client.Filters {
	f := client.Filters{}
	for k, v := range labels {
		if v == "" {
			f.Add("label", k)
		} else {
			f.Add("label", k+"="+v)
		}
	}
	return f
}

func (e *Engine) InspectNetwork(ctx context.Context, name string) (engine.Network, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	res, err := e.c.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return engine.Network{}, e.timedOut(ctx, err, "inspecting network %s", name)
	}
	n := res.Network
	if n.Name != name {
		// An ID prefix matched some other network.
		return engine.Network{}, fmt.Errorf("inspecting network %s: %w", name, engine.ErrNotFound)
	}
	return toNetwork(n.Network), nil
}

func toNetwork(n network.Network) engine.Network {
	out := engine.Network{ID: n.ID, Name: n.Name, Internal: n.Internal, Labels: n.Labels, Driver: n.Driver, Scope: n.Scope, EnableIPv6: n.EnableIPv6}
	if len(n.IPAM.Config) > 0 {
		out.IPAM = &engine.IPAM{Driver: n.IPAM.Driver}
		for _, p := range n.IPAM.Config {
			pool := engine.IPAMPool{Subnet: zeroless(p.Subnet), IPRange: zeroless(p.IPRange), Gateway: zeroless(p.Gateway)}
			for h, a := range p.AuxAddress {
				if pool.AuxAddresses == nil {
					pool.AuxAddresses = map[string]string{}
				}
				pool.AuxAddresses[h] = a.String()
			}
			out.IPAM.Config = append(out.IPAM.Config, pool)
		}
	}
	return out
}

// networksNamed lists the networks called exactly name (the engine's name
// filter matches substrings).
func (e *Engine) networksNamed(ctx context.Context, name string) ([]network.Summary, error) {
	res, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return nil, err
	}
	var out []network.Summary
	for _, n := range res.Items {
		if n.Name == name {
			out = append(out, n)
		}
	}
	return out, nil
}

func (e *Engine) CreateNetwork(ctx context.Context, cfg engine.NetworkConfig) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	// API 1.41 engines create a second network of the same name unless the
	// request says CheckDuplicate, which this client cannot send: check
	// before, and after (a create racing ours) remove our duplicate.
	have, err := e.networksNamed(ctx, cfg.Name)
	if err != nil {
		return e.timedOut(ctx, err, "creating network %s", cfg.Name)
	}
	if len(have) > 0 {
		return fmt.Errorf("creating network %s: name in use: %w", cfg.Name, engine.ErrConflict)
	}
	ipam, err := toIPAM(cfg.IPAM)
	if err != nil {
		return fmt.Errorf("creating network %s: %w", cfg.Name, err)
	}
	var v6 *bool
	if cfg.EnableIPv6 {
		v6 = &cfg.EnableIPv6
	}
	res, err := e.c.NetworkCreate(ctx, cfg.Name, client.NetworkCreateOptions{
		Driver:     "bridge",
		Internal:   cfg.Internal,
		Labels:     cfg.Labels,
		IPAM:       ipam,
		EnableIPv6: v6,
	})
	if err != nil {
		return e.timedOut(ctx, err, "creating network %s", cfg.Name)
	}
	have, err = e.networksNamed(ctx, cfg.Name)
	if err != nil {
		return e.timedOut(ctx, err, "creating network %s", cfg.Name)
	}
	if len(have) > 1 {
		if _, err := e.c.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{}); err != nil {
			return e.timedOut(ctx, err, "creating network %s: removing the duplicate %s", cfg.Name, res.ID)
		}
		return fmt.Errorf("creating network %s: name in use: %w", cfg.Name, engine.ErrConflict)
	}
	return nil
}

func (e *Engine) ListNetworks(ctx context.Context, labels map[string]string) ([]engine.Network, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	res, err := e.c.NetworkList(ctx, client.NetworkListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.timedOut(ctx, err, "listing networks")
	}
	out := make([]engine.Network, 0, len(res.Items))
	for _, n := range res.Items {
		out = append(out, toNetwork(n.Network))
	}
	slices.SortFunc(out, func(a, b engine.Network) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (e *Engine) RemoveNetwork(ctx context.Context, name string) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	n, err := e.c.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil {
		return e.timedOut(ctx, err, "removing network %s", name)
	}
	if n.Network.Name != name {
		return fmt.Errorf("removing network %s: %w", name, engine.ErrNotFound)
	}
	// The engine refuses only while a running container is attached; a
	// stopped one (the previous version kept for a rollback) would lose its
	// network and fail to start, so it counts as well. A container that
	// never ran matches the filter by network name only, one that ran by
	// its ID (the values are or-ed).
	users, err := e.c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("network", name, n.Network.ID)})
	if err != nil {
		return e.timedOut(ctx, err, "removing network %s", name)
	}
	for _, c := range users.Items {
		// The filter also matches network ID prefixes: look closer.
		if s := c.NetworkSettings; s != nil {
			for k, ep := range s.Networks {
				if k == name || (ep != nil && ep.NetworkID == n.Network.ID) {
					return fmt.Errorf("removing network %s: container %s is attached: %w", name, containerName(c.Names, c.ID), engine.ErrConflict)
				}
			}
		}
	}
	_, err = e.c.NetworkRemove(ctx, n.Network.ID, client.NetworkRemoveOptions{})
	if cerrdefs.IsPermissionDenied(err) || cerrdefs.IsFailedPrecondition(err) {
		// "has active endpoints": a container attached since we looked.
		return fmt.Errorf("removing network %s: %v: %w", name, err, engine.ErrConflict)
	}
	return e.timedOut(ctx, err, "removing network %s", name)
}

func containerName(names []string, id string) string {
	if len(names) > 0 {
		return strings.TrimPrefix(names[0], "/")
	}
	return id
}

func (e *Engine) ConnectNetwork(ctx context.Context, container, net string, aliases []string) error {
	return e.ConnectEndpoint(ctx, container, engine.Endpoint{Network: net, Aliases: aliases})
}

func (e *Engine) ConnectEndpoint(ctx context.Context, container string, ep engine.Endpoint) error {
	net := ep.Network
	settings, err := endpointSettings(ep)
	if err != nil {
		return fmt.Errorf("connecting %s to network %s: %w", container, net, err)
	}
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	attached := func() (bool, error) {
		res, err := e.c.ContainerInspect(ctx, container, client.ContainerInspectOptions{})
		if err != nil {
			return false, err
		}
		if s := res.Container.NetworkSettings; s != nil {
			_, ok := s.Networks[net]
			return ok, nil
		}
		return false, nil
	}
	if ok, err := attached(); err != nil || ok {
		return e.timedOut(ctx, err, "connecting %s to network %s", container, net)
	}
	_, err = e.c.NetworkConnect(ctx, net, client.NetworkConnectOptions{
		Container:      container,
		EndpointConfig: settings,
	})
	if err != nil && !cerrdefs.IsNotFound(err) {
		// Attached by someone else since we looked: not an error either.
		if ok, ierr := attached(); ierr == nil && ok {
			return nil
		}
	}
	return e.timedOut(ctx, err, "connecting %s to network %s", container, net)
}

// networkingConfig attaches a new container to its first user-defined
// network with that network's aliases: API 1.41 takes only one endpoint
// at creation, the caller connects the others.
func networkingConfig(c engine.ContainerConfig) *network.NetworkingConfig {
	if len(c.Networks) == 0 || c.Networks[0].Network != networkMode(c) {
		return nil
	}
	ep := c.Networks[0]
	// The spec checked the addresses: a bad one here is left to the engine.
	settings, _ := endpointSettings(ep)
	return &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		ep.Network: settings,
	}}
}

// networkMode is the container's network mode: the first network's when
// only Networks is set.
func networkMode(c engine.ContainerConfig) string {
	if c.NetworkMode == "" && len(c.Networks) > 0 {
		return c.Networks[0].Network
	}
	return c.NetworkMode
}

// configuredAliases are the aliases a container was given on a network.
// The engine appends its own to those: the container's short ID, then its
// hostname (unless an alias already is the hostname), which nobody asked
// for; newer engines report them as DNS names instead.
func configuredAliases(id, hostname string, ep *network.EndpointSettings) []string {
	if ep == nil {
		return nil
	}
	out := ep.Aliases
	if len(id) >= 12 {
		if i := slices.Index(out, id[:12]); i >= 0 {
			out = append(slices.Clone(out[:i]), slices.DeleteFunc(slices.Clone(out[i+1:]), func(a string) bool { return a == hostname })...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (e *Engine) InspectVolume(ctx context.Context, name string) (engine.Volume, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	res, err := e.c.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return engine.Volume{}, e.timedOut(ctx, err, "inspecting volume %s", name)
	}
	return toVolume(res.Volume), nil
}

func toVolume(v volume.Volume) engine.Volume {
	return engine.Volume{Name: v.Name, Labels: v.Labels, Driver: v.Driver, Options: v.Options}
}

func (e *Engine) CreateVolume(ctx context.Context, cfg engine.VolumeConfig) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	// Creating a volume that exists succeeds on the engine and changes
	// nothing: ask first. (The race with another creator only loses that
	// one's labels, never data.)
	_, err := e.c.VolumeInspect(ctx, cfg.Name, client.VolumeInspectOptions{})
	if err == nil {
		return fmt.Errorf("creating volume %s: %w", cfg.Name, engine.ErrConflict)
	}
	if !cerrdefs.IsNotFound(err) {
		return e.timedOut(ctx, err, "creating volume %s", cfg.Name)
	}
	_, err = e.c.VolumeCreate(ctx, client.VolumeCreateOptions{Name: cfg.Name, Driver: "local", Labels: cfg.Labels})
	return e.timedOut(ctx, err, "creating volume %s", cfg.Name)
}

func (e *Engine) ListVolumes(ctx context.Context, labels map[string]string) ([]engine.Volume, error) {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	res, err := e.c.VolumeList(ctx, client.VolumeListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, e.timedOut(ctx, err, "listing volumes")
	}
	out := make([]engine.Volume, 0, len(res.Items))
	for _, v := range res.Items {
		out = append(out, toVolume(v))
	}
	slices.SortFunc(out, func(a, b engine.Volume) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	ctx, cancel := e.call(ctx, 0)
	defer cancel()
	_, err := e.c.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
	return e.timedOut(ctx, err, "removing volume %s", name)
}

// endpointSettings are ep's aliases and static addresses.
func endpointSettings(ep engine.Endpoint) (*network.EndpointSettings, error) {
	out := &network.EndpointSettings{Aliases: ep.Aliases}
	if ep.IPv4Address == "" && ep.IPv6Address == "" {
		return out, nil
	}
	out.IPAMConfig = &network.EndpointIPAMConfig{}
	for _, a := range []struct {
		s  string
		to *netip.Addr
	}{{ep.IPv4Address, &out.IPAMConfig.IPv4Address}, {ep.IPv6Address, &out.IPAMConfig.IPv6Address}} {
		if a.s == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address", a.s)
		}
		*a.to = ip
	}
	return out, nil
}

// toIPAM is i in the engine's types.
func toIPAM(i *engine.IPAM) (*network.IPAM, error) {
	if i == nil {
		return nil, nil
	}
	out := &network.IPAM{Driver: i.Driver}
	for _, p := range i.Config {
		var c network.IPAMConfig
		var err error
		if c.Subnet, err = netip.ParsePrefix(p.Subnet); err != nil {
			return nil, fmt.Errorf("ipam subnet %q: %w", p.Subnet, err)
		}
		if p.IPRange != "" {
			if c.IPRange, err = netip.ParsePrefix(p.IPRange); err != nil {
				return nil, fmt.Errorf("ipam ip_range %q: %w", p.IPRange, err)
			}
		}
		if p.Gateway != "" {
			if c.Gateway, err = netip.ParseAddr(p.Gateway); err != nil {
				return nil, fmt.Errorf("ipam gateway %q: %w", p.Gateway, err)
			}
		}
		for h, a := range p.AuxAddresses {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return nil, fmt.Errorf("ipam aux_addresses %s: %q: %w", h, a, err)
			}
			if c.AuxAddress == nil {
				c.AuxAddress = map[string]netip.Addr{}
			}
			c.AuxAddress[h] = ip
		}
		out.Config = append(out.Config, c)
	}
	return out, nil
}

// zeroless is v as text, "" for the zero value.
func zeroless[T interface {
	IsValid() bool
	String() string
}](v T) string {
	if !v.IsValid() {
		return ""
	}
	return v.String()
}

// staticAddresses are the addresses ep was configured with.
func staticAddresses(ep *network.EndpointSettings) []string {
	if ep == nil || ep.IPAMConfig == nil {
		return nil
	}
	var out []string
	for _, a := range []netip.Addr{ep.IPAMConfig.IPv4Address, ep.IPAMConfig.IPv6Address} {
		if a.IsValid() {
			out = append(out, a.String())
		}
	}
	return out
}
