package module_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// A preloaded app (its image loaded from the directory and run by ID)
// shows its image as the artifact names it, repo@digest, not the ID; and
// preload's log counts the image it loads.
func TestPreloadStatusImage(t *testing.T) {
	d := newDevice(t)
	e := embed(t, "1", nil)
	d.Artifact("factory-1", embeddedMeta(e, "", nil))
	require.NoError(t, os.MkdirAll(filepath.Join(d.Files, "files"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.Files, "files", e.file), e.data, 0o644))
	require.NoError(t, d.u.Preload(context.Background(), d.Files), d.Log.String())
	t.Log(d.Log.String())
	assert.Contains(t, d.Log.String(), "1 image(s): 1 to load from the artifact, 0 to pull, 0 already on the device")
	assert.Equal(t, e.id, d.snapshot()[0].Image, "the container runs the loaded image by ID")

	st := d.u.Status(context.Background())
	require.Len(t, st.Apps, 1)
	require.Len(t, st.Apps[0].Containers, 1)
	assert.Equal(t, e.ref, st.Apps[0].Containers[0].Image)
	var text strings.Builder
	require.NoError(t, st.WriteText(&text))
	assert.Contains(t, text.String(), e.ref)
}

// Preload's log line counts what it loads, and says so when the image is
// already on the device.
func TestPreloadCountsImages(t *testing.T) {
	e := embed(t, "1", nil)
	preload := func(d *fixture.Device) {
		d.Artifact("factory-1", embeddedMeta(e, "", nil))
		require.NoError(t, os.MkdirAll(filepath.Join(d.Files, "files"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d.Files, "files", e.file), e.data, 0o644))
		require.NoError(t, d.U.Preload(context.Background(), d.Files), d.Log.String())
	}
	first := newDevice(t)
	preload(first.Device)
	assert.Contains(t, first.Log.String(), "1 image(s): 1 to load from the artifact, 0 to pull, 0 already on the device")
	// A second state directory over the same engine: the image is there,
	// loaded by the module under its own tag, so it is not loaded again.
	again := fixture.NewDevice(t, first.eng)
	preload(again)
	assert.Contains(t, again.Log.String(), "1 image(s): 0 to load from the artifact, 0 to pull, 1 already on the device")
}

// stoppedUnhealthy reports every stopped container as "unhealthy", as
// dockerd does once it stops a container's health check.
type stoppedUnhealthy struct{ *memengine.Engine }

func (e stoppedUnhealthy) InspectContainer(ctx context.Context, id string) (engine.Container, error) {
	c, err := e.Engine.InspectContainer(ctx, id)
	if err == nil && !c.State.Running {
		c.State.Health = engine.HealthUnhealthy
	}
	return c, err
}

// A stopped container is not shown "unhealthy" (the engine says so of
// every stopped container with a health check): its health is blank, as
// for the previous set, stopped while an update is in flight.
func TestStatusStoppedNotUnhealthy(t *testing.T) {
	d := newDevice(t)
	v1 := d.image("web", "1", memengine.Behavior{Health: engine.HealthHealthy})
	require.NoError(t, d.install("app-1", `{"containers":["`+v1+`"],"run_args":"--network none"}`, true), d.Log.String())
	c := d.snapshot()[0]
	require.NoError(t, d.eng.StopContainer(context.Background(), c.ID, time.Second))

	st := module.New(stoppedUnhealthy{d.eng}, d.u.Config, io.Discard).Status(context.Background())
	require.Len(t, st.Apps[0].Containers, 1)
	assert.Equal(t, "exited", st.Apps[0].Containers[0].State)
	assert.Equal(t, "", st.Apps[0].Containers[0].Health)
	var text strings.Builder
	require.NoError(t, st.WriteText(&text))
	assert.NotContains(t, text.String(), "unhealthy  ", text.String())
}
