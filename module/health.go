package module

import (
	"context"
	"fmt"
	"time"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// timing is how long the module waits for containers: how often it
// polls them, their stop timeout, the health window and timeout.
type timing struct {
	interval time.Duration // of polls; 250ms when zero
	cfg      config.Config
}

func (u *Updater) timing() timing { return timing{interval: u.PollInterval, cfg: u.Config} }

func (t timing) pollInterval() time.Duration {
	if t.interval > 0 {
		return t.interval
	}
	return 250 * time.Millisecond
}

func (t timing) stopTimeout() time.Duration {
	if d := time.Duration(t.cfg.StopTimeout); d > 0 {
		return d
	}
	return 10 * time.Second
}

// healthLimits are the health window and the health timeout of m, the
// device's defaults where the artifact gives none.
func (t timing) healthLimits(m *spec.Meta) (window, timeout time.Duration) {
	window, timeout = m.Health.Window, m.Health.Timeout
	if window == 0 {
		window = time.Duration(t.cfg.HealthWindow)
	}
	if timeout == 0 {
		timeout = time.Duration(t.cfg.HealthTimeout)
	}
	return window, timeout
}

// fail records the evidence of the containers ids (before rollback
// removes them) and returns err.
func (x *deployment) fail(ctx context.Context, ids []string, err error) error {
	if len(ids) > 0 {
		x.u.evidence().record(ctx, x.d.App, x.d.Artifact, ids, err)
	}
	return err
}

// poll calls check every poll interval until it says done or fails, or
// until limit has passed (then it fails with late()).
func (t timing) poll(ctx context.Context, limit time.Duration, check func() (bool, error), late func() error) error {
	start := time.Now()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if time.Since(start) >= limit {
			return late()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(t.pollInterval()):
		}
	}
}

// waitDependencies waits until every dependency of s holds:
// service_started (it was started), service_healthy (its health check says
// healthy within the health timeout; unhealthy or exited fails the
// install) or service_completed_successfully (it exited with code 0).
func (x *deployment) waitDependencies(ctx context.Context, s spec.Service) error {
	u, m := x.u, x.m
	window, timeout := u.timing().healthLimits(m)
	for _, dep := range s.DependsOn {
		id := x.mine[dep.Service].ID
		limit := timeout
		if dep.Condition == spec.ServiceCompleted {
			limit = max(timeout, window)
		}
		var last engine.Container
		check := func() (bool, error) {
			c, err := u.Engine.InspectContainer(ctx, id)
			if err != nil {
				return false, err
			}
			last = c
			st := c.State
			up := st.Running || st.Restarting
			switch dep.Condition {
			case spec.ServiceStarted:
				return up || !st.StartedAt.IsZero(), nil
			case spec.ServiceHealthy:
				switch {
				case !up:
					return false, fmt.Errorf("%w: %s waits for %s to be healthy, which exited with code %d", ErrUnhealthy, s.Name, c.Name, st.ExitCode)
				case st.Health == engine.HealthUnhealthy:
					return false, fmt.Errorf("%w: %s waits for %s to be healthy, which reports unhealthy", ErrUnhealthy, s.Name, c.Name)
				}
				// No health check: running is as healthy as it gets.
				return st.Health == engine.HealthHealthy || (st.Health == "" && st.Running), nil
			default: // spec.ServiceCompleted
				if up || st.StartedAt.IsZero() {
					return false, nil
				}
				if st.ExitCode != 0 {
					return false, fmt.Errorf("%w: %s waits for %s to complete, which exited with code %d", ErrUnhealthy, s.Name, c.Name, st.ExitCode)
				}
				return true, nil
			}
		}
		late := func() error {
			return fmt.Errorf("%w: %s waits for %s (%s), which did not get there within %s", ErrUnhealthy, s.Name, last.Name, dep.Condition, limit)
		}
		u.logf("app %s: %s waits for %s (%s)", m.App, s.Name, dep.Service, dep.Condition)
		if err := u.timing().poll(ctx, limit, check, late); err != nil {
			return x.fail(ctx, []string{id}, err)
		}
	}
	return nil
}

