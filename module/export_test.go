package module

import "context"

// For the external tests: the lifecycle table and drive, by name.

// LifecycleGoals are the names of the goals of the phase table.
func LifecycleGoals() []string { return goalNames[:] }

// LifecycleHas tells whether the phase table has a step for (phase, goal).
func LifecycleHas(phase Phase, g string) bool {
	row, ok := lifecycle[phase]
	return ok && row[goalOf(g)].do != nil
}

// Drive is drive with the goal by name.
func (u *Updater) Drive(ctx context.Context, app, g string) error {
	return u.drive(ctx, app, goalOf(g))
}

func goalOf(name string) goal {
	for g := range numGoals {
		if goalNames[g] == name {
			return g
		}
	}
	panic("no goal " + name)
}

// JournalPhases are the phases the journal check accepts.
func JournalPhases() []Phase { return phases }

// LifecycleRows are the phases the phase table has a row for.
func LifecycleRows() []Phase {
	var out []Phase
	for p := range lifecycle {
		out = append(out, p)
	}
	return out
}
