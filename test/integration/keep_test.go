package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// TestUnchangedServiceKept updates one of two services on the real engine:
// the other service's container is the same container throughout, never
// stopped or restarted, whether the update is rolled back or committed.
func TestUnchangedServiceKept(t *testing.T) {
	w := newWorld(t)
	web1, web2 := w.version("v1"), w.version("v2")
	db := w.push("db", fixture.Image{Version: "db1"})
	dir := w.t.TempDir()
	meta := func(web string) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"500ms","timeout":"20s"},"services":[`+
			`{"name":"web","image":%q,"run_args":"--network none --restart unless-stopped"},`+
			`{"name":"db","image":%q,"run_args":"--network none --restart unless-stopped -v %s:/data -e MODE=primary"}]}`,
			w.app, web, db, dir)
	}
	inspect := func(name string) engine.Container {
		t.Helper()
		for _, s := range w.snapshot() {
			if s.Name == name {
				c, err := w.d.Eng.InspectContainer(context.Background(), s.ID)
				require.NoError(t, err)
				return c
			}
		}
		t.Fatalf("no container %s in %v", name, w.snapshot())
		return engine.Container{}
	}
	same := func(was engine.Container, msg string) {
		t.Helper()
		c := inspect(w.app + "-db")
		assert.Equal(t, was.ID, c.ID, msg)
		assert.True(t, c.State.Running, msg)
		assert.True(t, was.State.StartedAt.Equal(c.State.StartedAt), "%s: restarted (%s, was %s)", msg, c.State.StartedAt, was.State.StartedAt)
		assert.Equal(t, was.State.RestartCount, c.State.RestartCount, msg)
	}

	require.NoError(t, w.d.Install("app-v1", meta(web1), true), w.d.Log.String())
	before := w.snapshot()
	require.Len(t, before, 2)
	kept := inspect(w.app + "-db")
	web := inspect(w.app + "-web")
	time.Sleep(10 * time.Millisecond)

	require.NoError(t, w.d.Install("app-v2", meta(web2), false), w.d.Log.String())
	same(kept, "installed")
	assert.Len(t, w.snapshot(), 3, "new web, previous web, kept db")
	assert.Equal(t, web2, inspect(w.app+"-web").Image)
	assert.Equal(t, web.ID, inspect(w.app+"-web_prev").ID)
	require.NoError(t, w.d.Run("ArtifactRollback"))
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, before, w.snapshot())
	same(kept, "rolled back")

	require.NoError(t, w.d.Install("app-v2", meta(web2), true), w.d.Log.String())
	after := w.snapshot()
	require.Len(t, after, 2)
	same(kept, "committed")
	assert.Equal(t, web2, inspect(w.app+"-web").Image)
	assert.True(t, w.has(db))

	// Nothing changed: both kept, and the artifact commits.
	web = inspect(w.app + "-web")
	require.NoError(t, w.d.Install("app-v3", meta(web2), true), w.d.Log.String())
	assert.Equal(t, after, w.snapshot())
	same(kept, "nothing changed")
	assert.True(t, web.State.StartedAt.Equal(inspect(w.app+"-web").State.StartedAt), "web not restarted")
	w.checkUnrelated()
}