// waitReady waits until a hand-over's new container can take over: healthy
// when it has a health check, else running with no restart for a few
// polls. Unhealthy or exited fails the install, as does the health timeout.
func (x *deployment) waitReady(ctx context.Context, id string) error {
	u, m := x.u, x.m
	const polls = 3
	window, timeout := u.timing().healthLimits(m)
	var first, last engine.Container
	seen := 0
	check := func() (bool, error) {
		c, err := u.Engine.InspectContainer(ctx, id)
		if err != nil {
			return false, err
		}
		if seen == 0 {
			first = c
		}
		seen++
		last = c
		st := c.State
		switch {
		case !st.Running && !st.Restarting:
			return false, fmt.Errorf("%w: %s exited with code %d before it could take over", ErrUnhealthy, c.Name, st.ExitCode)
		case st.Restarting || st.RestartCount != first.State.RestartCount || !st.StartedAt.Equal(first.State.StartedAt):
			return false, fmt.Errorf("%w: %s restarted before it could take over", ErrUnhealthy, c.Name)
		case st.Health == engine.HealthUnhealthy:
			return false, fmt.Errorf("%w: %s reports unhealthy", ErrUnhealthy, c.Name)
		}
		return st.Health == engine.HealthHealthy || (st.Health == "" && seen >= polls), nil
	}
	late := func() error {
		return fmt.Errorf("%w: %s not ready to take over after %s", ErrUnhealthy, last.Name, max(timeout, window))
	}
	if err := u.timing().poll(ctx, max(timeout, window), check, late); err != nil {
		return x.fail(ctx, []string{id}, err)
	}
	u.logf("app %s: %s is ready to take over", m.App, last.Name)
	return nil
}

// waitHealthy watches the new set for the health window: each container
// must keep running without a restart (a service that another waits on to
// complete may exit with code 0 instead), and those with a health check
// must turn healthy before the health timeout. On failure it records the
// evidence of the containers that failed.
func (x *deployment) waitHealthy(ctx context.Context) error {
	u, m := x.u, x.m
	window, timeout := u.timing().healthLimits(m)
	ws, err := x.newSet(ctx)
	if err != nil || len(ws) == 0 {
		return err // none: the app is being removed, nothing to watch
	}
	u.logf("app %s: watching %d container(s) for %s (health timeout %s)", m.App, len(ws), window, timeout)
	start := time.Now()
	check := func() (bool, error) {
		allHealthy := true
		for _, w := range ws {
			if err := x.watch(ctx, w, start); err != nil {
				return false, err
			}
			allHealthy = allHealthy && w.healthy
		}
		return allHealthy && time.Since(start) >= window, nil
	}
	// The limit is at least the window: past it, some container is still
	// not healthy.
	late := func() error {
		var slow, ids []string
		for _, w := range ws {
			if !w.healthy {
				slow, ids = append(slow, w.c.Name), append(ids, w.c.ID)
			}
		}
		return x.fail(ctx, ids, fmt.Errorf("%w: %v not healthy after %s", ErrUnhealthy, slow, timeout))
	}
	return u.timing().poll(ctx, max(timeout, window), check, late)
}

// healthWatch is one container of the new set under waitHealthy.
type healthWatch struct {
	c        engine.Container
	oneShot  bool
	restarts int
	started  time.Time
	healthy  bool
}

// newSet is the new set: the containers this deployment created, and the
// old ones it keeps, which must keep running too.
func (x *deployment) newSet(ctx context.Context) ([]*healthWatch, error) {
	all, err := x.u.Engine.ListContainers(ctx, map[string]string{LabelApp: x.m.App})
	if err != nil {
		return nil, err
	}
	var ws []*healthWatch
	for _, c := range all {
		if c.Labels[LabelDeployment] == x.d.ID || x.d.kept(c.ID) {
			ws = append(ws, &healthWatch{c: c, restarts: -1, oneShot: x.m.OneShot(c.Labels[LabelService])})
		}
	}
	return ws, nil
}

// watch looks at w's container once: an error when it failed, else
// w.healthy tells whether it is healthy (start is when watching began).
func (x *deployment) watch(ctx context.Context, w *healthWatch, start time.Time) error {
	c, err := x.u.Engine.InspectContainer(ctx, w.c.ID)
	if err != nil {
		return err
	}
	failed := func(err error) error { return x.fail(ctx, []string{c.ID}, err) }
	st := c.State
	if w.restarts < 0 {
		w.restarts, w.started = st.RestartCount, st.StartedAt
	}
	switch {
	case w.oneShot && !st.Running && !st.Restarting && st.ExitCode == 0:
		// Finished its job, as what waits for it expects.
		w.healthy = true
		return nil
	case !st.Running && !st.Restarting:
		return failed(fmt.Errorf("%w: %s exited with code %d", ErrUnhealthy, c.Name, st.ExitCode))
	case st.Restarting || st.RestartCount != w.restarts || !st.StartedAt.Equal(w.started):
		if st.ExitCode != 0 {
			return failed(fmt.Errorf("%w: %s exited with code %d and was restarted", ErrUnhealthy, c.Name, st.ExitCode))
		}
		return failed(fmt.Errorf("%w: %s restarted", ErrUnhealthy, c.Name))
	case st.Health == engine.HealthUnhealthy:
		return failed(fmt.Errorf("%w: %s reports unhealthy", ErrUnhealthy, c.Name))
	}
	if !w.healthy && (st.Health == "" || st.Health == engine.HealthHealthy) {
		w.healthy = true
		if st.Health != "" {
			x.logf("%s is healthy after %s", c.Name, time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}
