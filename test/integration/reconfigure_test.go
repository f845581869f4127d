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
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// TestReconfigureOnEngine changes a device parameter of an installed app
// on the real engine: reconfigure replaces only the service that uses it
// (the other keeps its container and start time); a value that makes the
// service crash is rolled back to the old container, still running.
func TestReconfigureOnEngine(t *testing.T) {
	w := newWorld(t)
	web := w.version("v1")
	db := w.push("db", fixture.Image{Version: "db1"})
	// LIFE is how long web runs: "0" for ever, a short time crashes it.
	m := fmt.Sprintf(`{"app":%q,"params":{"SITE":"harbour","LIFE":"0"},"health":{"window":"1s","timeout":"20s"},"services":[`+
		`{"name":"web","image":%q,"run_args":"--network none --restart unless-stopped -e SITE=${SITE}","command":["-exit-after","${LIFE}"]},`+
		`{"name":"db","image":%q,"run_args":"--network none --restart unless-stopped"}]}`, w.app, web, db)
	require.NoError(t, w.d.Install("app-v1", m, true), w.d.Log.String())
	ctx := context.Background()
	inspect := func(service string) engine.Container {
		t.Helper()
		for _, s := range w.snapshot() {
			if s.Name == w.app+"-"+service {
				c, err := w.d.Eng.InspectContainer(ctx, s.ID)
				require.NoError(t, err)
				return c
			}
		}
		t.Fatalf("no container for %s in %v", service, w.snapshot())
		return engine.Container{}
	}
	same := func(was engine.Container, service, msg string) {
		t.Helper()
		c := inspect(service)
		assert.Equal(t, was.ID, c.ID, msg)
		assert.True(t, c.State.Running, msg)
		assert.True(t, was.State.StartedAt.Equal(c.State.StartedAt), "%s: %s restarted (%s, was %s)", msg, service, c.State.StartedAt, was.State.StartedAt)
	}
	params := func(v string) {
		require.NoError(t, os.WriteFile(filepath.Join(w.d.U.Config.ParamsDir, w.app+".json"), []byte(v), 0o644))
	}
	dbWas, webWas := inspect("db"), inspect("web")
	time.Sleep(10 * time.Millisecond)

	params(`{"SITE":"airport"}`)
	require.NoError(t, w.d.U.Reconfigure(ctx, []string{w.app}), w.d.Log.String())
	require.Len(t, w.snapshot(), 2, "the old web is gone")
	same(dbWas, "db", "reconfigured")
	webNow := inspect("web")
	assert.NotEqual(t, webWas.ID, webNow.ID, "web was replaced")
	assert.NotEqual(t, webWas.Labels[module.LabelConfigHash], webNow.Labels[module.LabelConfigHash], "created with the new value")
	assert.Equal(t, "app-v1", webNow.Labels[module.LabelArtifact])

	// Unchanged: nothing restarts.
	require.NoError(t, w.d.U.Reconfigure(ctx, []string{w.app}), w.d.Log.String())
	same(webNow, "web", "unchanged")
	same(dbWas, "db", "unchanged")

	// A value that crashes web: rolled back to the running container.
	before := w.snapshot()
	params(`{"SITE":"airport","LIFE":"100ms"}`)
	err := w.d.U.Reconfigure(ctx, []string{w.app})
	require.ErrorIs(t, err, module.ErrUnhealthy, w.d.Log.String())
	assert.Equal(t, before, w.snapshot(), "the old set, as it was")
	// The old web was stopped for the swap and started again: the same
	// container, running.
	back := inspect("web")
	assert.Equal(t, webNow.ID, back.ID, "the old web container is back")
	assert.True(t, back.State.Running)
	assert.Equal(t, webNow.Labels[module.LabelConfigHash], back.Labels[module.LabelConfigHash], "with the old configuration")
	same(dbWas, "db", "rolled back")
	_, err = os.Stat(filepath.Join(w.d.U.Config.StateDir, w.app, "deployment.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "no journal left")
	w.checkUnrelated()
}
