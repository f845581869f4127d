package module

import (
	"context"
	"errors"
	"fmt"
	"maps"

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

// ensureResources creates the networks and volumes of m that are missing.
func (u *Updater) ensureResources(ctx context.Context, m *spec.Meta) error {
	for _, n := range m.Networks {
		have, err := u.Engine.InspectNetwork(ctx, n.EngineName)
		switch {
		case err == nil:
			if have.Labels[LabelApp] != m.App {
				u.logf("app %s: using the existing network %s, which is not the app's: it is never removed", m.App, n.EngineName)
			}
			continue
		case !errors.Is(err, engine.ErrNotFound):
			return err
		}
		err = u.Engine.CreateNetwork(ctx, engine.NetworkConfig{Name: n.EngineName, Internal: n.Internal, Labels: resourceLabels(m.App, n.Name, n.Labels)})
		if err != nil && !errors.Is(err, engine.ErrConflict) {
			return fmt.Errorf("creating network %s: %w", n.EngineName, err)
		}
		u.logf("app %s: created network %s", m.App, n.EngineName)
	}
	for _, v := range m.Volumes {
		have, err := u.Engine.InspectVolume(ctx, v.EngineName)
		switch {
		case err == nil:
			if have.Labels[LabelApp] != m.App {
				u.logf("app %s: using the existing volume %s, which is not the app's: its data is kept and it is never removed", m.App, v.EngineName)
			}
			continue
		case !errors.Is(err, engine.ErrNotFound):
			return err
		}
		err = u.Engine.CreateVolume(ctx, engine.VolumeConfig{Name: v.EngineName, Labels: resourceLabels(m.App, v.Name, v.Labels)})
		if err != nil && !errors.Is(err, engine.ErrConflict) {
			return fmt.Errorf("creating volume %s: %w", v.EngineName, err)
		}
		u.logf("app %s: created volume %s", m.App, v.EngineName)
	}
	return nil
}

// removeResources removes the app's networks labelled ours and, with
// volumes, its volumes labelled ours: once its containers are gone. One
// still in use by a container that is not the app's stays, with a line in
// the log.
func (u *Updater) removeResources(ctx context.Context, app string, volumes bool) error {
	nets, err := u.Engine.ListNetworks(ctx, map[string]string{LabelApp: app})
	if err != nil {
		return err
	}
	var names []string
	for _, n := range nets {
		names = append(names, n.Name)
	}
	if err := u.removeEach(ctx, "network", names, u.Engine.RemoveNetwork); err != nil || !volumes {
		return err
	}
	vols, err := u.Engine.ListVolumes(ctx, map[string]string{LabelApp: app})
	if err != nil {
		return err
	}
	names = names[:0]
	for _, v := range vols {
		names = append(names, v.Name)
	}
	return u.removeEach(ctx, "volume", names, u.Engine.RemoveVolume)
}
