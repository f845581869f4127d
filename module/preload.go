package module

import (
	"context"
	"fmt"
)

// Preload installs the app in dir (header/meta-data, header/artifact_name,
// files/ with its images as docker-archives, as docker-artifact-gen
// preload writes it) as the app's installed set: images loaded, containers
// started and healthy, committed. It is for the first boot of an OS image
// that ships the app; once the app has an installed set (from this or any
// later update), it does nothing.
func (u *Updater) Preload(ctx context.Context, dir string) error {
	return u.locked(ctx, func(ctx context.Context) error { return u.preload(ctx, dir) })
}

func (u *Updater) preload(ctx context.Context, dir string) error {
	m, _, err := u.readMeta(dir)
	if err != nil {
		return err
	}
	in, err := u.journals().installed(m.App)
	if err != nil {
		return err
	}
	if in.Artifact != "" {
		u.logf("app %s: %s is installed; nothing to preload", m.App, in.Artifact)
		return nil
	}
	u.logf("app %s: preloading from %s", m.App, dir)
	if err := u.download(ctx, dir); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	if err := u.drive(ctx, m.App, goalInstall); err != nil {
		if rerr := u.drive(context.WithoutCancel(ctx), m.App, goalCleanup); rerr != nil {
			u.logf("undoing the preload: %v", rerr)
		}
		return fmt.Errorf("preload: %w", err)
	}
	return u.drive(ctx, m.App, goalCommit)
}
