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
func (x *deployment) swap(ctx context.Context) error {
	order, err := x.m.StartOrder()
	if err != nil {
		return err
	}
	if err := x.look(ctx); err != nil {
		return err
	}
	if err := x.freeNames(ctx); err != nil {
		return err
	}
	if err := x.createNew(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	if err := x.stopReplaced(ctx); err != nil {
		return err
	}
	t1 := time.Now()
	if err := x.startNew(ctx, order); err != nil {
		return err
	}
	kept := 0
	for _, o := range x.d.Old {
		if o.Kept {
			kept++
		}
	}
	x.logf("app %s: swapped %d old for %d new container(s), kept %d, in %s (stop %s, start %s)", x.m.App, len(x.d.Old)-kept, len(x.m.Services)-kept, kept,
		time.Since(t0).Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	return nil
}

// look records what the engine shows of the app: its containers, those of
// them that are this deployment's (new or kept) by service, and the old
// container each hand-over service replaces, if there is one.
func (x *deployment) look(ctx context.Context) error {
	all, err := appContainers(ctx, x.u.Engine, x.m.App)
	if err != nil {
		return err
	}
	x.byID = map[string]engine.Container{}
	x.mine = map[string]engine.Container{}
	for _, c := range all {
		x.byID[c.ID] = c
		if c.Labels[LabelDeployment] == x.d.ID || x.d.kept(c.ID) {
			x.mine[c.Labels[LabelService]] = c
		}
	}
	x.handOvers = map[string]OldContainer{}
	for _, s := range x.m.Services {
		for _, o := range x.d.Old {
			if _, ok := x.byID[o.ID]; ok && s.Update == spec.HandOver && !o.Kept && o.Service == s.Name {
				x.handOvers[s.Name] = o
				break
			}
		}
	}
	x.held = map[string]bool{}
	return nil
}

func (x *deployment) handsOver(o OldContainer) bool {
	h, ok := x.handOvers[o.Service]
	return ok && h.ID == o.ID
}

// freeNames is step 1: the old set keeps running under other names.
func (x *deployment) freeNames(ctx context.Context) error {
	for _, o := range x.d.Old {
		c, ok := x.byID[o.ID]
		if o.Kept || x.handsOver(o) || !ok || c.Name != o.Name {
			continue
		}
		if err := x.u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
			if !errors.Is(err, engine.ErrRenameSandbox) {
				// Anything else (a name taken by another container, most
				// of all) fails before any container is stopped.
				return renameError(o.Name, o.Name+prevSuffix, err)
			}
			// A Docker engine without a default bridge cannot rename a
			// running container that was stopped and started again.
			// Rename it once it is stopped; the new container waits under
			// a temporary name until then.
			x.logf("app %s: %s is renamed to %s once stopped (this engine has no default bridge, and cannot rename it while it runs)", x.m.App, o.Name, o.Name+prevSuffix)
			x.held[o.Name] = true
			continue
		}
		x.logf("app %s: renamed %s to %s", x.m.App, o.Name, o.Name+prevSuffix)
	}
	return nil
}

// createNew is step 2: the new set is created while the old one still
// serves.
func (x *deployment) createNew(ctx context.Context) error {
	for _, s := range x.m.Services {
		if _, ok := x.mine[s.Name]; ok {
			continue
		}
		name := s.Config.Name
		if _, ok := x.handOvers[s.Name]; ok || x.held[name] {
			name += nextSuffix
		}
		id, err := x.create(ctx, s, name)
		if err != nil {
			return err
		}
		// Attached now, not at start: outside the downtime.
		if err := x.connect(ctx, engine.Container{ID: id, Name: name}, s.Config.Networks[min(1, len(s.Config.Networks)):]); err != nil {
			return err
		}
		x.mine[s.Name] = engine.Container{ID: id, Name: name}
	}
	return nil
}

// stopReplaced is step 3: the replaced old containers stop, in reverse
// start order (services the target drops first: beginInstall journalled
// d.Old in start order); those whose names were held take the old name
// now.
func (x *deployment) stopReplaced(ctx context.Context) error {
	var stops []OldContainer
	for _, o := range slices.Backward(x.d.Old) {
		if c, ok := x.byID[o.ID]; ok && !o.Kept && !x.handsOver(o) && (c.State.Running || c.State.Restarting) {
			stops = append(stops, o)
		}
	}
	if len(stops) > 0 {
		if err := x.markStopping(stops...); err != nil {
			return err
		}
	}
	for _, o := range stops {
		if err := x.u.Engine.StopContainer(ctx, o.ID, x.u.timing().stopTimeout()); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		x.logf("app %s: stopped %s", x.m.App, o.Name)
	}
	for _, o := range x.d.Old {
		if x.held[o.Name] && !o.Kept {
			if err := x.u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
				return err
			}
			x.logf("app %s: renamed %s to %s", x.m.App, o.Name, o.Name+prevSuffix)
		}
	}
	return nil
}

