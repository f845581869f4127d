package module

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
)

// rollback removes the new set (under whatever name a killed run left it)
// and restores the old one exactly: the same containers, under their
// names, running as they were. Networks, volumes and files stay.
func rollBack(ctx context.Context, x *deployment) error {
	u, app, d := x.u, x.app, x.d
	if d.Phase != PhaseRollingBack {
		d.Phase = PhaseRollingBack
		if err := u.journals().save(d); err != nil {
			return err
		}
	}
	all, err := appContainers(ctx, u.Engine, app)
	if err != nil {
		return err
	}
	x.byID = map[string]engine.Container{}
	for _, c := range all {
		x.byID[c.ID] = c
		if c.Labels[LabelDeployment] == d.ID {
			if err := u.Engine.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			u.logf("app %s: removed new container %s", app, c.Name)
		}
	}
	if err := x.restore(ctx); err != nil {
		return err
	}
	d.Phase = PhaseRolledBack
	if err := u.journals().save(d); err != nil {
		return err
	}
	u.logf("app %s: rolled back to the previous set (%d container(s))", app, len(d.Old))
	return nil
}

// restore gives the old set back its names and starts what was running,
// then checks that it stays so: a stop that a killed install had sent may
// land after we look.
func (x *deployment) restore(ctx context.Context) error {
	u, d, byID := x.u, x.d, x.byID
	if d.Stopping {
		// The engine may still be carrying out the install's stop of a
		// container that looks running: finish that stop ourselves, so
		// that the start below is the last word.
		// Only the containers marked were sent a stop (a journal of an
		// earlier release marks none: then any may have been).
		marked := slices.ContainsFunc(d.Old, func(o OldContainer) bool { return o.Stop })
		for _, o := range d.Old {
			if c, ok := byID[o.ID]; ok && !o.Kept && o.Running && (o.Stop || !marked) && (c.State.Running || c.State.Restarting) {
				if err := u.Engine.StopContainer(ctx, o.ID, u.timing().stopTimeout()); err != nil && !errors.Is(err, engine.ErrNotFound) {
					return err
				}
				c.State.Running, c.State.Restarting = false, false
				byID[o.ID] = c
			}
		}
		d.Stopping = false
		if err := u.journals().save(d); err != nil {
			return err
		}
	}
	for _, o := range d.Old {
		c, ok := byID[o.ID]
		if !ok {
			u.logf("previous container %s (%.12s) is gone and cannot be restored", o.Name, o.ID)
			continue
		}
		if c.Name != o.Name {
			if err := u.Engine.RenameContainer(ctx, o.ID, o.Name); err != nil {
				if !errors.Is(err, engine.ErrRenameSandbox) {
					return err
				}
				// Running and not renamable (see swap): rename it stopped.
				u.logf("app %s: %s is restarted under its name %s (this engine has no default bridge, and cannot rename it while it runs)", d.App, c.Name, o.Name)
				if err := u.Engine.StopContainer(ctx, o.ID, u.timing().stopTimeout()); err != nil {
					return err
				}
				if err := u.Engine.RenameContainer(ctx, o.ID, o.Name); err != nil {
					return err
				}
				c.State.Running, c.State.Restarting = false, false
			}
			u.logf("app %s: renamed %s back to %s", d.App, c.Name, o.Name)
		}
		if o.Running && !c.State.Running && !c.State.Restarting {
			if err := u.Engine.StartContainer(ctx, o.ID); err != nil {
				return err
			}
			u.logf("app %s: restarted previous container %s", d.App, o.Name)
		}
	}
	return x.settle(ctx)
}

// settle checks, a few polls apart, that every old container that ran
// before the update runs now, starting again any that an engine operation
// still in flight stopped after all.
func (x *deployment) settle(ctx context.Context) error {
	u, d := x.u, x.d
	poll := u.timing().pollInterval()
	const checks = 3
	for i := 0; i < checks; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
		for _, o := range d.Old {
			if !o.Running {
				continue
			}
			c, err := u.Engine.InspectContainer(ctx, o.ID)
			if errors.Is(err, engine.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !ownedBy(c, d.App) {
				continue // the journal names only the app's containers
			}
			if !c.State.Running && !c.State.Restarting {
				if err := u.Engine.StartContainer(ctx, o.ID); err != nil {
					return err
				}
				u.logf("previous container %s had stopped after rollback looked; started it again", o.Name)
			}
		}
	}
	return nil
}
