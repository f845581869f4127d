package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Two apps on one device through the real client: each keeps its own
// provides, and updating, rolling back or removing one never stops the
// other.
func TestTwoApps(t *testing.T) { eachClient(t, testTwoApps) }

func testTwoApps(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	appA, appB := s.app+"-a", s.app+"-b"
	var pushed []string
	for _, v := range []string{"a1", "a2", "b1"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/apps", v, fixture.Image{Version: v}))
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, appA)
		enginetest.RemoveLabelled(t, e, module.LabelApp, appB)
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	gen := func(name, app string, extra ...string) string {
		return s.generate(name, append([]string{"--app", app, "--health-window", "1s"}, extra...)...)
	}
	service := func(tag string) []string {
		return []string{"--service", "web=" + reg.Addr + "/e2e/apps:" + tag + ",--network none --restart always"}
	}
	mender := func(args ...string) {
		out, err := s.mender(args...)
		require.NoError(t, err, out)
	}
	snap := func(app string) []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: app})
	}
	started := func(app string) string {
		c, err := e.InspectContainer(ctx, snap(app)[0].ID)
		require.NoError(t, err)
		return c.State.StartedAt.String()
	}

	mender("install", gen("a-1", appA, service("a1")...))
	mender("commit")
	mender("install", gen("b-1", appB, service("b1")...))
	mender("commit")
	provides, err := s.mender("show-provides")
	require.NoError(t, err)
	assert.Contains(t, provides, "rootfs-image."+payloadType+"-"+appA+".version=a-1")
	assert.Contains(t, provides, "rootfs-image."+payloadType+"-"+appB+".version=b-1", "installing B kept A's provides")
	bBefore, bStarted := snap(appB), started(appB)
	aBefore := snap(appA)

	mender("install", gen("a-2", appA, service("a2")...))
	assert.Equal(t, pushed[1], snap(appA)[0].Image)
	mender("rollback")
	assert.Equal(t, aBefore, snap(appA))
	mender("install", gen("a-2", appA, service("a2")...))
	mender("commit")
	assert.Equal(t, bBefore, snap(appB), "B untouched by A's update and rollback")
	assert.Equal(t, bStarted, started(appB), "B never restarted")

	mender("install", gen("a-removed", appA, "--remove-app"))
	mender("commit")
	assert.Empty(t, snap(appA), "A removed")
	has, _ := e.HasImage(ctx, pushed[1])
	assert.False(t, has, "A's images go with it")
	assert.Equal(t, bBefore, snap(appB))
	assert.Equal(t, bStarted, started(appB))
	provides, err = s.mender("show-provides")
	require.NoError(t, err)
	assert.NotContains(t, provides, "rootfs-image."+payloadType+"-"+appA+".", "a removed app leaves no provides")
	assert.Contains(t, provides, "rootfs-image."+payloadType+"-"+appB+".version=b-1", "removing A kept B's provides")
}
