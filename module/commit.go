package module

import (
	"context"
	"errors"
	"slices"

	"github.com/mender-docker/mender-docker/module/engine"
)

// commit removes the old set (containers of ours, and those of a Compose
// project it took over) and the images no longer needed, and files
// archives the new set does not mount. When the target removes the app,
// nothing of it is kept: its images, its networks and, if it asks, its
// volumes go too (those labelled ours only).
func commit(ctx context.Context, x *deployment) error {
	u, app, d := x.u, x.app, x.d
	if _, err := x.meta(); err != nil {
		return err
	}
	all, err := appContainers(ctx, u.Engine, app)
	if err != nil {
		return err
	}
	// The point of no return: until here a rollback can still restore the
	// old set.
	if d.Phase == PhaseInstalled || d.Phase == PhaseReconfigured {
		d.Phase = PhaseCommitting
		if err := u.journals().save(d); err != nil {
			return err
		}
	}
	prev, err := u.journals().installed(app)
	if err != nil {
		return err
	}
	// Checked against the containers before they go.
	oldImages := u.journals().verifiedOldImages(d, all, prev.Images)
	if err := x.removeOld(ctx, all); err != nil {
		return err
	}
	previous, owned, err := x.removeUnneededImages(ctx, prev, oldImages)
	if err != nil {
		return err
	}
	return x.recordCommit(ctx, previous, owned)
}

// removeOld removes the app's containers (all) that are neither new nor
// kept.
func (x *deployment) removeOld(ctx context.Context, all []engine.Container) error {
	for _, c := range all {
		if c.Labels[LabelDeployment] != x.d.ID && !x.d.kept(c.ID) {
			if err := x.u.Engine.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			x.logf("app %s: removed previous container %s", x.app, c.Name)
		}
	}
	return nil
}

// removeUnneededImages removes the images the module fetched that neither
// the new set nor (for one more update) the old one uses, and returns the
// old set's images that stay (previous) and those the module owns.
func (x *deployment) removeUnneededImages(ctx context.Context, prev Installed, oldImages []string) (previous, owned []string, err error) {
	u, app, d, m := x.u, x.app, x.d, x.m
	current := m.Images()
	if d.Reconfigure {
		// The same images before and after: those kept for one more
		// update stay kept for it.
		previous = slices.Clone(prev.Previous)
	}
	for _, img := range oldImages {
		if !slices.Contains(previous, img) && !slices.Contains(current, img) {
			previous = append(previous, img)
		}
	}
	// The previous set's images stay for one more update, unless the app
	// is gone: then there is nothing to go back to.
	keep := slices.Concat(current, previous)
	if m.Remove {
		keep = nil
	}
	owned = ownedImages(prev, d, current)
	var candidates []string
	for _, img := range slices.Concat(prev.Images, prev.Previous, u.journals().verifiedPulled(app, m, d.Pulled), previous) {
		if slices.Contains(keep, img) || slices.Contains(candidates, img) {
			continue
		}
		if !slices.Contains(owned, img) {
			u.logf("app %s: kept image %s: the module did not fetch it", app, img)
			continue
		}
		candidates = append(candidates, img)
	}
	if err := u.images().remove(ctx, u.journals().notOtherApps(app, candidates)); err != nil {
		return nil, nil, err
	}
	owned = slices.DeleteFunc(owned, func(img string) bool { return !slices.Contains(keep, img) })
	return previous, owned, nil
}

// recordCommit writes what the commit leaves (or, for a removed app,
// removes the app's resources and record), removes the files archives the
// new set does not mount, and ends the deployment's journal.
func (x *deployment) recordCommit(ctx context.Context, previous, owned []string) error {
	u, app, d, m := x.u, x.app, x.d, x.m
	var err error
	done := "committed"
	if m.Remove {
		done = "removed"
		if err := u.resources().remove(ctx, app, m.RemoveVolumes); err != nil {
			return err
		}
		err = u.journals().store.Remove(app, installedFile)
	} else {
		err = u.journals().store.Save(app, installedFile, Installed{Artifact: d.Artifact, Images: m.Images(), Previous: previous, Files: d.Files, Owned: owned, Meta: d.Meta, Rendered: d.Rendered})
	}
	if err != nil {
		return err
	}
	if err := u.files().remove(app, d.Files); err != nil {
		return err
	}
	if err := u.rendered().remove(app, d.Rendered); err != nil {
		return err
	}
	if err := u.journals().store.Remove(app, deploymentFile); err != nil {
		return err
	}
	x.d = nil
	u.logf("app %s: %s %s", app, d.Artifact, done)
	return nil
}

// ownedImages are the images the module fetched itself that a commit may
// remove: the installed set's that it recorded as its own, and those this
// deployment pulled or loaded. Each must be one the record names as an
// image of its set, so that a list in the journal cannot name any other
// image of the device.
func ownedImages(prev Installed, d *Deployment, current []string) []string {
	var out []string
	add := func(img string, of ...[]string) {
		if !slices.Contains(out, img) && slices.ContainsFunc(of, func(l []string) bool { return slices.Contains(l, img) }) {
			out = append(out, img)
		}
	}
	for _, img := range prev.Owned {
		add(img, prev.Images, prev.Previous)
	}
	for _, img := range d.Pulled {
		add(img, current)
	}
	return out
}
