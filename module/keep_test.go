package module_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// byName inspects the device's containers by name.
func (d *device) byName() map[string]engine.Container {
	out := map[string]engine.Container{}
	for _, c := range d.containers() {
		full, err := d.eng.InspectContainer(context.Background(), c.ID)
		require.NoError(d.t, err)
		out[c.Name] = full
	}
	return out
}

// sameContainer checks that c is still the container was, never stopped
// or restarted since.
func sameContainer(t *testing.T, was, c engine.Container, msg string) {
	t.Helper()
	assert.Equal(t, was.ID, c.ID, msg)
	assert.True(t, c.State.Running, msg)
	assert.True(t, was.State.StartedAt.Equal(c.State.StartedAt), "%s: started again (%s, was %s)", msg, c.State.StartedAt, was.State.StartedAt)
}

func (d *device) installedArtifact() string {
	raw, err := os.ReadFile(filepath.Join(d.u.Config.StateDir, "default", "installed.json"))
	require.NoError(d.t, err)
	var in module.Installed
	require.NoError(d.t, json.Unmarshal(raw, &in))
	return in.Artifact
}

// An update that changes one of two services leaves the other's container
// alone: same ID, never stopped, across install, rollback and commit.
func TestUnchangedServiceKept(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	web1 := d.image("web", "1", memengine.Behavior{})
	web2 := d.image("web", "2", memengine.Behavior{})
	db1 := d.image("db", "1", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(web1, db1), true))
	before, snap := d.byName(), d.snapshot()
	db := before["default-db"]
	time.Sleep(2 * time.Millisecond) // a restart would show in StartedAt

	require.NoError(t, d.install("app-2", meta(web2, db1), false))
	now := d.byName()
	require.Len(t, now, 4, "new web, previous web, kept db, unrelated")
	sameContainer(t, db, now["default-db"], "installed")
	assert.Equal(t, web2, now["default-web"].Image)
	assert.True(t, now["default-web"].State.Running)
	assert.Equal(t, before["default-web"].ID, now["default-web_prev"].ID)
	assert.False(t, now["default-web_prev"].State.Running)
	st := d.u.Status(context.Background(), "default")
	require.Len(t, st.Apps, 1)
	current := map[string]bool{}
	for _, c := range st.Apps[0].Containers {
		current[c.Name] = c.Current
	}
	assert.Equal(t, map[string]bool{"default-web": true, "default-web_prev": false, "default-db": true}, current, "status: the kept container is in the current set")
	assert.True(t, st.Apps[0].Healthy, st.Apps[0].Problems)

	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, snap, d.snapshot())
	sameContainer(t, db, d.byName()["default-db"], "rolled back")
	assert.Equal(t, "app-1", d.installedArtifact())

	require.NoError(t, d.install("app-2", meta(web2, db1), true))
	now = d.byName()
	require.Len(t, now, 3, "web, db, unrelated")
	sameContainer(t, db, now["default-db"], "committed")
	assert.Equal(t, web2, now["default-web"].Image)
	assert.Equal(t, "app-2", d.installedArtifact())
	assert.Contains(t, d.eng.Images(), db1, "the kept container's image stays")
	assert.Contains(t, d.eng.Images(), web1, "the previous image is kept for one more update")

	// Nothing changed: everything is kept, and the artifact still commits.
	web := now["default-web"]
	require.NoError(t, d.install("app-3", meta(web2, db1), true))
	now = d.byName()
	require.Len(t, now, 3)
	sameContainer(t, db, now["default-db"], "nothing changed")
	sameContainer(t, web, now["default-web"], "nothing changed")
	assert.Equal(t, "app-3", d.installedArtifact())
	assert.Contains(t, d.eng.Images(), db1)
	assert.Contains(t, d.eng.Images(), web2)

	// A later update can replace the kept container again.
	db2 := d.image("db", "2", memengine.Behavior{})
	require.NoError(t, d.install("app-4", meta(web2, db2), true))
	now = d.byName()
	require.Len(t, now, 3)
	assert.NotEqual(t, db.ID, now["default-db"].ID)
	assert.Equal(t, db2, now["default-db"].Image)
	sameContainer(t, web, now["default-web"], "db replaced")
}

// A container that is not running, or whose run arguments differ, is
// replaced even if its image is the same.
func TestChangedOrStoppedServiceReplaced(t *testing.T) {
	d := newDevice(t)
	db1 := d.image("db", "1", memengine.Behavior{})
	require.NoError(t, d.install("app-1", meta(db1), true))
	was := d.byName()["default-db"]

	require.NoError(t, d.install("app-2", `{"containers":["`+db1+`"],"run_args":"--restart on-failure"}`, true))
	now := d.byName()["default-db"]
	assert.NotEqual(t, was.ID, now.ID, "run arguments changed")
	assert.Equal(t, "on-failure", now.RestartPolicy)

	require.NoError(t, d.eng.StopContainer(context.Background(), now.ID, 0))
	require.NoError(t, d.install("app-3", `{"containers":["`+db1+`"],"run_args":"--restart on-failure"}`, true))
	again := d.byName()["default-db"]
	assert.NotEqual(t, now.ID, again.ID, "a stopped container is not kept")
	assert.True(t, again.State.Running)
}

// The comparison is on the configuration after parameters are filled in:
// the same artifact with a changed device parameter replaces the container,
// with the same parameters keeps it.
func TestKeepComparesResolvedParams(t *testing.T) {
	d := newDevice(t)
	v1 := d.image("web", "1", memengine.Behavior{})
	meta := `{"params":{"SITE":"a"},"services":[{"name":"web","image":"` + v1 + `","run_args":"-e SITE=${SITE}"}]}`
	require.NoError(t, d.install("app-1", meta, true))
	was := d.byName()["default-web"]

	require.NoError(t, d.install("app-2", meta, true))
	sameContainer(t, was, d.byName()["default-web"], "same parameters")

	require.NoError(t, os.WriteFile(filepath.Join(d.u.Config.ParamsDir, "default.json"), []byte(`{"SITE":"b"}`), 0o644))
	require.NoError(t, d.install("app-3", meta, true))
	now := d.byName()["default-web"]
	assert.NotEqual(t, was.ID, now.ID, "parameter changed")
	assert.Equal(t, []string{"SITE=b"}, d.eng.Config(now.ID).Env)
}
