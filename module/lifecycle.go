package module

import (
	"context"
	"fmt"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// goal is what an entry point wants of an app's deployment; drive reaches
// it from whatever phase the journal is in, by the steps of lifecycle.
type goal int

const (
	goalInstall   goal = iota // ArtifactInstall: the new set healthy
	goalCommit                // ArtifactCommit: the old set gone
	goalRollback              // ArtifactRollback: the old set back
	goalSettle                // ArtifactFailure: a consistent end after a kill
	goalCleanup               // Cleanup: a deployment that did not stick tidied away
	goalRecover               // Recover (boot): like cleanup, with its own log
	goalSupersede             // Download: an earlier deployment out of the way, even one waiting for commit
	numGoals
)

var goalNames = [numGoals]string{"install", "commit", "rollback", "settle", "cleanup", "recover", "supersede"}

func (g goal) String() string { return goalNames[g] }

// phaseNone is the phase of an app with no deployment in flight (no
// journal).
const phaseNone Phase = ""

// step is the work of one cell of lifecycle. It saves the journal itself
// at each point a killed run must be able to resume from, and sets x.d to
// nil when it removes the journal.
type step func(ctx context.Context, x *deployment) error

// cell is one (phase, goal) entry: its step, and whether the goal is
// reached once it is done (stop) or drive takes the cell of the phase the
// step left (then).
type cell struct {
	do    step
	again bool
}

func stop(s step) cell { return cell{do: s} }
func then(s step) cell { return cell{do: s, again: true} }

// seq is the steps one after another, as one.
func seq(steps ...step) step {
	return func(ctx context.Context, x *deployment) error {
		for _, s := range steps {
			if err := s(ctx, x); err != nil {
				return err
			}
		}
		return nil
	}
}

// lifecycle is the phase × goal table: for every journal phase, what each
// goal does. A new phase is one more row (and one more of phases);
// TestLifecycle fails for a row that lacks a goal, TestPhaseRows for a
// phase without a row. Cells marked "default" are those that, before the
// table, fell into a switch's default case.
var lifecycle = map[Phase][numGoals]cell{
	phaseNone: {
		goalInstall:   stop(refuseUndownloaded),
		goalCommit:    stop(says("nothing to commit")),
		goalRollback:  stop(says("nothing to roll back")),
		goalSettle:    stop(nothing),
		goalCleanup:   stop(nothing),
		goalRecover:   stop(nothing),
		goalSupersede: stop(nothing),
	},
	PhaseDownloading: {
		goalInstall:   stop(refuseUndownloaded),
		goalCommit:    stop(refuseCommit), // default
		goalRollback:  stop(markRolledBack),
		goalSettle:    stop(nothing), // default
		goalCleanup:   stop(tidy),    // default
		goalRecover:   stop(seq(logUndo, tidy)),
		goalSupersede: stop(seq(logUndo, tidy)),
	},
	PhaseDownloaded: {
		goalInstall:   then(installFrom(beginInstall)),
		goalCommit:    stop(refuseCommit), // default
		goalRollback:  stop(markRolledBack),
		goalSettle:    stop(nothing), // default
		goalCleanup:   stop(tidy),    // default
		goalRecover:   stop(seq(logUndo, tidy)),
		goalSupersede: stop(seq(logUndo, tidy)),
	},
	PhaseInstalling: {
		goalInstall:   then(installFrom(resumeInstall)),
		goalCommit:    stop(refuseCommit), // default
		goalRollback:  stop(rollBack),
		goalSettle:    then(rollBack),
		goalCleanup:   then(rollBack),
		goalRecover:   stop(seq(logUndo, rollBack, tidy)),
		goalSupersede: stop(seq(logUndo, rollBack, tidy)),
	},
	PhaseInstalled: {
		goalInstall:   stop(parsed),
		goalCommit:    stop(commit),
		goalRollback:  stop(rollBack),
		goalSettle:    then(rollBack),
		goalCleanup:   stop(nothing), // waits for commit
		goalRecover:   stop(nothing), // waits for commit
		goalSupersede: stop(seq(logNeverCommitted, rollBack, tidy)),
	},
	PhaseCommitting: {
		goalInstall:   stop(installFrom(refuseInstall)), // default
		goalCommit:    stop(commit),
		goalRollback:  stop(seq(commit, refuseCommitted)),
		goalSettle:    stop(commit),
		goalCleanup:   stop(commit),
		goalRecover:   stop(seq(logFinishCommit, commit)),
		goalSupersede: stop(seq(logFinishCommit, commit)),
	},
	PhaseRollingBack: {
		goalInstall:   stop(installFrom(refuseInstall)), // default
		goalCommit:    stop(refuseCommit),               // default
		goalRollback:  stop(rollBack),                   // default
		goalSettle:    then(rollBack),
		goalCleanup:   then(rollBack),
		goalRecover:   stop(seq(logUndo, rollBack, tidy)),
		goalSupersede: stop(seq(logUndo, rollBack, tidy)),
	},
	PhaseRolledBack: {
		goalInstall:   stop(installFrom(refuseInstall)), // default
		goalCommit:    stop(refuseCommit),               // default
		goalRollback:  stop(markRolledBack),
		goalSettle:    stop(nothing), // default
		goalCleanup:   stop(tidy),    // default
		goalRecover:   stop(seq(logUndo, tidy)),
		goalSupersede: stop(seq(logUndo, tidy)),
	},
	// A reconfiguration's new set proved healthy in the health window, and
	// no Mender client will ever commit it: every goal that finds it here
	// (recover after a kill, the next reconfigure, the next Download)
	// commits it, as Reconfigure would have. Rolling back instead would
	// run a configuration that the device's values no longer ask for.
	PhaseReconfigured: {
		goalInstall:   stop(parsed),
		goalCommit:    stop(commit),
		goalRollback:  stop(rollBack),
		goalSettle:    stop(commit),
		goalCleanup:   stop(commit),
		goalRecover:   stop(seq(logFinishReconfigure, commit)),
		goalSupersede: stop(seq(logFinishReconfigure, commit)),
	},
}

// drive takes app's deployment to goal: it loads the journal once, then
// takes the cell of the phase it is in, until a cell reaches the goal.
func (u *Updater) drive(ctx context.Context, app string, g goal) error {
	d, err := u.journals().deployment(app)
	if err != nil {
		return err
	}
	x := &deployment{u: u, app: app, d: d}
	for {
		c := lifecycle[x.phase()][g]
		if err := c.do(ctx, x); err != nil {
			return err
		}
		if !c.again {
			return nil
		}
	}
}

// deployment is one app's deployment in flight as the steps see it: the
// journal entry (nil when there is none), its meta-data once parsed, and
// the Updater for I/O.
type deployment struct {
	u   *Updater
	app string
	d   *Deployment
	m   *spec.Meta
	err error // of parsing d.Meta, once m was asked for
	// What the engine showed (look): the app's containers by ID, and this
	// deployment's (new or kept) by service.
	byID, mine map[string]engine.Container
	// handOvers is the old container each hand-over service replaces;
	// held the names old containers keep until they are stopped.
	handOvers map[string]OldContainer
	held      map[string]bool
}

func (x *deployment) phase() Phase {
	if x.d == nil {
		return phaseNone
	}
	return x.d.Phase
}

// meta is the journal's meta-data, parsed the first time it is asked for.
func (x *deployment) meta() (*spec.Meta, error) {
	if x.m == nil && x.err == nil {
		x.m, x.err = x.u.journals().meta(x.d)
	}
	return x.m, x.err
}

func (x *deployment) logf(format string, a ...any) { x.u.logf(format, a...) }

func (x *deployment) save() error { return x.u.journals().save(x.d) }

// The small steps of the table; the large ones live beside what they do
// (install.go, commit.go, rollback.go, recover.go).

func nothing(context.Context, *deployment) error { return nil }

func says(what string) step {
	return func(_ context.Context, x *deployment) error {
		x.logf("app %s: %s", x.app, what)
		return nil
	}
}

func parsed(_ context.Context, x *deployment) error {
	_, err := x.meta()
	return err
}

func refuseUndownloaded(_ context.Context, x *deployment) error {
	return fmt.Errorf("app %s: %w: Download did not finish", x.app, ErrNoDeployment)
}

func refuseCommit(_ context.Context, x *deployment) error {
	return fmt.Errorf("app %s: cannot commit in phase %s", x.app, x.d.Phase)
}

func refuseCommitted(_ context.Context, x *deployment) error {
	return fmt.Errorf("app %s: %w; it is now committed", x.app, ErrCommitted)
}

func markRolledBack(_ context.Context, x *deployment) error {
	x.d.Phase = PhaseRolledBack
	return x.save()
}

func logUndo(_ context.Context, x *deployment) error {
	x.logf("app %s: undoing the interrupted deployment of %s (phase %s)", x.app, x.d.Artifact, x.d.Phase)
	return nil
}

func logNeverCommitted(_ context.Context, x *deployment) error {
	x.logf("app %s: deployment of %s was never committed; rolling it back first", x.app, x.d.Artifact)
	return nil
}

func logFinishCommit(_ context.Context, x *deployment) error {
	x.logf("app %s: finishing the interrupted commit of %s", x.app, x.d.Artifact)
	return nil
}

func logFinishReconfigure(_ context.Context, x *deployment) error {
	x.logf("app %s: committing the interrupted reconfiguration of %s (its new set was healthy)", x.app, x.d.Artifact)
	return nil
}
