package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/journal"
)

// A device whose state sits in the old default (/var/lib/mender-docker)
// gets a /data partition and the new module mid-deployment: the state
// moves over, and the rollback that follows still brings back the
// previous set from the moved journal, on the real engine. The roots are
// temporary directories. (Files archives are mounted from the state
// directory by path: a set created before the move would lose them.)
func TestStateDirMoveMidDeployment(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	root := t.TempDir()
	data, legacy := filepath.Join(root, "data"), filepath.Join(root, "var", "lib", "mender-docker")
	w.d.U.Config.StateDir = config.DefaultStateDir(data, legacy)
	require.Equal(t, legacy, w.d.U.Config.StateDir, "no /data yet")

	web1, web2 := w.version("web1"), w.version("web2")
	deploy := func(name, web string, commit bool) {
		t.Helper()
		w.d.Artifact(name, w.meta(web, "500ms"))
		require.NoError(t, w.d.Run("Download"), w.d.Log.String())
		require.NoError(t, w.d.Run("ArtifactInstall"), w.d.Log.String())
		if commit {
			require.NoError(t, w.d.Run("ArtifactCommit"), w.d.Log.String())
			require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
		}
	}
	web := func() string {
		l, err := w.d.Eng.ListContainers(ctx, map[string]string{module.LabelApp: w.app})
		require.NoError(t, err)
		for _, c := range l {
			if c.State.Running {
				return c.Image
			}
		}
		return ""
	}

	deploy("shop-1", web1, true)
	deploy("shop-2", web2, false)
	assert.Equal(t, web2, web())

	// The OS update brings /data and the new default.
	require.NoError(t, os.Mkdir(data, 0o755))
	to := config.DefaultStateDir(data, legacy)
	require.NoError(t, journal.Move(ctx, legacy, to, time.Second, w.d.Log))
	w.d.U.Config.StateDir = to
	_, err := os.Stat(legacy)
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
	assert.Equal(t, web1, web(), "the previous set is back")

	deploy("shop-2", web2, true)
	assert.Equal(t, web2, web())
}
