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

// A corrupted offline artifact whose damaged bytes lie in a layer the device
// already has. The engine skips a layer it has, so it can load the image
// whole while the client finds the payload's checksum wrong: mender 3.4
// cuts the stream short, mender-update 5.1 streams it to the end, then
// sends the module SIGTERM and calls Cleanup. Either way the install is
// refused and nothing of the artifact may stay on the device. Tried a few
// times, since the engine and the SIGTERM race.
func TestCorruptedPayloadOverKnownLayers(t *testing.T) {
	eachClient(t, testCorruptedPayloadOverKnownLayers)
}

func testCorruptedPayloadOverKnownLayers(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	ctx := context.Background()
	dir := t.TempDir()
	run := fixture.RandHex()
	var ids []string
	save := func(version string, seed int64) string {
		data, id, err := fixture.Archive(fixture.Image{Version: version + "-" + run, PadBytes: 2 << 20, PadSeed: seed}, []string{"127.0.0.1:9/corrupt/app:" + version}, nil)
		require.NoError(t, err)
		path := filepath.Join(dir, version+".tar")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		ids = append(ids, id)
		return path
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		for _, id := range ids {
			e.RemoveImage(ctx, id)
		}
	})
	seed := int64(len(run)) + int64(run[0])*7
	v1Path := save("v1", seed)
	v2Path := save("v2", seed) // v1's layers, a new config
	gen := func(name, path string) string {
		return s.generate(name, "--app", s.app, "--health-window", "1s", "--run-args", "--network none", "--embed", "docker-archive:"+path)
	}
	a1, a2 := gen("cor-v1", v1Path), gen("cor-v2", v2Path)
	out, err := s.mender("install", a1)
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	atV1 := (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	require.Len(t, atV1, 1)

	data, err := os.ReadFile(a2)
	require.NoError(t, err)
	data[len(data)-(1<<20)] ^= 0x01 // inside the padding layer v1 brought
	bad := s.path("cor-v2-bad.mender")
	require.NoError(t, os.WriteFile(bad, data, 0o644))
	for i := 0; i < 3; i++ {
		out, err = s.mender("install", bad)
		require.Error(t, err, "a corrupted payload must be refused: %s", out)
		assert.Equal(t, atV1, (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app}))
		has, _ := e.HasImage(ctx, ids[1])
		require.False(t, has, "try %d: nothing of the corrupted payload stays; the client said:\n%s", i+1, out)
	}
}
