package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// A device whose state sits in the old default (/var/lib/mender-docker)
// gets a /data partition and the new module mid-deployment: the state
// moves over, and the rollback that follows still brings back the
// previous Compose project (its journal names the project by path), on
// the real engine. The roots are temporary directories.
func TestStateDirMoveMidDeployment(t *testing.T) {
	_, err := module.FindComposer(nil)
	fixture.Need(t, err == nil, "Docker Compose (docker-compose)")
	w := newWorld(t)
	ctx := context.Background()
	t.Cleanup(func() { enginetest.RemoveLabelled(t, w.d.Eng, module.ComposeProjectLabel, w.app) })
	root := t.TempDir()
	data, legacy := filepath.Join(root, "data"), filepath.Join(root, "var", "lib", "mender-docker")
	w.d.U.Config.StateDir = config.DefaultStateDir(data, legacy)
	require.Equal(t, legacy, w.d.U.Config.StateDir, "no /data yet")

	web1, web2 := w.version("web1"), w.version("web2")
	deploy := func(name, web string, commit bool) {
		t.Helper()
		compose := fmt.Sprintf("services:\n  web:\n    image: %s\n    network_mode: none\n", web)
		w.d.Artifact(name, fmt.Sprintf(`{"app":%q,"health":{"window":"500ms"},"compose":{"project":"project.tar","images":[%q]}}`, w.app, web))
		require.NoError(t, os.MkdirAll(filepath.Join(w.d.Files, "files"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(w.d.Files, "files", "project.tar"), projectTar(t, map[string]string{"docker-compose.yml": compose}), 0o644))
		require.NoError(t, w.d.Run("Download"), w.d.Log.String())
		require.NoError(t, w.d.Run("ArtifactInstall"), w.d.Log.String())
		if commit {
			require.NoError(t, w.d.Run("ArtifactCommit"), w.d.Log.String())
			require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
		}
	}
	web := func() string {
		l, err := w.d.Eng.ListContainers(ctx, map[string]string{module.ComposeProjectLabel: w.app})
		require.NoError(t, err)
		require.Len(t, l, 1)
		return l[0].Image
	}

	deploy("shop-1", web1, true)
	deploy("shop-2", web2, false)
	assert.Equal(t, web2, web())

	// The OS update brings /data and the new default.
	require.NoError(t, os.Mkdir(data, 0o755))
	to := config.DefaultStateDir(data, legacy)
	require.NoError(t, module.MoveStateDir(ctx, legacy, to, time.Second, w.d.Log))
	w.d.U.Config.StateDir = to
	_, err = os.Stat(legacy)
	require.ErrorIs(t, err, os.ErrNotExist)

	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
	assert.Equal(t, web1, web(), "the previous project is back, from the moved state directory")

	deploy("shop-2", web2, true)
	assert.Equal(t, web2, web())
	projects, err := os.ReadDir(filepath.Join(to, w.app, "projects"))
	require.NoError(t, err)
	assert.Len(t, projects, 1, "commit removed the previous project from the new directory")
}
