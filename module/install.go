package module

import (
	"context"
	"fmt"
	"slices"

	"github.com/mender-docker/mender-docker/module/engine"
)

// Install replaces the app's old set with the target graph and waits for
// the new set to prove healthy: networks and volumes first, then the swap
// (swap.go), then the health window (health.go). Removing an app is the
// same with a graph of no services. Run again after a kill, it carries on.
func (u *Updater) Install(ctx context.Context, filesDir string) error {
	app, err := u.appOfFiles(filesDir)
	if err != nil {
		return err
	}
	return u.drive(ctx, app, goalInstall)
}

// installFrom is the install step of a phase: start is what that phase
// does once the app's configuration passed the policy again and its lock
// is held (begin, resume, or refuse).
func installFrom(start step) step {
	return func(ctx context.Context, x *deployment) error {
		m, err := x.meta()
		if err != nil {
			return err
		}
		u := x.u
		// The journal is not trusted more than the artifact was: its
		// configuration passes the device policy again before anything
		// changes (and create checks each container once more).
		device, protected, err := u.policy().onDevice(ctx, m.App)
		if err != nil {
			return err
		}
		if err := u.policy().check(m, device, protected); err != nil {
			return err
		}
		// Before anything is changed: the app may ask not to be stopped now.
		unlock, err := lockApp(ctx, u.Config, u.logger(), m.App)
		if err != nil {
			return err
		}
		locked := true
		defer func() {
			if locked {
				unlock()
			}
		}()
		if err := start(ctx, x); err != nil {
			return err
		}
		if err := u.resources().ensure(ctx, m); err != nil {
			return err
		}
		if err := x.swap(ctx); err != nil {
			return err
		}
		// The swap is done: the new set may take the lock as it starts.
		unlock()
		locked = false
		if err := x.waitHealthy(ctx); err != nil {
			return err
		}
		return x.markInstalled()
	}
}

// markInstalled records that the new set proved healthy: a Mender
// deployment then waits for commit, a reconfiguration for the module's.
func (x *deployment) markInstalled() error {
	d := x.d
	d.Phase = PhaseInstalled
	if d.Reconfigure {
		d.Phase = PhaseReconfigured
	}
	if err := x.save(); err != nil {
		return err
	}
	if d.Reconfigure {
		x.logf("app %s: %s reconfigured; the new set is healthy", x.app, d.Artifact)
	} else {
		x.logf("app %s: %s installed; waiting for commit", x.app, d.Artifact)
	}
	return nil
}

func resumeInstall(_ context.Context, x *deployment) error {
	x.logf("app %s: resuming the installation of %s", x.app, x.d.Artifact)
	return nil
}

func refuseInstall(_ context.Context, x *deployment) error {
	return fmt.Errorf("app %s: cannot install in phase %s", x.app, x.d.Phase)
}

// beginInstall decides, once, what the old set is and which of its
// containers the target keeps, and journals it with the move to
// PhaseInstalling: every later step and a resumed run agree on it.
func beginInstall(ctx context.Context, x *deployment) error {
	u, m, d := x.u, x.m, x.d
	all, err := appContainers(ctx, u.Engine, m.App)
	if err != nil {
		return err
	}
	d.ID = newID()
	// In the target's start order (services it drops last): the order a
	// rollback starts the old set in, and the reverse of the one the swap
	// stops it in.
	order, err := m.StartOrder()
	if err != nil {
		return err
	}
	rank := map[string]int{}
	for i, s := range order {
		rank[s.Name] = i
	}
	slices.SortStableFunc(all, func(a, b engine.Container) int { return startRank(rank, serviceOf(a)) - startRank(rank, serviceOf(b)) })
	keep := unchanged(u.files(), m, all)
	for _, c := range all {
		d.Old = append(d.Old, OldContainer{ID: c.ID, Name: c.Name, Image: c.Image, Running: c.State.Running || c.State.Restarting,
			Service: serviceOf(c), Kept: keep[c.ID]})
		if c.Labels[LabelApp] == "" {
			u.logf("app %s: taking over %s, which Docker Compose ran", m.App, c.Name)
		}
	}
	if len(keep) > 0 {
		u.logf("app %s: keeping %d container(s) whose configuration did not change", m.App, len(keep))
	}
	d.Phase = PhaseInstalling
	return u.journals().save(d)
}

// appContainers lists the app's containers: ours, and those of a Docker
// Compose project of the same name (an app that Compose ran before this
// release), which the next update replaces like any old set.
func appContainers(ctx context.Context, e engine.Engine, app string) ([]engine.Container, error) {
	ours, err := e.ListContainers(ctx, map[string]string{LabelApp: app})
	if err != nil {
		return nil, err
	}
	composed, err := e.ListContainers(ctx, map[string]string{ComposeProjectLabel: app})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, c := range ours {
		seen[c.ID] = true
	}
	for _, c := range composed {
		if !seen[c.ID] && c.Labels[LabelApp] == "" {
			ours = append(ours, c)
		}
	}
	return ours, nil
}

// startRank is the place of service in the target's start order: those
// the target drops come last.
func startRank(rank map[string]int, service string) int {
	if r, ok := rank[service]; ok {
		return r
	}
	return len(rank)
}

// serviceOf is the service a container of the app runs.
func serviceOf(c engine.Container) string {
	if s := c.Labels[LabelService]; s != "" {
		return s
	}
	return c.Labels[ComposeServiceLabel]
}
