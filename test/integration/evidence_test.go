package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// A new container that exits inside the health window: the deployment log
// gets the last lines of its own log before rollback removes it, one line
// each and without "\r" (the shell format runs containers with a TTY), and
// a copy stays in the app's state directory.
func TestFailedUpdateLeavesEvidence(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	bad := w.version("v2-exits", "-exit-after", "500ms", "-code", "3")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())

	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%t", tty), func(t *testing.T) {
			meta := w.crashMeta(bad, false)
			if tty {
				meta = strings.Replace(meta, `"run_args":"`, `"run_args":"-t `, 1)
			}
			before := w.d.Log.String()
			err := w.d.Install("app-v2", meta, true)
			require.ErrorIs(t, err, module.ErrUnhealthy)
			log := strings.TrimPrefix(w.d.Log.String(), before)
			t.Log(log)
			name := w.app + "-web"
			assert.Contains(t, log, name+" | testapp v2-exits started\n")
			assert.Contains(t, log, name+" | exiting with code 3\n")
			assert.Contains(t, log, "exit code 3")
			assert.NotContains(t, log, "\r")
			i := strings.Index(log, name+" | exiting with code 3")
			j := strings.Index(log, "removed new container "+name)
			assert.True(t, i >= 0 && j > i, "evidence before the rollback removes the container")
			files, err := filepath.Glob(filepath.Join(w.d.U.Config.StateDir, w.app, "failures", "*-app-v2.log"))
			require.NoError(t, err)
			require.NotEmpty(t, files)
			kept, err := os.ReadFile(files[len(files)-1])
			require.NoError(t, err)
			assert.Contains(t, string(kept), name+" | exiting with code 3\n")
			assert.Contains(t, log, "evidence kept in "+files[len(files)-1])
		})
	}
}

// A container its health check calls unhealthy: the probe's last output
// (here the engine's own error: the image has no shell for --health-cmd)
// goes to the log on one line.
func TestUnhealthyEvidenceHasProbeOutput(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())
	meta := strings.Replace(w.meta(w.version("v2"), "10s"), `"run_args":"`, `"run_args":"--health-cmd true --health-interval 200ms --health-retries 1 `, 1)
	err := w.d.Install("app-v2", meta, true)
	require.ErrorIs(t, err, module.ErrUnhealthy)
	assert.Contains(t, err.Error(), "reports unhealthy")
	log := w.d.Log.String()
	t.Log(log)
	assert.Regexp(t, `last health probe at \S+: exit code [^0]\d*: .*/bin/sh`, log)
	assert.NotContains(t, log, "\r")
}

// The state directory keeps the evidence of the last few failed
// deployments, not all of them.
func TestEvidenceIsBounded(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	bad := w.version("v2-exits", "-exit-after", "100ms", "-code", "3")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())
	for i := 0; i < 7; i++ {
		require.ErrorIs(t, w.d.Install(fmt.Sprintf("app-bad-%d", i), w.crashMeta(bad, false), true), module.ErrUnhealthy)
	}
	files, err := filepath.Glob(filepath.Join(w.d.U.Config.StateDir, w.app, "failures", "*.log"))
	require.NoError(t, err)
	require.Len(t, files, 5)
	assert.Contains(t, files[4], "app-bad-6")
	assert.Contains(t, files[0], "app-bad-2")
	_ = fixture.RandHex
}
