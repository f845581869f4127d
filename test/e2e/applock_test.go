package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Through the real client: an app that holds its update lock (a flock on
// <app_lock_dir>/<app>/lock, the app's own directory bind-mounted into its
// container as /run/mender-docker) past app_lock_timeout makes the install fail with its
// container untouched, and the client rolls back cleanly.
func TestAppLockThroughClient(t *testing.T) { eachClient(t, testAppLockThroughClient) }

func testAppLockThroughClient(t *testing.T, cl client) {
	lockDir := t.TempDir()
	s := newSandbox(t, cl, "", map[string]any{"app_lock_dir": lockDir, "app_lock_timeout": "1s"})
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	v1 := fixture.MustPush(t, reg, "e2e/locked", "v1", fixture.Image{Version: "v1", Args: []string{"-lock", "/run/mender-docker/lock"}})
	v2 := fixture.MustPush(t, reg, "e2e/locked", "v2", fixture.Image{Version: "v2"})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		e.RemoveImage(ctx, v1)
		e.RemoveImage(ctx, v2)
	})
	meta := func(ref string) string {
		return fmt.Sprintf(`{"containers":[%q],"run_args":"--network none -v %s:/run/mender-docker"}`, ref, filepath.Join(lockDir, s.app))
	}
	out, err := s.mender("install", s.artifact("locked-1", meta(v1)))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	fixture.WaitLocked(t, filepath.Join(lockDir, s.app, "lock"))
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	before := mine()

	out, err = s.mender("install", s.artifact("locked-2", meta(v2)))
	require.Error(t, err, out)
	assert.Contains(t, out, "the app holds its update lock")
	assert.Contains(t, out, cl.rolledBack())
	assert.Equal(t, before, mine(), "the app's container ran on, untouched")
	assert.Equal(t, "locked-1", s.showArtifact())
}
