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
	apps, err := u.journals().store.Apps(deploymentFile)
	if err != nil {
		return err
	}
	var errs []error
	for _, app := range apps {
		if err := u.drive(ctx, app, goalRecover); err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", app, err))
		}
	}
	return errors.Join(errs...)
}

// tidy ends a deployment that did not stick, once nothing of it runs:
// removes the images it fetched and the files it unpacked that the
// installed set does not use, and deletes its journal.
func tidy(ctx context.Context, x *deployment) error {
	u, app, d := x.u, x.app, x.d
	in, err := u.journals().installed(app)
	if err != nil {
		return err
	}
	// Meta-data that no longer parses vouches for no image.
	m, perr := x.meta()
	if perr != nil {
		m = nil
	}
	var unused []string
	for _, img := range u.journals().verifiedPulled(app, m, d.Pulled) {
		if !slices.Contains(in.Images, img) && !slices.Contains(in.Previous, img) {
			unused = append(unused, img)
		}
	}
	if err := u.images().remove(ctx, u.journals().notOtherApps(app, unused)); err != nil {
		return err
	}
	if err := u.files().remove(app, in.Files); err != nil {
		return err
	}
	if err := u.rendered().remove(app, in.Rendered); err != nil {
		return err
	}
	if err := u.journals().store.Remove(app, deploymentFile); err != nil {
		return err
	}
	x.d = nil
	return nil
}
