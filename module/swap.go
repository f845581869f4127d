package module

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// swap replaces the old set with the target graph, each step skipped when
// a killed run already did it:
//  1. old containers that are replaced by a recreate give up their names;
//  2. every new container is created, while the old ones keep serving;
//  3. the replaced old containers stop, in reverse start order (those of
//     services the target drops first): the only downtime of a recreate;
//  4. the new containers start in dependency order, each once what it
//     depends on holds. A hand-over service starts beside its old
//     container, and the old one stops only once the new one is ready.
func (u *Updater) swap(ctx context.Context, m *spec.Meta, d *Deployment) error {
	order, err := m.StartOrder()
	if err != nil {
		return err
	}
	all, err := u.appContainers(ctx, m.App)
	if err != nil {
		return err
	}
	byID := map[string]engine.Container{}
	mine := map[string]engine.Container{} // new or kept containers by service
	for _, c := range all {
		byID[c.ID] = c
		if c.Labels[LabelDeployment] == d.ID || d.kept(c.ID) {
			mine[c.Labels[LabelService]] = c
		}
	}
	// A hand-over replaces one old container of its service, if there is one.
	handOver := map[string]OldContainer{}
	for _, s := range m.Services {
		for _, o := range d.Old {
			if _, ok := byID[o.ID]; ok && s.Update == spec.HandOver && !o.Kept && o.Service == s.Name {
				handOver[s.Name] = o
				break
			}
		}
	}
	handsOver := func(o OldContainer) bool { h, ok := handOver[o.Service]; return ok && h.ID == o.ID }

	// 1. Free the names: the old set keeps running under other names.
	held := map[string]bool{} // names an old container still holds
	for _, o := range d.Old {
		c, ok := byID[o.ID]
		if o.Kept || handsOver(o) || !ok || c.Name != o.Name {
			continue
		}
		if err := u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
			if !errors.Is(err, engine.ErrRenameSandbox) {
				// Anything else (a name taken by another container, most
				// of all) fails before any container is stopped.
				return renameError(o.Name, o.Name+prevSuffix, err)
			}
			// A Docker engine without a default bridge cannot rename a
			// running container that was stopped and started again.
			// Rename it once it is stopped; the new container waits under
			// a temporary name until then.
			u.logf("app %s: %s is renamed to %s once stopped (this engine has no default bridge, and cannot rename it while it runs)", m.App, o.Name, o.Name+prevSuffix)
			held[o.Name] = true
			continue
		}
		u.logf("app %s: renamed %s to %s", m.App, o.Name, o.Name+prevSuffix)
	}
	// 2. Create the new set while the old one still serves.
	for _, s := range m.Services {
		if _, ok := mine[s.Name]; ok {
			continue
		}
		name := s.Config.Name
		if _, ok := handOver[s.Name]; ok || held[name] {
			name += nextSuffix
		}
		id, err := u.create(ctx, m, d, s, name)
		if err != nil {
			return err
		}
		// Attached now, not at start: outside the downtime.
		if err := u.connect(ctx, m, engine.Container{ID: id, Name: name}, s.Config.Networks[min(1, len(s.Config.Networks)):]); err != nil {
			return err
		}
		mine[s.Name] = engine.Container{ID: id, Name: name}
	}
	// 3. Stop the replaced old containers, in reverse start order (services
	// the target drops first): beginInstall journalled d.Old in start order.
	var stops []OldContainer
	for _, o := range slices.Backward(d.Old) {
		if c, ok := byID[o.ID]; ok && !o.Kept && !handsOver(o) && (c.State.Running || c.State.Restarting) {
			stops = append(stops, o)
		}
	}
	if len(stops) > 0 {
		if err := u.markStopping(d, stops...); err != nil {
			return err
		}
	}
	t0 := time.Now()
	for _, o := range stops {
		if err := u.Engine.StopContainer(ctx, o.ID, u.stopTimeout()); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		u.logf("app %s: stopped %s", m.App, o.Name)
	}
	for _, o := range d.Old {
		if held[o.Name] && !o.Kept {
			if err := u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
				return err
			}
			u.logf("app %s: renamed %s to %s", m.App, o.Name, o.Name+prevSuffix)
		}
	}
	t1 := time.Now()
	// 4. Start the new set in dependency order.
	for _, s := range order {
		c := mine[s.Name]
		if d.kept(c.ID) {
			continue
		}
		if o, ok := handOver[s.Name]; ok {
			if err := u.handOver(ctx, m, d, s, c, o, byID[o.ID], mine); err != nil {
				return err
			}
			continue
		}
		if c.Name != s.Config.Name {
			if err := u.Engine.RenameContainer(ctx, c.ID, s.Config.Name); err != nil {
				return err
			}
			u.logf("app %s: renamed %s to %s", m.App, c.Name, s.Config.Name)
		}
		if err := u.start(ctx, m, d, s, c.ID, mine); err != nil {
			return err
		}
	}
	kept := 0
	for _, o := range d.Old {
		if o.Kept {
			kept++
		}
	}
	u.logf("app %s: swapped %d old for %d new container(s), kept %d, in %s (stop %s, start %s)", m.App, len(d.Old)-kept, len(m.Services)-kept, kept,
		time.Since(t0).Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	return nil
}

