package module

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Networks and named volumes of the app. Install creates the missing ones
// before any container, labelled as the app's; an existing one is used as
// it is, and one not labelled ours (a volume of an app Docker Compose ran,
// say: its data carries over) is never removed by us. They stay across
// updates and rollbacks; only the app's removal removes ours (volumes only
// when it asks for that).

// resourceLabels are the labels of one of the app's networks or volumes.
func resourceLabels(app, name string, extra map[string]string) map[string]string {
	l := maps.Clone(extra)
	if l == nil {
		l = map[string]string{}
	}
	l[LabelApp] = app
	l[LabelName] = name
	return l
}

// appResources creates and removes the app's networks and volumes.
type appResources struct {
	eng    engine.Engine
	log    logger
	policy devicePolicy // looks at the engine before anything is created
}

func (u *Updater) resources() appResources {
	return appResources{eng: u.Engine, log: u.logger(), policy: u.policy()}
}

// ensure creates the networks and volumes of m that are missing,
// once checkOwnership has looked at the engine as it is now.
func (res appResources) ensure(ctx context.Context, m *spec.Meta) error {
	if err := res.policy.checkOwnership(ctx, m); err != nil {
		return err
	}
	for _, n := range m.Networks {
		if n.External {
			continue
		}
		have, err := res.eng.InspectNetwork(ctx, n.EngineName)
		switch {
		case err == nil:
			if have.Labels[LabelApp] != m.App {
				res.log.logf("app %s: using the existing network %s, which is not the app's: it is never removed", m.App, n.EngineName)
			}
			continue
		case !errors.Is(err, engine.ErrNotFound):
			return err
		}
		err = res.eng.CreateNetwork(ctx, engine.NetworkConfig{Name: n.EngineName, Internal: n.Internal, Labels: resourceLabels(m.App, n.Name, n.Labels), IPAM: n.IPAM, EnableIPv6: n.EnableIPv6})
		if err != nil && !errors.Is(err, engine.ErrConflict) {
			return fmt.Errorf("creating network %s: %w", n.EngineName, err)
		}
		res.log.logf("app %s: created network %s", m.App, n.EngineName)
	}
	for _, v := range m.Volumes {
		if v.External {
			continue
		}
		have, err := res.eng.InspectVolume(ctx, v.EngineName)
		switch {
		case err == nil:
			if have.Labels[LabelApp] != m.App {
				res.log.logf("app %s: using the existing volume %s, which is not the app's: its data is kept and it is never removed", m.App, v.EngineName)
			}
			continue
		case !errors.Is(err, engine.ErrNotFound):
			return err
		}
		err = res.eng.CreateVolume(ctx, engine.VolumeConfig{Name: v.EngineName, Labels: resourceLabels(m.App, v.Name, v.Labels)})
		if err != nil && !errors.Is(err, engine.ErrConflict) {
			return fmt.Errorf("creating volume %s: %w", v.EngineName, err)
		}
		res.log.logf("app %s: created volume %s", m.App, v.EngineName)
	}
	return res.ensureUndeclared(ctx, m)
}

// ensureUndeclared creates the volumes that -v names without a
// declaration (the shell format's way), labelled as the app's too, so
// that no other app can take them later; one that exists is used as it is.
func (res appResources) ensureUndeclared(ctx context.Context, m *spec.Meta) error {
	for _, name := range undeclaredVolumes(m) {
		_, err := res.eng.InspectVolume(ctx, name)
		if !errors.Is(err, engine.ErrNotFound) {
			if err != nil {
				return err
			}
			continue
		}
		err = res.eng.CreateVolume(ctx, engine.VolumeConfig{Name: name, Labels: resourceLabels(m.App, name, nil)})
		if err != nil && !errors.Is(err, engine.ErrConflict) {
			return fmt.Errorf("creating volume %s: %w", name, err)
		}
		res.log.logf("app %s: created volume %s", m.App, name)
	}
	return nil
}

// undeclaredVolumes are the named volumes the services' -v name that are
// not among m's volumes.
func undeclaredVolumes(m *spec.Meta) []string {
	var out []string
	for _, s := range m.Services {
		for _, b := range s.Config.Binds {
			src, _, ok := strings.Cut(b, ":")
			if !ok || strings.HasPrefix(src, "/") || slices.Contains(out, src) ||
				slices.ContainsFunc(m.Volumes, func(v spec.Volume) bool { return v.EngineName == src }) {
				continue
			}
			out = append(out, src)
		}
	}
	return out
}

