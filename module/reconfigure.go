package module

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// Reconfigure parses the installed meta-data of each app (every installed
// app when apps is empty) again with the device's values as they are now,
// and replaces the services whose configuration hash changed: journalled
// as a deployment (Deployment.Reconfigure) through the same swap, health
// window and hand-over as an update, committed by the module itself once
// healthy, rolled back to the old containers when not. An app whose
// services are all unchanged is left alone.
func (u *Updater) Reconfigure(ctx context.Context, apps []string) error {
	if _, err := os.Stat(u.Config.StateDir); errors.Is(err, os.ErrNotExist) && len(apps) == 0 {
		// Nothing installed yet: not even the state directory's lock to take.
		return nil
	}
	return u.locked(ctx, func(ctx context.Context) error {
		named := len(apps) > 0
		if !named {
			var err error
			if apps, err = u.journals().store.Apps(installedFile); err != nil {
				return err
			}
		}
		var errs []error
		for _, app := range apps {
			if !spec.ValidApp(app) {
				errs = append(errs, fmt.Errorf("app %q: %w: not a valid app name", app, spec.ErrInvalid))
				continue
			}
			if err := u.reconfigure(ctx, app, named); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// reconfigure is Reconfigure for one app; named: the operator asked for
// it by name, so an app that cannot be reconfigured is an error.
func (u *Updater) reconfigure(ctx context.Context, app string, named bool) error {
	if err := u.settleReconfigure(ctx, app); err != nil {
		return err
	}
	in, err := u.journals().installed(app)
	if err != nil {
		return err
	}
	if len(in.Meta) == 0 {
		if !named {
			u.logf("app %s: installed by a release that did not record its meta-data; reconfigured from its next deployment on", app)
			return nil
		}
		return fmt.Errorf("app %s: %w (not installed, or installed by an earlier release)", app, ErrNotReconfigurable)
	}
	m, err := u.reparse(app, in)
	if err != nil {
		return fmt.Errorf("app %s: reconfiguring: %w", app, err)
	}
	if err := u.renderInto(m); err != nil {
		return fmt.Errorf("app %s: reconfiguring: %w", app, err)
	}
	changed, err := u.changedServices(ctx, m)
	if err != nil {
		return err
	}
	if len(changed) == 0 {
		u.logf("app %s: configuration unchanged", app)
		return nil
	}
	u.logf("app %s: reconfiguring %s: service(s) %v changed", app, in.Artifact, changed)
	d := &Deployment{Phase: PhaseDownloaded, App: app, Artifact: in.Artifact, ID: newID(), Meta: in.Meta, Params: m.Values(),
		PublicParams: m.Public(), Files: in.Files, Started: time.Now().UTC(), Reconfigure: true, Rendered: m.Rendered}
	if err := u.journals().save(d); err != nil {
		return err
	}
	if err := u.drive(ctx, app, goalInstall); err != nil {
		u.logf("app %s: reconfiguration failed; rolling back to the previous configuration", app)
		back := context.WithoutCancel(ctx)
		if rerr := u.drive(back, app, goalRollback); rerr != nil {
			return fmt.Errorf("app %s: reconfiguring %v: %w; rolling back: %v", app, changed, err, rerr)
		}
		if terr := u.drive(back, app, goalCleanup); terr != nil {
			u.logf("app %s: tidying up after the rollback: %v", app, terr)
		}
		return fmt.Errorf("app %s: reconfiguring service(s) %v: %w", app, changed, err)
	}
	return u.drive(ctx, app, goalCommit)
}

// settleReconfigure ends what a killed reconfiguration of app left (as
// boot-time recover would), and refuses while a Mender deployment is in
// flight: that one's Download, install and commit own the app until it
// ends.
func (u *Updater) settleReconfigure(ctx context.Context, app string) error {
	d, err := u.journals().deployment(app)
	if err != nil || d == nil {
		return err
	}
	if !d.Reconfigure {
		return fmt.Errorf("app %s: %w: the deployment of %s (phase %s); reconfigure once it ends", app, ErrInFlight, d.Artifact, d.Phase)
	}
	return u.drive(ctx, app, goalRecover)
}

// reparse parses the installed meta-data with the device's values of now,
// logging what they put in place, as Download does.
func (u *Updater) reparse(app string, in Installed) (*spec.Meta, error) {
	params, err := deviceParams(u.Config, app)
	if err != nil {
		return nil, err
	}
	m, err := parseMeta(in.Meta, params, u.Config.DefaultApp, &u.secrets)
	if err != nil {
		return nil, err
	}
	if m.App != app {
		return nil, fmt.Errorf("installed meta-data names app %q", m.App)
	}
	if err := u.images().check(m); err != nil {
		return nil, err
	}
	for _, s := range m.Substitutions {
		u.logf("app %s: parameter %s", app, s)
	}
	return m, nil
}

// changedServices names the services of m whose container on the device
// was created with another configuration hash (or that have none): those
// a reconfiguration replaces.
func (u *Updater) changedServices(ctx context.Context, m *spec.Meta) ([]string, error) {
	all, err := appContainers(ctx, u.Engine, m.App)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, s := range m.Services {
		h := configHash(serviceConfig(u.files(), m, s))
		if !slices.ContainsFunc(all, func(c engine.Container) bool {
			return c.Labels[LabelService] == s.Name && c.Labels[LabelApp] == m.App && c.Labels[LabelConfigHash] == h
		}) {
			changed = append(changed, s.Name)
		}
	}
	return changed, nil
}