// startNew is step 4: the new set starts in dependency order.
func (x *deployment) startNew(ctx context.Context, order []spec.Service) error {
	for _, s := range order {
		c := x.mine[s.Name]
		if x.d.kept(c.ID) {
			continue
		}
		if o, ok := x.handOvers[s.Name]; ok {
			if err := x.handOver(ctx, s, c, o); err != nil {
				return err
			}
			continue
		}
		if err := x.rename(ctx, c, s.Config.Name); err != nil {
			return err
		}
		if err := x.start(ctx, s, c.ID); err != nil {
			return err
		}
	}
	return nil
}

// rename gives the new container c the name of its service, unless it has
// it already.
func (x *deployment) rename(ctx context.Context, c engine.Container, name string) error {
	if c.Name == name {
		return nil
	}
	if err := x.u.Engine.RenameContainer(ctx, c.ID, name); err != nil {
		return err
	}
	x.logf("app %s: renamed %s to %s", x.m.App, c.Name, name)
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
func (x *deployment) markStopping(stops ...OldContainer) error {
	d := x.d
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
	return x.save()
}

// handOver starts s's new container c beside the old one o, waits until
// it is ready, then stops the old one and gives the new one the name.
func (x *deployment) handOver(ctx context.Context, s spec.Service, c engine.Container, o OldContainer) error {
	old := x.byID[o.ID]
	if err := x.start(ctx, s, c.ID); err != nil {
		return err
	}
	if err := x.waitReady(ctx, c.ID); err != nil {
		return err
	}
	if err := x.markStopping(o); err != nil {
		return err
	}
	if old.State.Running || old.State.Restarting {
		if err := x.u.Engine.StopContainer(ctx, o.ID, x.u.timing().stopTimeout()); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		x.logf("app %s: %s handed over to %s; stopped it", x.m.App, o.Name, c.Name)
	}
	if old.Name == o.Name {
		if err := x.u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
			return err
		}
		x.logf("app %s: renamed %s to %s", x.m.App, o.Name, o.Name+prevSuffix)
	}
	return x.rename(ctx, c, s.Config.Name)
}

// start starts s's new container id once its dependencies hold, attached
// to every network it needs first. A container that has started once is
// not started again (a one-shot that finished stays finished).
func (x *deployment) start(ctx context.Context, s spec.Service, id string) error {
	c, err := x.u.Engine.InspectContainer(ctx, id)
	if err != nil {
		return err
	}
	if c.State.Running || c.State.Restarting || !c.State.StartedAt.IsZero() {
		return nil
	}
	if err := x.waitDependencies(ctx, s); err != nil {
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
	if err := x.connect(ctx, c, missing); err != nil {
		return err
	}
	if err := x.u.Engine.StartContainer(ctx, id); err != nil {
		return fmt.Errorf("starting %s: %w", c.Name, err)
	}
	x.logf("app %s: started %s", x.m.App, c.Name)
	return nil
}

// connect attaches c to the networks of eps, with their aliases.
func (x *deployment) connect(ctx context.Context, c engine.Container, eps []engine.Endpoint) error {
	for _, ep := range eps {
		if err := x.u.Engine.ConnectEndpoint(ctx, c.ID, ep); err != nil {
			return fmt.Errorf("attaching %s to network %s: %w", c.Name, ep.Network, err)
		}
		x.logf("app %s: attached %s to network %s", x.m.App, c.Name, ep.Network)
	}
	return nil
}

// create creates s's container under name. It is the one place the module
// creates containers, so the device policy is checked here on every
// configuration, whatever it was read from (the journal, a preload
// directory), with the binds on the device as they are now; and the files
// the container mounts are verified before the engine is given their path.
func (x *deployment) create(ctx context.Context, s spec.Service, name string) (string, error) {
	u, m, d := x.u, x.m, x.d
	device, protected, err := u.policy().onDevice(ctx, m.App)
	if err != nil {
		return "", err
	}
	if err := u.policy().checkService(m, s, device, protected); err != nil {
		return "", err
	}
	if err := u.files().verifyBinds(m, s); err != nil {
		return "", err
	}
	cfg := serviceConfig(u.files(), m, s)
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
