package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Hostile artifacts through the real clients: an app name that climbs out
// of the state directory, and a bind mount through a symbolic link out of
// the allowed paths. Each fails, and the device (containers, files, the
// installed artifact) stays exactly as it was.
func TestRefusedThroughClient(t *testing.T) { eachClient(t, testRefusedThroughClient) }

func testRefusedThroughClient(t *testing.T, cl client) {
	allowed := t.TempDir()
	require.NoError(t, os.Symlink("/", filepath.Join(allowed, "escape")))
	s := newSandbox(t, cl, "", map[string]any{"policy": map[string]any{"bind_mount_paths": []string{allowed}}})
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	v1 := fixture.MustPush(t, reg, "e2e/refuse", "v1", fixture.Image{Version: "v1"})
	v2 := fixture.MustPush(t, reg, "e2e/refuse", "v2", fixture.Image{Version: "v2"})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		e.RemoveImage(ctx, v1)
		e.RemoveImage(ctx, v2)
	})
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	out, err := s.mender("install", s.artifact("refuse-v1", fmt.Sprintf(`{"containers":[%q],"run_args":"--network none -v %s:/data"}`, v1, allowed)))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	before := mine()
	require.Len(t, before, 1)

	// "../plant" next to the state directory: Cleanup used to delete it.
	plant := s.path("plant")
	require.NoError(t, os.MkdirAll(plant, 0o755))
	s.write("plant/deployment.json", `{"phase":"downloaded","app":"plant"}`)
	for name, meta := range map[string]string{
		"app-climbs-out": fmt.Sprintf(`{"app":"../plant","containers":[%q],"run_args":"--network none"}`, v2),
		"bind-escapes":   fmt.Sprintf(`{"containers":[%q],"run_args":"--network none -v %s:/host"}`, v2, filepath.Join(allowed, "escape")),
	} {
		out, err := s.mender("install", s.artifact(name, meta))
		assert.Error(t, err, "%s must be refused:\n%s", name, out)
		assert.Equal(t, before, mine(), name)
		assert.Equal(t, "refuse-v1", s.showArtifact(), name)
		has, herr := e.HasImage(ctx, v2)
		require.NoError(t, herr)
		assert.False(t, has, "%s: nothing pulled", name)
	}
	_, err = os.Stat(filepath.Join(plant, "deployment.json"))
	assert.NoError(t, err, "a file outside the state directory survived")
}
