// Package integration runs the update module's states against the real
// Docker engine, pulling from a registry on 127.0.0.1. Each test owns one
// app (containers labelled with its name), one unrelated container, and the
// images it pushed, and removes only those.
package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

type world struct {
	t         *testing.T
	d         *fixture.Device
	reg       *fixture.Registry
	app       string
	pushed    []string
	unrelated string
}

func newWorld(t *testing.T) *world {
	e := fixture.Docker(t)
	w := &world{t: t, d: fixture.NewDevice(t, e), reg: fixture.NewRegistry(t), app: "it-" + fixture.RandHex()}
	ctx := context.Background()
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, w.app)
		for _, ref := range w.pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	// A container the module does not own, which must run throughout.
	run := fixture.RandHex()
	ref := w.push("unrelated", fixture.Image{Version: run})
	require.NoError(t, e.PullImage(ctx, ref))
	id, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: "unrelated-" + run, Image: ref, NetworkMode: "none", Labels: map[string]string{enginetest.TestLabel: run}})
	require.NoError(t, err)
	t.Cleanup(func() { enginetest.RemoveLabelled(t, e, enginetest.TestLabel, run) })
	require.NoError(t, e.StartContainer(ctx, id))
	w.unrelated = id
	return w
}

func (w *world) push(repo string, img fixture.Image) string {
	ref := fixture.MustPush(w.t, w.reg, "it/"+repo, img.Version, img)
	w.pushed = append(w.pushed, ref)
	return ref
}

func (w *world) version(v string, args ...string) string {
	return w.push("web", fixture.Image{Version: v, Args: args})
}

// meta is an artifact's meta-data for one service of this world's app.
func (w *world) meta(ref, window string) string {
	return fmt.Sprintf(`{"app":%q,"health":{"window":%q,"timeout":"20s"},"services":[{"name":"web","image":%q,"run_args":"--network none --restart unless-stopped -v %s:/data"}]}`,
		w.app, window, ref, w.t.TempDir())
}

// crashMeta is meta for ref, an image that exits. Its health window is far
// longer than the image lives, so the exit lands inside the window however
// slow the machine, and the install ends at the exit, not at the window's
// end. With restart false the container has no restart policy, so its exit
// stays and its code shows on every inspect; a restarted container shows
// code 0 again, and whether a check saw the code would hang on the
// engine's restart delay against the module's poll.
func (w *world) crashMeta(ref string, restart bool) string {
	m := w.meta(ref, "5m")
	if !restart {
		m = strings.Replace(m, "--restart unless-stopped ", "", 1)
	}
	return m
}

func (w *world) snapshot() []fixture.Snap {
	return w.d.Snapshot(map[string]string{module.LabelApp: w.app})
}

func (w *world) checkUnrelated() {
	w.t.Helper()
	c, err := w.d.Eng.InspectContainer(context.Background(), w.unrelated)
	require.NoError(w.t, err)
	assert.True(w.t, c.State.Running, "the unrelated container must keep running")
}

func (w *world) has(ref string) bool {
	ok, err := w.d.Eng.HasImage(context.Background(), ref)
	require.NoError(w.t, err)
	return ok
}

func TestUpdateAndCommit(t *testing.T) {
	w := newWorld(t)
	v1, v2 := w.version("v1"), w.version("v2")

	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "1s"), true), w.d.Log.String())
	s := w.snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, fixture.Snap{ID: s[0].ID, Name: w.app + "-web", Image: v1, RestartPolicy: "unless-stopped", Running: true}, s[0])

	require.NoError(t, w.d.Install("app-v2", w.meta(v2, "1s"), false), w.d.Log.String())
	s2 := w.snapshot()
	require.Len(t, s2, 2)
	assert.Equal(t, w.app+"-web", s2[0].Name)
	assert.Equal(t, v2, s2[0].Image)
	assert.True(t, s2[0].Running)
	assert.Equal(t, fixture.Snap{ID: s[0].ID, Name: w.app + "-web_prev", Image: v1, RestartPolicy: "unless-stopped"}, s2[1], "old container kept, stopped, renamed")

	require.NoError(t, w.d.Run("ArtifactCommit"))
	require.NoError(t, w.d.Run("Cleanup"))
	s3 := w.snapshot()
	require.Len(t, s3, 1)
	assert.Equal(t, s2[0], s3[0])
	c, err := w.d.Eng.InspectContainer(context.Background(), s3[0].ID)
	require.NoError(t, err)
	assert.Equal(t, "app-v2", c.Labels[module.LabelArtifact])
	assert.Equal(t, "web", c.Labels[module.LabelService])
	assert.True(t, w.has(v1), "previous image kept after commit")
	w.checkUnrelated()
}

func TestRollbackRestoresV1Exactly(t *testing.T) {
	w := newWorld(t)
	v1, v2 := w.version("v1"), w.version("v2")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "500ms"), true), w.d.Log.String())
	before := w.snapshot()

	require.NoError(t, w.d.Install("app-v2", w.meta(v2, "500ms"), false), w.d.Log.String())
	require.NoError(t, w.d.Run("ArtifactRollback"))
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, before, w.snapshot())
	assert.False(t, w.has(v2), "the rolled-back image is removed")
	assert.True(t, w.has(v1))
	w.checkUnrelated()
}

