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

// Install swaps the app's old containers for the new ones and waits for
// the new set to prove healthy. Run again after a kill, it carries on.
func (u *Updater) Install(ctx context.Context, filesDir string) error {
	app, err := u.appOfFiles(filesDir)
	if err != nil {
		return err
	}
	d, err := u.loadDeployment(app)
	if err != nil {
		return err
	}
	if d == nil || d.Phase == PhaseDownloading {
		return fmt.Errorf("app %s: %w: Download did not finish", app, ErrNoDeployment)
	}
	m, err := u.parse(d.Meta, recorded(d.Params))
	if err != nil {
		return err
	}
	if d.Phase == PhaseInstalled {
		return nil
	}
	// Before anything is changed: the app may ask not to be stopped now.
	unlock, err := u.appLock(ctx, m.App)
	if err != nil {
		return err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	switch d.Phase {
	case PhaseDownloaded:
		in, err := u.loadInstalled(m.App)
		if err != nil {
			return err
		}
		filter := appFilter(m)
		if m.Compose != nil || (m.Remove && in.ProjectDir != "") {
			d.OldProjectDir, d.OldProjectFile, d.OldParams = in.ProjectDir, in.ProjectFile, in.Params
			filter = map[string]string{ComposeProjectLabel: m.App}
		}
		all, err := u.Engine.ListContainers(ctx, filter)
		if err != nil {
			return err
		}
		d.ID = newID()
		// Which containers stay is decided here, once, and journalled
		// with the phase: every later step and a resumed run agree on it.
		keep := unchanged(m, all)
		for _, c := range all {
			d.Old = append(d.Old, OldContainer{ID: c.ID, Name: c.Name, Image: c.Image, Running: c.State.Running || c.State.Restarting, Kept: keep[c.ID]})
		}
		if len(keep) > 0 {
			u.logf("app %s: keeping %d container(s) whose configuration did not change", m.App, len(keep))
		}
		d.Phase = PhaseInstalling
		if err := u.save(d); err != nil {
			return err
		}
	case PhaseInstalling:
		u.logf("app %s: resuming the installation of %s", m.App, d.Artifact)
	default:
		return fmt.Errorf("app %s: cannot install in phase %s", m.App, d.Phase)
	}
	switch {
	case m.Compose != nil:
		err = u.composeUp(ctx, m.App, d.ProjectDir, m.Compose.File, d.Params)
	case m.Remove && d.OldProjectDir != "":
		// Removing a Compose app: its project comes down; a rollback
		// brings the same project up again.
		var c Composer
		if c, err = u.composer(); err == nil {
			err = c.Down(ctx, m.App, d.OldProjectDir, d.OldProjectFile, composeEnv(d.OldParams))
		}
	default:
		err = u.swap(ctx, m, d)
	}
	if err != nil {
		return err
	}
	// The swap is done: the new set may take the lock as it starts.
	unlock()
	locked = false
	if failed, err := u.waitHealthy(ctx, m, d); err != nil {
		if len(failed) > 0 {
			// Before rollback removes them: why they failed.
			u.recordFailure(ctx, m.App, d.Artifact, failed, err)
		}
		return err
	}
	d.Phase = PhaseInstalled
	if err := u.save(d); err != nil {
		return err
	}
	u.logf("app %s: %s installed; waiting for commit", m.App, d.Artifact)
	return nil
}

// swap does the installing phase's steps, each skipped when already done.
func (u *Updater) swap(ctx context.Context, m *spec.Meta, d *Deployment) error {
	all, err := u.Engine.ListContainers(ctx, map[string]string{LabelApp: m.App})
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
	// 1. Free the names: the old set keeps running under other names.
	held := map[string]bool{} // names an old container still holds
	replaced := 0
	for _, o := range d.Old {
		if !o.Kept {
			replaced++
		}
	}
	for _, o := range d.Old {
		c, ok := byID[o.ID]
		if o.Kept || !ok || c.Name != o.Name {
			continue
		}
		if err := u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
			if !c.State.Running && !c.State.Restarting {
				return err
			}
			// A Docker engine without a default bridge cannot rename a
			// running container that was stopped and started again
			// ("sandbox not found"). Rename it once it is stopped; the new
			// container waits under a temporary name until then.
			u.logf("app %s: %s cannot be renamed while it runs (%v); renaming it once stopped", m.App, o.Name, err)
			held[o.Name] = true
		}
	}
	// 2. Create the new set while the old one still serves.
	for _, s := range m.Services {
		if _, ok := mine[s.Name]; ok {
			continue
		}
		name := s.Config.Name
		if held[name] {
			name += nextSuffix
		}
		id, err := u.create(ctx, m, d, s, name)
		if err != nil {
			return err
		}
		mine[s.Name] = engine.Container{ID: id, Name: name}
	}
	// 3. Stop old, 4. start new: the only downtime.
	if !d.Stopping && replaced > 0 {
		d.Stopping = true
		if err := u.save(d); err != nil {
			return err
		}
	}
	t0 := time.Now()
	for _, o := range d.Old {
		if c, ok := byID[o.ID]; ok && !o.Kept && (c.State.Running || c.State.Restarting) {
			if err := u.Engine.StopContainer(ctx, o.ID, u.stopTimeout()); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
		}
	}
	for _, o := range d.Old {
		if held[o.Name] && !o.Kept {
			if err := u.Engine.RenameContainer(ctx, o.ID, o.Name+prevSuffix); err != nil {
				return err
			}
		}
	}
	t1 := time.Now()
	for _, s := range m.Services {
		c := mine[s.Name]
		if c.Name != s.Config.Name {
			if err := u.Engine.RenameContainer(ctx, c.ID, s.Config.Name); err != nil {
				return err
			}
		}
		if c.State.Running || c.State.Restarting {
			continue
		}
		if err := u.Engine.StartContainer(ctx, c.ID); err != nil {
			return fmt.Errorf("starting %s: %w", s.Config.Name, err)
		}
	}
	u.logf("app %s: swapped %d old for %d new container(s), kept %d, in %s (stop %s, start %s)", m.App, replaced, len(m.Services)-(len(d.Old)-replaced), len(d.Old)-replaced,
		time.Since(t0).Round(time.Millisecond), t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	return nil
}

func (u *Updater) create(ctx context.Context, m *spec.Meta, d *Deployment, s spec.Service, name string) (string, error) {
	cfg := serviceConfig(m.App, s)
	cfg.Labels[LabelConfigHash] = configHash(cfg)
	cfg.Name = name
	cfg.Labels[LabelArtifact] = d.Artifact
	cfg.Labels[LabelDeployment] = d.ID
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
	u.logf("created %s from %s", cfg.Name, s.Image)
	return id, nil
}

func (u *Updater) pollInterval() time.Duration {
	if u.PollInterval > 0 {
		return u.PollInterval
	}
	return 250 * time.Millisecond
}

func (u *Updater) stopTimeout() time.Duration {
	if t := time.Duration(u.Config.StopTimeout); t > 0 {
		return t
	}
	return 10 * time.Second
}

// waitHealthy watches the new containers for the health window: each must
// keep running without a restart, and those with a health check must turn
// healthy before the health timeout. On failure it also returns the IDs of
// the containers that failed.
func (u *Updater) waitHealthy(ctx context.Context, m *spec.Meta, d *Deployment) ([]string, error) {
	window, timeout := m.Health.Window, m.Health.Timeout
	if window == 0 {
		window = time.Duration(u.Config.HealthWindow)
	}
	if timeout == 0 {
		timeout = time.Duration(u.Config.HealthTimeout)
	}
	poll := u.pollInterval()
	all, err := u.Engine.ListContainers(ctx, appFilter(m))
	if err != nil {
		return nil, err
	}
	// The new set: the containers this deployment created, and the old
	// ones it keeps, which must keep running too.
	var list []engine.Container
	for _, c := range all {
		if m.Compose != nil || c.Labels[LabelDeployment] == d.ID || d.kept(c.ID) {
			list = append(list, c)
		}
	}
	type watch struct {
		c        engine.Container
		restarts int
		started  time.Time
		healthy  bool
	}
	var ws []*watch
	for _, c := range list {
		ws = append(ws, &watch{c: c, restarts: -1})
	}
	u.logf("app %s: watching %d container(s) for %s (health timeout %s)", m.App, len(ws), window, timeout)
	start := time.Now()
	for {
		allHealthy := true
		for _, w := range ws {
			c, err := u.Engine.InspectContainer(ctx, w.c.ID)
			if err != nil {
				return nil, err
			}
			failed := []string{c.ID}
			st := c.State
			if w.restarts < 0 {
				w.restarts, w.started = st.RestartCount, st.StartedAt
			}
			switch {
			case !st.Running && !st.Restarting:
				return failed, fmt.Errorf("%w: %s exited with code %d", ErrUnhealthy, c.Name, st.ExitCode)
			case st.Restarting || st.RestartCount != w.restarts || !st.StartedAt.Equal(w.started):
				if st.ExitCode != 0 {
					return failed, fmt.Errorf("%w: %s exited with code %d and was restarted", ErrUnhealthy, c.Name, st.ExitCode)
				}
				return failed, fmt.Errorf("%w: %s restarted", ErrUnhealthy, c.Name)
			case st.Health == engine.HealthUnhealthy:
				return failed, fmt.Errorf("%w: %s reports unhealthy", ErrUnhealthy, c.Name)
			}
			if !w.healthy && (st.Health == "" || st.Health == engine.HealthHealthy) {
				w.healthy = true
				if st.Health != "" {
					u.logf("%s is healthy after %s", c.Name, time.Since(start).Round(time.Millisecond))
				}
			}
			allHealthy = allHealthy && w.healthy
		}
		elapsed := time.Since(start)
		if allHealthy && elapsed >= window {
			return nil, nil
		}
		if !allHealthy && elapsed >= max(timeout, window) {
			var slow, ids []string
			for _, w := range ws {
				if !w.healthy {
					slow, ids = append(slow, w.c.Name), append(ids, w.c.ID)
				}
			}
			return ids, fmt.Errorf("%w: %v not healthy after %s", ErrUnhealthy, slow, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// rollback removes the new set and restores the old one exactly.
func (u *Updater) rollback(ctx context.Context, app string) error {
	d, err := u.loadDeployment(app)
	if err != nil {
		return err
	}
	if d == nil {
		u.logf("app %s: nothing to roll back", app)
		return nil
	}
	switch d.Phase {
	case PhaseDownloading, PhaseDownloaded, PhaseRolledBack:
		d.Phase = PhaseRolledBack
		return u.save(d)
	case PhaseCommitting:
		if err := u.commit(ctx, app); err != nil {
			return err
		}
		return fmt.Errorf("app %s: %w; it is now committed", app, ErrCommitted)
	}
	if d.Phase != PhaseRollingBack {
		d.Phase = PhaseRollingBack
		if err := u.save(d); err != nil {
			return err
		}
	}
	if d.ProjectDir != "" || d.OldProjectDir != "" {
		return u.rollbackCompose(ctx, d)
	}
	all, err := u.Engine.ListContainers(ctx, map[string]string{LabelApp: app})
	if err != nil {
		return err
	}
	byID := map[string]engine.Container{}
	for _, c := range all {
		byID[c.ID] = c
		if c.Labels[LabelDeployment] == d.ID {
			if err := u.Engine.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			u.logf("removed new container %s", c.Name)
		}
	}
	if err := u.restoreOld(ctx, d, byID); err != nil {
		return err
	}
	d.Phase = PhaseRolledBack
	if err := u.save(d); err != nil {
		return err
	}
	u.logf("app %s: rolled back to the previous set (%d container(s))", app, len(d.Old))
	return nil
}

// restoreOld gives the old set back its names and starts what was running,
// then checks that it stays so: a stop that a killed install had sent may
// land after we look.
func (u *Updater) restoreOld(ctx context.Context, d *Deployment, byID map[string]engine.Container) error {
	if d.Stopping {
		// The engine may still be carrying out the install's stop of a
		// container that looks running: finish that stop ourselves, so
		// that the start below is the last word.
		for _, o := range d.Old {
			if c, ok := byID[o.ID]; ok && !o.Kept && o.Running && (c.State.Running || c.State.Restarting) {
				if err := u.Engine.StopContainer(ctx, o.ID, u.stopTimeout()); err != nil && !errors.Is(err, engine.ErrNotFound) {
					return err
				}
				c.State.Running, c.State.Restarting = false, false
				byID[o.ID] = c
			}
		}
		d.Stopping = false
		if err := u.save(d); err != nil {
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
				if !c.State.Running && !c.State.Restarting {
					return err
				}
				// Running and not renamable (see swap): rename it stopped.
				u.logf("app %s: %s cannot be renamed while it runs (%v); restarting it under its name", d.App, c.Name, err)
				if err := u.Engine.StopContainer(ctx, o.ID, u.stopTimeout()); err != nil {
					return err
				}
				if err := u.Engine.RenameContainer(ctx, o.ID, o.Name); err != nil {
					return err
				}
				c.State.Running, c.State.Restarting = false, false
			}
		}
		if o.Running && !c.State.Running && !c.State.Restarting {
			if err := u.Engine.StartContainer(ctx, o.ID); err != nil {
				return err
			}
			u.logf("restarted previous container %s", o.Name)
		}
	}
	return u.settle(ctx, d)
}

// settle checks, a few polls apart, that every old container that ran
// before the update runs now, starting again any that an engine operation
// still in flight stopped after all.
func (u *Updater) settle(ctx context.Context, d *Deployment) error {
	poll := u.pollInterval()
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

// commit removes the old set and the images no longer needed.
func (u *Updater) commit(ctx context.Context, app string) error {
	d, err := u.loadDeployment(app)
	if err != nil {
		return err
	}
	if d == nil {
		u.logf("app %s: nothing to commit", app)
		return nil
	}
	if d.Phase != PhaseInstalled && d.Phase != PhaseCommitting {
		return fmt.Errorf("app %s: cannot commit in phase %s", app, d.Phase)
	}
	m, err := u.parse(d.Meta, recorded(d.Params))
	if err != nil {
		return err
	}
	all, err := u.Engine.ListContainers(ctx, map[string]string{LabelApp: app})
	if err != nil {
		return err
	}
	// The point of no return: until here a rollback can still restore the
	// old set.
	if d.Phase == PhaseInstalled {
		d.Phase = PhaseCommitting
		if err := u.save(d); err != nil {
			return err
		}
	}
	for _, c := range all {
		if c.Labels[LabelDeployment] != d.ID && !d.kept(c.ID) {
			if err := u.Engine.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			u.logf("removed previous container %s", c.Name)
		}
	}
	prev, err := u.loadInstalled(app)
	if err != nil {
		return err
	}
	current := m.Images()
	var previous []string
	for _, o := range d.Old {
		if !slices.Contains(previous, o.Image) && !slices.Contains(current, o.Image) {
			previous = append(previous, o.Image)
		}
	}
	if m.Remove {
		// Nothing of a removed app is kept, not even to go back to.
		candidates := slices.Concat(prev.Images, prev.Previous, previous)
		if err := u.removeImages(ctx, candidates); err != nil {
			return err
		}
		if err := u.journal().Remove(app, installedFile); err != nil {
			return err
		}
		if d.OldProjectDir != "" {
			if err := os.RemoveAll(d.OldProjectDir); err != nil {
				return err
			}
		}
		if err := u.journal().Remove(app, deploymentFile); err != nil {
			return err
		}
		u.logf("app %s: removed by %s", app, d.Artifact)
		return nil
	}
	keep := append(slices.Clone(current), previous...)
	var candidates []string
	for _, img := range slices.Concat(prev.Images, prev.Previous, d.Pulled) {
		if !slices.Contains(keep, img) && !slices.Contains(candidates, img) {
			candidates = append(candidates, img)
		}
	}
	if err := u.removeImages(ctx, candidates); err != nil {
		return err
	}
	if err := u.journal().Save(app, installedFile, Installed{Artifact: d.Artifact, Images: current, Previous: previous, ProjectDir: d.ProjectDir, ProjectFile: composeFile(m), Params: composeParams(m, d)}); err != nil {
		return err
	}
	if d.OldProjectDir != "" && d.OldProjectDir != d.ProjectDir {
		if err := os.RemoveAll(d.OldProjectDir); err != nil {
			return err
		}
	}
	if err := u.journal().Remove(app, deploymentFile); err != nil {
		return err
	}
	u.logf("app %s: %s committed", app, d.Artifact)
	return nil
}

// removeImages removes images nothing uses any more; an image still used by
// any container, ours or not, stays.
func (u *Updater) removeImages(ctx context.Context, refs []string) error {
	for _, ref := range refs {
		err := u.Engine.RemoveImage(ctx, ref)
		switch {
		case err == nil:
			u.logf("removed image %s", ref)
		case errors.Is(err, engine.ErrNotFound):
		case errors.Is(err, engine.ErrConflict):
			u.logf("kept image %s: still in use", ref)
		default:
			return err
		}
	}
	return nil
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
// images it fetched that nothing uses, and deletes its journal. A deployment
// waiting for commit is left alone.
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
	for _, img := range d.Pulled {
		if !slices.Contains(in.Images, img) && !slices.Contains(in.Previous, img) {
			unused = append(unused, img)
		}
	}
	if err := u.removeImages(ctx, unused); err != nil {
		return err
	}
	if d.ProjectDir != "" && d.ProjectDir != in.ProjectDir {
		if err := os.RemoveAll(d.ProjectDir); err != nil {
			return err
		}
	}
	return u.journal().Remove(app, deploymentFile)
}

func composeFile(m *spec.Meta) string {
	if m.Compose == nil {
		return ""
	}
	return m.Compose.File
}

func composeParams(m *spec.Meta, d *Deployment) map[string]string {
	if m.Compose == nil {
		return nil
	}
	return d.Params
}

// appFilter selects the app's containers: by our label, or by Compose's
// project label for a Compose app.
func appFilter(m *spec.Meta) map[string]string {
	if m.Compose != nil {
		return map[string]string{ComposeProjectLabel: m.App}
	}
	return map[string]string{LabelApp: m.App}
}

func (u *Updater) composeUp(ctx context.Context, app, dir, file string, params map[string]string) error {
	c, err := u.composer()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := c.Up(ctx, app, dir, file, composeEnv(params)); err != nil {
		return fmt.Errorf("compose app %s: %w", app, err)
	}
	u.logf("app %s: compose project up in %s", app, time.Since(t0).Round(time.Millisecond))
	return nil
}

// rollbackCompose brings the previous project back up, exactly as it was
// described, or takes the new one down when there was none before. Named
// volumes are kept either way.
func (u *Updater) rollbackCompose(ctx context.Context, d *Deployment) error {
	if d.OldProjectDir != "" {
		if err := u.composeUp(ctx, d.App, d.OldProjectDir, d.OldProjectFile, d.OldParams); err != nil {
			return err
		}
	} else {
		m, err := u.parse(d.Meta, recorded(d.Params))
		if err != nil {
			return err
		}
		c, err := u.composer()
		if err != nil {
			return err
		}
		if err := c.Down(ctx, d.App, d.ProjectDir, m.Compose.File, composeEnv(d.Params)); err != nil {
			return fmt.Errorf("compose app %s: %w", d.App, err)
		}
	}
	d.Phase = PhaseRolledBack
	if err := u.save(d); err != nil {
		return err
	}
	u.logf("app %s: rolled back to the previous compose project", d.App)
	return nil
}
