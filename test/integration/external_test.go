package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// An app on the real engine joins an internal network and mounts a volume
// that the test made (labelled as the test's), beside its own network and
// volume; update, rollback and removal with its volumes leave the external
// ones exactly as they were. A missing external network fails Download
// naming it, with nothing changed.
func TestExternalOnEngine(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	e := w.d.Eng
	run := fixture.RandHex()
	net, vol := "ext-net-"+run, "ext-vol-"+run
	mine := map[string]string{enginetest.TestLabel: run}
	require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: net, Internal: true, Labels: mine}))
	require.NoError(t, e.CreateVolume(ctx, engine.VolumeConfig{Name: vol, Labels: mine}))
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, w.app) // its containers first: they hold the network
		enginetest.RemoveLabelled(t, e, enginetest.TestLabel, run)
	})
	net0, err := e.InspectNetwork(ctx, net)
	require.NoError(t, err)
	vol0, err := e.InspectVolume(ctx, vol)
	require.NoError(t, err)
	untouched := func(when string) {
		t.Helper()
		n, err := e.InspectNetwork(ctx, net)
		require.NoError(t, err, when)
		assert.Equal(t, net0, n, when)
		v, err := e.InspectVolume(ctx, vol)
		require.NoError(t, err, when)
		assert.Equal(t, vol0, v, when)
	}
	meta := func(ref, net string) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms","timeout":"20s"},
"networks":{"edge":{"external":true,"name":%q},"own":{"internal":true}},
"volumes":{"shared":{"external":true,"name":%q},"data":{}},
"services":{"web":{"image":%q,"run_args":"-v shared:/shared -v data:/data --restart unless-stopped","networks":{"edge":["www"],"own":[]}}}}`, w.app, net, vol, ref)
	}
	v1, v2 := w.version("v1"), w.version("v2")
	require.NoError(t, w.d.Install("ext-1", meta(v1, net), true), w.d.Log.String())
	id := w.snapshot()[0].ID
	assert.Contains(t, inspectField(t, id, "{{json .NetworkSettings.Networks}}"), `"`+net+`"`)
	assert.Contains(t, inspectField(t, id, "{{json .NetworkSettings.Networks}}"), `"`+w.app+`_own"`)
	assert.Contains(t, inspectField(t, id, `{{range .Mounts}}{{if eq .Destination "/shared"}}{{.Name}}{{end}}{{end}}`), vol)
	untouched("installed")

	require.NoError(t, w.d.Install("ext-2", meta(v2, net), false), w.d.Log.String())
	require.NoError(t, w.d.Run("ArtifactRollback"))
	require.NoError(t, w.d.Run("Cleanup"))
	untouched("rolled back")

	before := w.snapshot()
	err = w.d.Install("ext-2", meta(v2, "ext-missing-"+run), true)
	require.ErrorContains(t, err, "the external network ext-missing-"+run+" does not exist on the device")
	assert.Equal(t, before, w.snapshot())

	require.NoError(t, w.d.Install("ext-2", meta(v2, net), true), w.d.Log.String())
	untouched("updated")
	require.NoError(t, w.d.Install("ext-removed", fmt.Sprintf(`{"app":%q,"remove":true,"remove_volumes":true}`, w.app), true), w.d.Log.String())
	assert.Empty(t, w.snapshot())
	untouched("removed with its volumes")
	_, err = e.InspectVolume(ctx, w.app+"_data")
	assert.ErrorIs(t, err, engine.ErrNotFound, "its own volume goes")
	w.checkUnrelated()
}
