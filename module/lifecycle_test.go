package module_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// phases are every journal phase, and "" for no deployment.
var phases = []module.Phase{"", module.PhaseDownloading, module.PhaseDownloaded, module.PhaseInstalling, module.PhaseInstalled,
	module.PhaseCommitting, module.PhaseRollingBack, module.PhaseRolledBack, module.PhaseReconfigured}

// outcome is what one cell of the phase table does: the phase it leaves
// ("" for no journal), the error it gives (nil for none), and the set
// that runs after it ("old", "new").
type outcome struct {
	after module.Phase
	err   error // matched with errors.Is, or by text when errText
	text  string
	runs  string
}

// cells are the outcomes of the phase × goal table, as the code had them
// before the table was one (six switches with their defaults).
var cells = map[module.Phase]map[string]outcome{
	"": {
		"install": {err: module.ErrNoDeployment, runs: "old"}, "commit": {runs: "old"}, "rollback": {runs: "old"},
		"settle": {runs: "old"}, "cleanup": {runs: "old"}, "recover": {runs: "old"}, "supersede": {runs: "old"},
	},
	module.PhaseDownloading: {
		"install":  {after: module.PhaseDownloading, err: module.ErrNoDeployment, runs: "old"},
		"commit":   {after: module.PhaseDownloading, text: "cannot commit in phase downloading", runs: "old"},
		"rollback": {after: module.PhaseRolledBack, runs: "old"}, "settle": {after: module.PhaseDownloading, runs: "old"},
		"cleanup": {runs: "old"}, "recover": {runs: "old"}, "supersede": {runs: "old"},
	},
	module.PhaseDownloaded: {
		"install":  {after: module.PhaseInstalled, runs: "new"},
		"commit":   {after: module.PhaseDownloaded, text: "cannot commit in phase downloaded", runs: "old"},
		"rollback": {after: module.PhaseRolledBack, runs: "old"}, "settle": {after: module.PhaseDownloaded, runs: "old"},
		"cleanup": {runs: "old"}, "recover": {runs: "old"}, "supersede": {runs: "old"},
	},
	module.PhaseInstalling: {
		"install":  {after: module.PhaseInstalled, runs: "new"},
		"commit":   {after: module.PhaseInstalling, text: "cannot commit in phase installing", runs: "new"},
		"rollback": {after: module.PhaseRolledBack, runs: "old"}, "settle": {after: module.PhaseRolledBack, runs: "old"},
		"cleanup": {runs: "old"}, "recover": {runs: "old"}, "supersede": {runs: "old"},
	},
	module.PhaseInstalled: {
		"install": {after: module.PhaseInstalled, runs: "new"}, "commit": {runs: "new"},
		"rollback": {after: module.PhaseRolledBack, runs: "old"}, "settle": {after: module.PhaseRolledBack, runs: "old"},
		"cleanup": {after: module.PhaseInstalled, runs: "new"}, "recover": {after: module.PhaseInstalled, runs: "new"},
		"supersede": {runs: "old"},
	},
	module.PhaseCommitting: {
		"install":  {after: module.PhaseCommitting, text: "cannot install in phase committing", runs: "new"},
		"commit":   {runs: "new"},
		"rollback": {err: module.ErrCommitted, runs: "new"},
		"settle":   {runs: "new"}, "cleanup": {runs: "new"}, "recover": {runs: "new"}, "supersede": {runs: "new"},
	},
	module.PhaseRollingBack: {
		"install":  {after: module.PhaseRollingBack, text: "cannot install in phase rolling-back", runs: "new"},
		"commit":   {after: module.PhaseRollingBack, text: "cannot commit in phase rolling-back", runs: "new"},
		"rollback": {after: module.PhaseRolledBack, runs: "old"}, "settle": {after: module.PhaseRolledBack, runs: "old"},
		"cleanup": {runs: "old"}, "recover": {runs: "old"}, "supersede": {runs: "old"},
	},
	module.PhaseRolledBack: {
		"install":  {after: module.PhaseRolledBack, text: "cannot install in phase rolled-back", runs: "old"},
		"commit":   {after: module.PhaseRolledBack, text: "cannot commit in phase rolled-back", runs: "old"},
		"rollback": {after: module.PhaseRolledBack, runs: "old"}, "settle": {after: module.PhaseRolledBack, runs: "old"},
		"cleanup": {runs: "old"}, "recover": {runs: "old"}, "supersede": {runs: "old"},
	},
	// A healthy reconfiguration: every goal but rollback commits it.
	module.PhaseReconfigured: {
		"install": {after: module.PhaseReconfigured, runs: "new"}, "commit": {runs: "new"},
		"rollback": {after: module.PhaseRolledBack, runs: "old"}, "settle": {runs: "new"},
		"cleanup": {runs: "new"}, "recover": {runs: "new"}, "supersede": {runs: "new"},
	},
}

