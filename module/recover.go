package module

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Recover finishes or undoes any deployment that an interrupted run left
// behind, for every app: meant for a boot-time unit, and run by Download
// for its own app. A deployment waiting for commit is left alone.
func (u *Updater) Recover(ctx context.Context) error {
	return u.locked(ctx, u.recoverAll)
}

func (u *Updater) recoverAll(ctx context.Context) error {
	apps, err := u.journal().Apps(deploymentFile)
	if err != nil {
		return err
	}
	var errs []error
	for _, app := range apps {
		if err := u.recoverApp(ctx, app, false); err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", app, err))
		}
	}
	return errors.Join(errs...)
}

func (u *Updater) recoverApp(ctx context.Context, app string, newDeployment bool) error {
	d, err := u.loadDeployment(app)
	if err != nil || d == nil {
		return err
	}
	switch d.Phase {
	case PhaseInstalled:
		if !newDeployment {
			return nil
		}
		u.logf("app %s: deployment of %s was never committed; rolling it back first", app, d.Artifact)
		if err := u.rollback(ctx, app); err != nil {
			return err
		}
	case PhaseCommitting:
		u.logf("app %s: finishing the interrupted commit of %s", app, d.Artifact)
		return u.commit(ctx, app)
	default:
		u.logf("app %s: undoing the interrupted deployment of %s (phase %s)", app, d.Artifact, d.Phase)
	}
	return u.cleanup(ctx, app)
}

// converge brings a half-done deployment to a consistent end: used by
// ArtifactFailure, which may follow a killed state.
func (u *Updater) converge(ctx context.Context, app string) error {
	d, err := u.loadDeployment(app)
	if err != nil || d == nil {
		return err
	}
	switch d.Phase {
	case PhaseInstalling, PhaseRollingBack, PhaseInstalled:
		return u.rollback(ctx, app)
	case PhaseCommitting:
		return u.commit(ctx, app)
	}
	return nil
}

// cleanup ends a deployment that did not stick: converges it, removes the
// images it fetched and the files it unpacked that the installed set does
// not use, and deletes its journal. A deployment waiting for commit is left
// alone.
func (u *Updater) cleanup(ctx context.Context, app string) error {
	d, err := u.loadDeployment(app)
	if err != nil || d == nil {
		return err
	}
	switch d.Phase {
	case PhaseInstalled:
		return nil
	case PhaseCommitting:
		return u.commit(ctx, app)
	case PhaseInstalling, PhaseRollingBack:
		if err := u.rollback(ctx, app); err != nil {
			return err
		}
	}
	in, err := u.loadInstalled(app)
	if err != nil {
		return err
	}
	var unused []string
	for _, img := range u.pulledImages(d) {
		if !slices.Contains(in.Images, img) && !slices.Contains(in.Previous, img) {
			unused = append(unused, img)
		}
	}
	if err := u.removeImages(ctx, unused); err != nil {
		return err
	}
	if err := u.removeFiles(app, in.Files); err != nil {
		return err
	}
	return u.journal().Remove(app, deploymentFile)
}