func TestExitingImageFailsAndRollsBack(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	bad := w.version("v2-exits", "-exit-after", "300ms", "-code", "3")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "500ms"), true), w.d.Log.String())
	before := w.snapshot()

	// Without a restart policy the exit stays, with its code; with one,
	// the engine restarts the container, and that is what the module sees.
	for restart, want := range map[bool]string{false: "exited with code 3", true: "restarted"} {
		err := w.d.Install("app-v2", w.crashMeta(bad, restart), true)
		require.ErrorIs(t, err, module.ErrUnhealthy, "restart policy %t", restart)
		assert.Contains(t, err.Error(), want, "restart policy %t", restart)
		assert.Equal(t, before, w.snapshot())
		assert.False(t, w.has(bad))
	}
	w.checkUnrelated()
}

func TestHealthcheck(t *testing.T) {
	w := newWorld(t)
	slow := w.push("web", fixture.Image{Version: "slow", Healthcheck: true, Args: []string{"-healthy-after", "2s"}})
	start := time.Now()
	require.NoError(t, w.d.Install("app-slow", w.meta(slow, "500ms"), true), w.d.Log.String())
	assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "install waited for HEALTHCHECK")
	assert.Contains(t, w.d.Log.String(), "is healthy after")
	before := w.snapshot()

	never := w.push("web", fixture.Image{Version: "never", Healthcheck: true, Args: []string{"-healthy-after", "1h"}})
	meta := strings.Replace(w.meta(never, "500ms"), `"timeout":"20s"`, `"timeout":"3s"`, 1)
	err := w.d.Install("app-never", meta, true)
	require.ErrorIs(t, err, module.ErrUnhealthy)
	assert.Contains(t, err.Error(), "not healthy after 3s")
	assert.Equal(t, before, w.snapshot())
	w.checkUnrelated()
}

func TestRegistryDownKeepsOldRunning(t *testing.T) {
	w := newWorld(t)
	v1, v2 := w.version("v1"), w.version("v2")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "500ms"), true), w.d.Log.String())
	before := w.snapshot()
	require.NoError(t, w.reg.Close())

	// Watch the old container the whole time.
	var stopped atomic.Bool
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := w.d.Eng.InspectContainer(context.Background(), before[0].ID)
			if err != nil || !c.State.Running {
				stopped.Store(true)
			}
			select {
			case <-quit:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err := w.d.Install("app-v2", w.meta(v2, "500ms"), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pulling")
	close(quit)
	<-done
	assert.False(t, stopped.Load(), "the old container stopped during a failed download")
	assert.Equal(t, before, w.snapshot())
	w.checkUnrelated()
}

func TestTwentyUpdatesLeaveNothingBehind(t *testing.T) {
	w := newWorld(t)
	var refs []string
	for i := 1; i <= 20; i++ {
		ref := w.version(fmt.Sprintf("v%d", i))
		refs = append(refs, ref)
		require.NoError(t, w.d.Install(fmt.Sprintf("app-v%d", i), w.meta(ref, "100ms"), true), "update %d: %s", i, w.d.Log.String())
	}
	s := w.snapshot()
	require.Len(t, s, 1, "no stray containers")
	assert.Equal(t, refs[19], s[0].Image)
	for i, ref := range refs {
		assert.Equal(t, i >= 18, w.has(ref), "image v%d present", i+1)
	}
	w.checkUnrelated()
}

// The device policy refuses flags before anything changes, and allows
// them when it says nothing. (--privileged is refused here, but this test
// machine cannot run a privileged container at all: its capability
// bounding set lacks some capabilities. --cap-add shows the allowed side.)
func TestPolicy(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())
	before := w.snapshot()
	v2 := w.version("v2")
	withArgs := func(args string) string {
		return strings.Replace(w.meta(v2, "300ms"), `"run_args":"`, `"run_args":"`+args+` `, 1)
	}

	w.d.U.Config.Policy.DenyPrivileged = true
	w.d.U.Config.Policy.DenyCapAdd = true
	for args, want := range map[string]string{"--privileged": "--privileged is refused by the device policy", "--cap-add NET_ADMIN": "--cap-add NET_ADMIN is refused"} {
		err := w.d.Install("app-v2", withArgs(args), true)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), want)
		assert.Equal(t, before, w.snapshot())
		assert.False(t, w.has(v2), "refused before anything was pulled")
	}

	w.d.U.Config.Policy = config.Policy{}
	require.NoError(t, w.d.Install("app-v2", withArgs("--cap-add NET_ADMIN"), true), w.d.Log.String())
	s := w.snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, v2, s[0].Image)
	assert.True(t, s[0].Running)
	w.checkUnrelated()
}

// Per-device parameters on the real engine: the device's file wins over
// the artifact's default, and secrets stay out of the log.
func TestParams(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	require.NoError(t, os.WriteFile(filepath.Join(w.d.U.Config.ParamsDir, w.app+".json"), []byte(`{"SITE":"Oslo harbour","API_TOKEN":"t0ps3cret"}`), 0o644))
	meta := fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"params":{"SITE":"default","API_TOKEN":"none"},
	  "services":[{"name":"web","image":%q,"run_args":"--network none -l site=${SITE} -e TOKEN=${API_TOKEN}"}]}`, w.app, v1)
	require.NoError(t, w.d.Install("app-v1", meta, true), w.d.Log.String())
	c, err := w.d.Eng.InspectContainer(context.Background(), w.snapshot()[0].ID)
	require.NoError(t, err)
	assert.Equal(t, "Oslo harbour", c.Labels["site"])
	assert.Contains(t, w.d.Log.String(), "parameter API_TOKEN=***")
	assert.NotContains(t, w.d.Log.String(), "t0ps3cret")
	w.checkUnrelated()
}