// TestLifecycle takes every cell of the phase table on the in-memory
// engine: a device with app-1 installed and app-2's deployment left in the
// phase (as a killed run leaves it), then drive to the goal. A phase or a
// goal without a cell (in the table or here) fails.
func TestLifecycle(t *testing.T) {
	for _, p := range phases {
		for _, g := range module.LifecycleGoals() {
			name := string(p)
			if name == "" {
				name = "none"
			}
			t.Run(g+"/"+name, func(t *testing.T) {
				t.Parallel()
				require.True(t, module.LifecycleHas(p, g), "the phase table has no step for goal %s in phase %q", g, p)
				want, ok := cells[p][g]
				require.True(t, ok, "TestLifecycle has no outcome for goal %s in phase %q", g, p)
				d, journal := deviceInPhase(t, p)
				old := d.snapshot()
				err := d.u.Drive(context.Background(), "default", g)
				switch {
				case want.err != nil:
					require.ErrorIs(t, err, want.err)
				case want.text != "":
					require.ErrorContains(t, err, want.text)
				default:
					require.NoError(t, err, d.Log.String())
				}
				assert.Equal(t, want.after, journalPhase(t, journal), "phase after")
				now := d.snapshot()
				images := map[string]bool{} // of the running containers
				for _, c := range now {
					if c.Running {
						images[c.Image] = true
					}
				}
				switch want.runs {
				case "old":
					if p == module.PhaseInstalling || p == module.PhaseInstalled || p == module.PhaseCommitting || p == module.PhaseRollingBack || p == module.PhaseReconfigured {
						assert.True(t, images[d.v1] && !images[d.v2], "the old set runs: %v", now)
					} else {
						assert.Equal(t, old, now, "nothing changed")
					}
				case "new":
					assert.True(t, images[d.v2] && !images[d.v1], "the new set runs: %v", now)
				}
			})
		}
	}
}

type phaseDevice struct {
	*device
	v1, v2 string
}

// deviceInPhase is a device with app-1 (web v1) installed and committed,
// and app-2 (web v2) deployed up to phase p: by the client's states up to
// the nearest phase they leave, then the journal's phase set as a kill
// between its save and the next leaves it. It returns the journal's path.
func deviceInPhase(t *testing.T, p module.Phase) (*phaseDevice, string) {
	d := newDevice(t)
	v1 := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(v1), true))
	v2 := d.image("web", "2", memengine.Behavior{})
	journal := filepath.Join(d.u.Config.StateDir, "default", "deployment.json")
	pd := &phaseDevice{device: d, v1: v1, v2: v2}
	if p == "" {
		return pd, journal
	}
	d.artifact("app-2", meta(v2))
	require.NoError(t, d.run("Download"))
	switch p {
	case module.PhaseDownloading:
		setPhase(t, journal, p)
	case module.PhaseInstalling, module.PhaseInstalled, module.PhaseCommitting, module.PhaseReconfigured:
		require.NoError(t, d.run("ArtifactInstall"))
		setPhase(t, journal, p)
	case module.PhaseRollingBack:
		// Killed after the journal said so, before anything was removed.
		require.NoError(t, d.run("ArtifactInstall"))
		setPhase(t, journal, p)
	case module.PhaseRolledBack:
		require.NoError(t, d.run("ArtifactInstall"))
		require.NoError(t, d.run("ArtifactRollback"))
	}
	require.Equal(t, p, journalPhase(t, journal))
	return pd, journal
}

func journalPhase(t *testing.T, path string) module.Phase {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	require.NoError(t, err)
	var j struct{ Phase module.Phase }
	require.NoError(t, json.Unmarshal(b, &j))
	return j.Phase
}

func setPhase(t *testing.T, path string, p module.Phase) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var j map[string]any
	require.NoError(t, json.Unmarshal(b, &j))
	j["phase"] = string(p)
	b, err = json.Marshal(j)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// TestPhaseRows: the phases the journal check accepts are the rows of the
// phase table (and "" for no deployment), and those this test drives.
func TestPhaseRows(t *testing.T) {
	want := append([]module.Phase{""}, module.JournalPhases()...)
	assert.ElementsMatch(t, want, module.LifecycleRows())
	assert.ElementsMatch(t, want, phases)
}