// remove removes the app's networks labelled ours and, with
// volumes, its volumes labelled ours: once its containers are gone. One
// still in use by a container that is not the app's stays, with a line in
// the log.
func (res appResources) remove(ctx context.Context, app string, volumes bool) error {
	nets, err := res.eng.ListNetworks(ctx, map[string]string{LabelApp: app})
	if err != nil {
		return err
	}
	var names []string
	for _, n := range nets {
		names = append(names, n.Name)
	}
	if err := removeEach(ctx, res.log, "network", names, res.eng.RemoveNetwork); err != nil || !volumes {
		return err
	}
	vols, err := res.eng.ListVolumes(ctx, map[string]string{LabelApp: app})
	if err != nil {
		return err
	}
	names = names[:0]
	for _, v := range vols {
		names = append(names, v.Name)
	}
	return removeEach(ctx, res.log, "volume", names, res.eng.RemoveVolume)
}

// Who owns a name on the engine. Container, network and volume names are
// one namespace per kind that every app shares: an app's names are
// <app>-<service> for containers and <app>_<name> for networks and volumes
// (Compose's naming, so that a Compose app's data carries over). A name
// belongs to the app with the longest name it starts with (followed by the
// separator), so that app "a" cannot take what is app "a_b"'s (a_b_c) and
// the other way round; an existing network or volume belongs to whoever
// its labels name, whatever its name says. checkOwnership refuses what is
// another app's, and volumes the policy refuses for what they mount.

// appSpace is the apps that have anything on the device, and the app of
// the artifact.
type appSpace struct {
	own  string
	apps []string
}

// owner is the app whose space name is in (sep: "-" or "_"), or "".
func (sp appSpace) owner(name, sep string) string {
	best := ""
	for _, a := range append([]string{sp.own}, sp.apps...) {
		if strings.HasPrefix(name, a+sep) && len(a) > len(best) {
			best = a
		}
	}
	return best
}

// deviceApps lists the apps the device has: those with containers,
// networks or volumes labelled theirs, or with a journal.
func (policy devicePolicy) deviceApps(ctx context.Context) ([]string, error) {
	var apps []string
	add := func(labels map[string]string) {
		if a := labels[LabelApp]; a != "" && !slices.Contains(apps, a) {
			apps = append(apps, a)
		}
	}
	all := map[string]string{LabelApp: ""}
	cs, err := policy.eng.ListContainers(ctx, all)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		add(c.Labels)
	}
	ns, err := policy.eng.ListNetworks(ctx, all)
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		add(n.Labels)
	}
	vs, err := policy.eng.ListVolumes(ctx, all)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		add(v.Labels)
	}
	for _, f := range []string{installedFile, deploymentFile} {
		js, err := policy.journals.store.Apps(f)
		if err != nil {
			return nil, err
		}
		for _, a := range js {
			add(map[string]string{LabelApp: a})
		}
	}
	return apps, nil
}

// checkOwnership refuses, for every service of m, a container name in
// another app's space, a network or volume of another app (or, for
// volumes, one that mounts what the policy refuses), joining a container
// in the host's namespaces, and binds of other apps' update locks.
// Download runs it, and install again before it creates anything.
func (policy devicePolicy) checkOwnership(ctx context.Context, m *spec.Meta) error {
	apps, err := policy.deviceApps(ctx)
	if err != nil {
		return err
	}
	sp := appSpace{own: m.App, apps: apps}
	if err := checkExternals(ctx, policy.eng, policy.cfg.Policy, m); err != nil {
		return err
	}
	for _, s := range m.Services {
		if o := sp.owner(s.Config.Name, "-"); o != m.App && o != "" && !policy.holds(ctx, m.App, s.Config.Name) {
			return fmt.Errorf("service %s: container name %s is in the space of app %s (%s-*); refused", s.Name, s.Config.Name, o, o)
		}
		for _, b := range s.Config.Binds {
			src, _, ok := strings.Cut(b, ":")
			if !ok || strings.HasPrefix(src, "/") {
				continue // a bind or an anonymous volume
			}
			if err := policy.checkVolume(ctx, sp, m, src); err != nil {
				return fmt.Errorf("service %s: -v %s: %w", s.Name, b, err)
			}
		}
		nets := []string{s.Config.NetworkMode}
		for _, ep := range s.Config.Networks {
			nets = append(nets, ep.Network)
		}
		for _, n := range nets {
			if !engine.UserNetwork(n) {
				continue
			}
			if err := policy.checkNetwork(ctx, sp, m, n); err != nil {
				return fmt.Errorf("service %s: network %s: %w", s.Name, n, err)
			}
		}
		if err := policy.checkJoins(ctx, m, s); err != nil {
			return err
		}
		if err := policy.checkLockBinds(m.App, s); err != nil {
			return err
		}
	}
	return nil
}

