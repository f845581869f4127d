package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// After a removal artifact is committed, the device's provides no longer
// carry the removed app's version key, under both clients, when the
// artifact clears the app's keys and provides none of them. The client
// clears first and then adds the artifact's provides, so a removal
// artifact that provides rootfs-image.<type>-<app>.version (as
// docker-artifact-gen --remove-app writes today) puts the key back.
// Written here with mender-artifact (no default software version, no
// default clears, --clears-provides "rootfs-image.<type>-<app>.*"): what
// the generator's --remove-app should write. Without any clears_provides,
// mender 3.4 clears every other app's keys too and mender-update 5 clears
// none: the explicit clear matters.
func TestRemovedAppProvides(t *testing.T) { eachClient(t, testRemovedAppProvides) }

func testRemovedAppProvides(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	app, other := s.app+"-gone", s.app+"-kept"
	ref := fixture.MustPush(t, reg, "e2e/removal", "v1", fixture.Image{Version: "v1"})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, app)
		enginetest.RemoveLabelled(t, e, module.LabelApp, other)
		e.RemoveImage(ctx, ref)
	})
	mender := func(args ...string) {
		out, err := s.mender(args...)
		require.NoError(t, err, out)
	}
	service := "web=" + reg.Addr + "/e2e/removal:v1,--network none"
	mender("install", s.generate("gone-1", "--app", app, "--health-window", "1s", "--service", service))
	mender("commit")
	mender("install", s.generate("kept-1", "--app", other, "--health-window", "1s", "--service", service))
	mender("commit")
	key := "rootfs-image." + payloadType + "-" + app + ".version"
	provides, err := s.mender("show-provides")
	require.NoError(t, err, provides)
	require.Contains(t, provides, key+"=gone-1")

	meta := s.path("remove.json")
	s.write("remove.json", fmt.Sprintf(`{"app":%q,"remove":true}`, app))
	removal := s.path("gone-removed.mender")
	b, err := exec.Command("mender-artifact", "write", "module-image", "-T", payloadType, "-n", "gone-removed", "-t", "test-device",
		"--no-default-software-version", "--no-default-clears-provides", "--clears-provides", "rootfs-image."+payloadType+"-"+app+".*", "-m", meta, "-o", removal).CombinedOutput()
	require.NoError(t, err, "%s", b)
	mender("install", removal)
	mender("commit")

	provides, err = s.mender("show-provides")
	require.NoError(t, err, provides)
	t.Log("\n" + provides)
	assert.NotContains(t, provides, key, "the removed app's version key is gone")
	assert.Contains(t, provides, "rootfs-image."+payloadType+"-"+other+".version=kept-1", "the other app's key stays")
	assert.Empty(t, (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: app}))
}