// renameError says why a container could not take a name.
func renameError(from, to string, err error) error {
	if errors.Is(err, engine.ErrConflict) {
		return fmt.Errorf("renaming %s to %s: the name is taken by a container this app does not own; nothing was stopped: %w", from, to, err)
	}
	return err
}

// markStopping journals that stops are about to be sent to the old
// containers in stops.
func (u *Updater) markStopping(d *Deployment, stops ...OldContainer) error {
	changed := !d.Stopping
	d.Stopping = true
	for i, o := range d.Old {
		if !o.Stop && slices.ContainsFunc(stops, func(s OldContainer) bool { return s.ID == o.ID }) {
			d.Old[i].Stop, changed = true, true
		}
	}
	if !changed {
		return nil
	}
	return u.save(d)
}

// handOver starts the new container of s beside the old one, waits until
// it is ready, then stops the old one and gives the new one the name.
func (u *Updater) handOver(ctx context.Context, m *spec.Meta, d *Deployment, s spec.Service, c engine.Container, o OldContainer, old engine.Container, mine map[string]engine.Container) error {
	if err := u.start(ctx, m, d, s, c.ID, mine); err != nil {
		return err
	}
	if err := u.waitReady(ctx, m, d, c.ID); err != nil {
		return err
	}
	if err := u.markStopping(d, o); err != nil {
		return err
	}
	if old.State.Running || old.State.Restarting {
		if err := u.Engine.StopContainer(ctx, o.ID, u.stopTimeout()); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		u.logf("app %s: %s handed over to %s; stopped it", m.App, o.Name, c.Name)
	}
	if old.Name == o.Name {
		if err := u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
			return err
		}
		u.logf("app %s: renamed %s to %s", m.App, o.Name, o.Name+prevSuffix)
	}
	if c.Name != s.Config.Name {
		if err := u.Engine.RenameContainer(ctx, c.ID, s.Config.Name); err != nil {
			return err
		}
		u.logf("app %s: renamed %s to %s", m.App, c.Name, s.Config.Name)
	}
	return nil
}

// start starts s's new container id once its dependencies hold, attached
// to every network it needs first. A container that has started once is
// not started again (a one-shot that finished stays finished).
func (u *Updater) start(ctx context.Context, m *spec.Meta, d *Deployment, s spec.Service, id string, mine map[string]engine.Container) error {
	c, err := u.Engine.InspectContainer(ctx, id)
	if err != nil {
		return err
	}
	if c.State.Running || c.State.Restarting || !c.State.StartedAt.IsZero() {
		return nil
	}
	if err := u.waitDependencies(ctx, m, d, s, mine); err != nil {
		return err
	}
	// Attached after its creation already, unless a killed run stopped
	// in between.
	var missing []engine.Endpoint
	for _, ep := range s.Config.Networks {
		if _, ok := c.Networks[ep.Network]; !ok {
			missing = append(missing, ep)
		}
	}
	if err := u.connect(ctx, m, c, missing); err != nil {
		return err
	}
	if err := u.Engine.StartContainer(ctx, id); err != nil {
		return fmt.Errorf("starting %s: %w", c.Name, err)
	}
	u.logf("app %s: started %s", m.App, c.Name)
	return nil
}

// connect attaches c to the networks of eps, with their aliases.
func (u *Updater) connect(ctx context.Context, m *spec.Meta, c engine.Container, eps []engine.Endpoint) error {
	for _, ep := range eps {
		if err := u.Engine.ConnectEndpoint(ctx, c.ID, ep); err != nil {
			return fmt.Errorf("attaching %s to network %s: %w", c.Name, ep.Network, err)
		}
		u.logf("app %s: attached %s to network %s", m.App, c.Name, ep.Network)
	}
	return nil
}

// create creates s's container under name. It is the one place the module
// creates containers, so the device policy is checked here on every
// configuration, whatever it was read from (the journal, a preload
// directory), with the binds on the device as they are now; and the files
// the container mounts are verified before the engine is given their path.
func (u *Updater) create(ctx context.Context, m *spec.Meta, d *Deployment, s spec.Service, name string) (string, error) {
	device, protected, err := u.onDevice(ctx, m.App)
	if err != nil {
		return "", err
	}
	if err := u.checkService(m, s, device, protected); err != nil {
		return "", err
	}
	if err := u.verifyFileBinds(m, s); err != nil {
		return "", err
	}
	cfg := u.serviceConfig(m, s)
	cfg.Labels[LabelConfigHash] = configHash(cfg)
	cfg.Name = name
	cfg.Labels[LabelArtifact] = d.Artifact
	cfg.Labels[LabelDeployment] = d.ID
	if cfg.Image != s.Image {
		cfg.Labels[LabelImage] = s.Image
	}
	id, err := u.Engine.CreateContainer(ctx, cfg)
	if errors.Is(err, engine.ErrNotFound) && cfg.Image == s.Image {
		// The image went away since Download (pruned by hand): fetch it
		// again. An embedded image cannot be fetched: that fails below.
		if err := u.Engine.PullImage(ctx, s.Image); err != nil {
			return "", err
		}
		id, err = u.Engine.CreateContainer(ctx, cfg)
	}
	if errors.Is(err, engine.ErrConflict) {
		return "", fmt.Errorf("creating %s: the name is taken by a container this app does not own: %w", cfg.Name, err)
	}
	if err != nil {
		return "", err
	}
	u.logf("app %s: created %s from %s", m.App, cfg.Name, s.Image)
	return id, nil
}
