package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Images inside the artifact, with no registry running at all: the
// images come from `docker save`-style files, and the device loads them
// from the client's stream.
func TestOfflineEmbedded(t *testing.T) { eachClient(t, testOfflineEmbedded) }

func testOfflineEmbedded(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	ctx := context.Background()
	dir := t.TempDir()
	run := fixture.RandHex()
	var ids []string
	// save writes an image as a docker-archive file named repo:tag.
	save := func(version string, seed int64) (path, id string) {
		data, id, err := fixture.Archive(fixture.Image{Version: version + "-" + run, PadBytes: 2 << 20, PadSeed: seed}, []string{"127.0.0.1:9/offline/app:" + version}, nil)
		require.NoError(t, err)
		path = filepath.Join(dir, version+".tar")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		ids = append(ids, id)
		return path, id
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		for _, id := range ids {
			e.RemoveImage(ctx, id)
		}
	})
	seed := int64(len(run)) + int64(run[0]) // new layers for this run
	v1Path, v1ID := save("v1", seed)
	v2Path, v2ID := save("v2", seed+1)
	v3Path, v3ID := save("v3", seed+1) // v2's layers, new config
	v9Path, v9ID := save("v9", seed+9)
	v10Path, _ := save("v10", seed+9)

	gen := func(name string, extra ...string) string {
		return s.generate(name, append([]string{"--app", s.app, "--health-window", "1s", "--run-args", "--network none", "--embed"}, extra...)...)
	}
	a1 := gen("off-v1", "docker-archive:"+v1Path)
	a2 := gen("off-v2", "docker-archive:"+v2Path)
	a3delta := gen("off-v3", "--delta-from", a2, "docker-archive:"+v3Path)
	a3full := gen("off-v3-full", "docker-archive:"+v3Path)
	a9 := gen("off-v9", "docker-archive:"+v9Path)
	a10delta := gen("off-v10", "--delta-from", a9, "docker-archive:"+v10Path)
	st3d, _ := os.Stat(a3delta)
	st3f, _ := os.Stat(a3full)
	assert.Less(t, st3d.Size(), st3f.Size()/4, "the delta leaves v2's layers out")

	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}
	install := func(path string) string {
		out, err := s.mender("install", path)
		require.NoError(t, err, out)
		return out
	}
	commit := func() {
		out, err := s.mender("commit")
		require.NoError(t, err, out)
	}

	out := install(a1)
	assert.Contains(t, out, "loaded 127.0.0.1:9/offline/app@sha256:")
	commit()
	atV1 := mine()
	require.Len(t, atV1, 1)
	assert.Equal(t, v1ID, atV1[0].Image)
	assert.True(t, atV1[0].Running)

	install(a2)
	assert.Equal(t, v2ID, mine()[0].Image)
	out, err := s.mender("rollback")
	require.NoError(t, err, out)
	assert.Equal(t, atV1, mine(), "rollback to v1")
	has, _ := e.HasImage(ctx, v2ID)
	assert.False(t, has, "the rolled-back image is removed")

	install(a2)
	commit()
	atV2 := mine()
	assert.Equal(t, v2ID, atV2[0].Image)

	// A one-byte change in the payload, inside a layer the device does not
	// have: refused, v2 untouched.
	data, err := os.ReadFile(a9)
	require.NoError(t, err)
	data[len(data)-(1<<20)] ^= 0x01
	bad := s.path("off-v9-bad.mender")
	require.NoError(t, os.WriteFile(bad, data, 0o644))
	out, err = s.mender("install", bad)
	require.Error(t, err, "a corrupted payload must be refused: %s", out)
	assert.Equal(t, atV2, mine())
	assert.Equal(t, "off-v2", s.showArtifact())
	has, _ = e.HasImage(ctx, v9ID)
	assert.False(t, has, "nothing of the corrupted payload stays: %s", out)

	// The delta over v2 installs.
	install(a3delta)
	commit()
	assert.Equal(t, v3ID, mine()[0].Image)
	atV3 := mine()

	// A delta over an image this device never had fails cleanly.
	out, err = s.mender("install", a10delta)
	require.Error(t, err, out)
	assert.Contains(t, out, "install the full artifact")
	assert.Equal(t, atV3, mine())
	assert.Equal(t, "off-v3", s.showArtifact())
}
