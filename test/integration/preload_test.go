package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/cli"
	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// A preload directory, as an OS image would ship it, starts the app on a
// fresh engine with no registry; a second run does nothing; an update after
// it rolls back to the preloaded set.
func TestPreload(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	spec := fixture.Image{Version: "pre-" + w.app, PadBytes: 1 << 20, PadSeed: int64(len(w.app)) + 1000}
	data, id, err := fixture.Archive(spec, []string{"127.0.0.1:9/preload/web:1"}, nil)
	require.NoError(t, err)
	archive := filepath.Join(dir, "web.tar")
	require.NoError(t, os.WriteFile(archive, data, 0o644))
	t.Cleanup(func() { w.d.Eng.RemoveImage(ctx, id) })
	has, _ := w.d.Eng.HasImage(ctx, id)
	require.False(t, has, "the engine starts without the image")

	pre := filepath.Join(dir, "preload")
	var stdout, stderr strings.Builder
	require.Equal(t, 0, cli.Main([]string{"preload", "-o", pre, "--app", w.app, "-n", "factory-1", "--health-window", "500ms",
		"--service", "web=docker-archive:" + archive + ",--network none --restart always"}, &stdout, &stderr), stderr.String())

	require.NoError(t, w.d.U.Preload(ctx, pre), w.d.Log.String())
	preloaded := w.snapshot()
	require.Len(t, preloaded, 1)
	assert.Equal(t, fixture.Snap{ID: preloaded[0].ID, Name: w.app + "-web", Image: id, RestartPolicy: "always", Running: true}, preloaded[0])

	require.NoError(t, w.d.U.Preload(ctx, pre), "second boot")
	assert.Equal(t, preloaded, w.snapshot(), "a second run changes nothing")
	assert.Contains(t, w.d.Log.String(), "nothing to preload")

	v2 := w.version("v2")
	require.NoError(t, w.d.Install("app-v2", w.meta(v2, "300ms"), false), w.d.Log.String())
	require.NoError(t, w.d.Run("ArtifactRollback"))
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, preloaded, w.snapshot(), "rollback restores the preloaded set")

	require.NoError(t, w.d.Install("app-v2", w.meta(v2, "300ms"), true))
	c, err := w.d.Eng.InspectContainer(ctx, w.snapshot()[0].ID)
	require.NoError(t, err)
	assert.Equal(t, "app-v2", c.Labels[module.LabelArtifact])
	require.NoError(t, w.d.U.Preload(ctx, pre), "a later boot after an update")
	assert.Equal(t, v2, w.snapshot()[0].Image, "the preload does not come back")
	w.checkUnrelated()
}