// holds tells whether a container of app has the name already: first come,
// first served, as for networks and volumes, so that a new app cannot
// stop the updates of one whose names it starts with.
func (policy devicePolicy) holds(ctx context.Context, app, name string) bool {
	for _, n := range []string{name, name + prevSuffix, name + nextSuffix} {
		if c, err := policy.eng.InspectContainer(ctx, n); err == nil && c.Labels[LabelApp] == app {
			return true
		}
	}
	return false
}

// checkVolume: the app's own declared volumes, or (for artifacts that
// name a volume in -v without declaring it, as the shell format does) a
// plain volume no other app owns. External ones: see checkExternals.
func (policy devicePolicy) checkVolume(ctx context.Context, sp appSpace, m *spec.Meta, name string) error {
	if isExternal(m, "volume", name) {
		return nil
	}
	v, err := policy.eng.InspectVolume(ctx, name)
	if errors.Is(err, engine.ErrNotFound) {
		// Created by install (declared) or by the engine (not): the
		// name must be the app's to take.
		return sp.check("volume", name, nil)
	}
	if err != nil {
		return err
	}
	if err := sp.check("volume", name, v.Labels); err != nil {
		return err
	}
	return policy.cfg.Policy.CheckVolume(v)
}

// checkNetwork: the app's own declared networks, or a network no other
// app owns (one the device's operator made, say).
func (policy devicePolicy) checkNetwork(ctx context.Context, sp appSpace, m *spec.Meta, name string) error {
	if isExternal(m, "network", name) {
		return nil
	}
	n, err := policy.eng.InspectNetwork(ctx, name)
	if errors.Is(err, engine.ErrNotFound) {
		return sp.check("network", name, nil)
	}
	if err != nil {
		return err
	}
	return sp.check("network", name, n.Labels)
}

// check says why a network or volume called name, with labels (nil: it
// does not exist yet), is not the app's to use.
func (sp appSpace) check(kind, name string, labels map[string]string) error {
	switch a := labels[LabelApp]; {
	case a == sp.own:
	case a != "":
		return fmt.Errorf("the %s belongs to app %s", kind, a)
	case labels[ComposeProjectLabel] != "" && labels[ComposeProjectLabel] != sp.own:
		return fmt.Errorf("the %s belongs to Compose project %s", kind, labels[ComposeProjectLabel])
	default:
		if o := sp.owner(name, "_"); o != sp.own && o != "" {
			return fmt.Errorf("the name is in the space of app %s (%s_*)", o, o)
		}
		return nil
	}
	return nil
}

// checkJoins applies the policy's deny_host_namespaces to the containers
// s joins, as the engine has them now and as m creates them.
func (policy devicePolicy) checkJoins(ctx context.Context, m *spec.Meta, s spec.Service) error {
	onEngine := func(name string) (engine.Container, bool, error) {
		c, err := policy.eng.InspectContainer(ctx, name)
		if errors.Is(err, engine.ErrNotFound) {
			return c, false, nil
		}
		return c, err == nil, err
	}
	inMeta := func(name string) (engine.Container, bool, error) {
		for _, o := range m.Services {
			if o.Config.Name == name {
				c := o.Config
				return engine.Container{Name: c.Name, PidMode: c.PidMode, IpcMode: c.IpcMode, NetworkMode: c.NetworkMode}, true, nil
			}
		}
		return engine.Container{}, false, nil
	}
	if err := policy.cfg.Policy.CheckJoins(s.Name, s.Config, onEngine); err != nil {
		return err
	}
	return policy.cfg.Policy.CheckJoins(s.Name, s.Config, inMeta)
}
