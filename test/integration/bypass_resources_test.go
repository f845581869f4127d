package integration

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// other is a second app on the world's device, removed with the test.
func (w *world) other(suffix string) string {
	app := w.app + suffix
	w.t.Cleanup(func() { enginetest.RemoveLabelled(w.t, w.d.Eng, module.LabelApp, app) })
	return app
}

// mineOf is what the device has of app.
func (w *world) mineOf(app string) []fixture.Snap {
	return w.d.Snapshot(map[string]string{module.LabelApp: app})
}

// An app reaches only its own containers' names, networks and volumes:
// those of another app, a volume that binds a host path, another app's
// update lock and names in another app's space are refused in Download,
// before anything is pulled, and the other app is untouched.
func TestOtherAppsResourcesRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.version("v1")
	victim := fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"networks":{"back":{"internal":true}},"volumes":{"data":{}},"services":{"web":{"image":%q,"networks":{"back":[]},"run_args":"-v data:/data"}}}`, w.app, v1)
	require.NoError(t, w.d.Install("victim", victim, true), w.d.Log.String())
	before := w.snapshot()
	require.Len(t, before, 1)

	// A volume another tool made that binds the host's /etc.
	run := fixture.RandHex()
	etc := "mdtest-etc-" + run
	out, err := exec.Command("docker", "volume", "create", "--label", enginetest.TestLabel+"="+run, "-o", "type=none", "-o", "o=bind", "-o", "device=/etc", etc).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Cleanup(func() { w.d.Eng.RemoveVolume(ctx, etc) })

	lockDir := t.TempDir()
	allowed := t.TempDir()
	w.d.U.Config.Policy = hardened
	w.d.U.Config.Policy.BindMountPaths = []string{allowed, lockDir}
	w.d.U.Config.AppLockDir = lockDir

	// Should a refusal fail, the engine makes this one unlabelled.
	t.Cleanup(func() { w.d.Eng.RemoveVolume(ctx, w.app+"_fresh") })
	attacker := w.other("a")
	v2 := w.version("v2")
	meta := func(runArgs string, top ...string) string {
		extra := ""
		for _, s := range top {
			extra += "," + s
		}
		return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":%q}}%s}`, attacker, v2, runArgs, extra)
	}
	for _, tc := range []struct{ name, meta, want string }{
		{"another app's volume", meta("--network none -v " + w.app + "_data:/steal"), "the volume belongs to app " + w.app},
		{"another app's network", meta("--network " + w.app + "_back"), "the network belongs to app " + w.app},
		{"a volume that binds /etc", meta("--network none -v " + etc + ":/x"), "it mounts the host's /etc"},
		{"a name in another app's space", meta("--network none --name " + w.app + "-db"), "is in the space of app " + w.app},
		{"another app's _prev name", meta("--network none --name " + w.app + "-web_prev"), "_prev or _next are the module's own"},
		{"the shared lock directory", meta("--network none -v " + lockDir + ":/run/mender-docker"), "it holds the update locks of every app"},
		{"another app's lock directory", meta("--network none -v " + filepath.Join(lockDir, w.app) + ":/run/mender-docker"), "it is not this app's directory of app_lock_dir"},
		{"a volume name in another app's space", meta("--network none -v " + w.app + "_fresh:/x"), "the name is in the space of app " + w.app},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := w.d.Install(tc.name, tc.meta, true)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, before, w.snapshot(), "the other app is untouched")
			assert.Empty(t, w.mineOf(attacker))
			assert.False(t, w.has(v2), "refused before anything was pulled")
			_, err = w.d.Eng.InspectVolume(ctx, w.app+"_fresh")
			assert.ErrorIs(t, err, engine.ErrNotFound, "nothing created in the other app's space")
		})
	}
	// The app's own lock directory is its to mount.
	require.NoError(t, w.d.Install("own-lock", meta("--network none -v "+filepath.Join(lockDir, attacker)+":/run/mender-docker/"+attacker), true), w.d.Log.String())
	assert.Len(t, w.mineOf(attacker), 1)
	w.checkUnrelated()
}

// Engine names of two apps' networks and volumes cannot meet: app P
// declaring b_c and app P_b declaring c would both be P_b_c. Whichever
// comes second is refused, and neither gets the other's.
func TestResourceNamesUnambiguous(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, pb := w.other("p"), w.other("p_b")
	v1 := w.version("v1")
	app := func(name, vol string) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"volumes":{%q:{}},"services":{"web":{"image":%q,"run_args":"--network none -v %s:/data"}}}`, name, vol, v1, vol)
	}
	require.NoError(t, w.d.Install("pb", app(pb, "c"), true), w.d.Log.String())
	v, err := w.d.Eng.InspectVolume(ctx, pb+"_c")
	require.NoError(t, err)
	assert.Equal(t, pb, v.Labels[module.LabelApp])
	before := w.mineOf(pb)

	err = w.d.Install("p", app(p, "b_c"), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the volume belongs to app "+pb)
	err = w.d.Install("p2", app(p, "b_d"), true)
	require.Error(t, err, "a name in P_b's space, not created yet")
	assert.Contains(t, err.Error(), "the name is in the space of app "+pb)
	assert.Empty(t, w.mineOf(p))
	assert.Equal(t, before, w.mineOf(pb))
	// P's own names are P's.
	require.NoError(t, w.d.Install("p3", app(p, "x"), true), w.d.Log.String())
	require.NoError(t, w.d.Install("pb2", strings.Replace(app(pb, "c"), "--network none", "--network none --restart always", 1), true), w.d.Log.String(), "P_b's updates still work")
}

// Joining the namespaces of a container that is in the host's is being in
// the host's, under deny_host_namespaces: checked in Download on the
// engine as it is, and again when install creates the container.
func TestJoinHostNamespaceRefused(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	run := fixture.RandHex()
	ref := w.version("host-ns")
	require.NoError(t, w.d.Eng.PullImage(ctx, ref))
	labels := map[string]string{enginetest.TestLabel: run}
	t.Cleanup(func() { enginetest.RemoveLabelled(t, w.d.Eng, enginetest.TestLabel, run) })
	hostly := "mdtest-hostns-" + run
	_, err := w.d.Eng.CreateContainer(ctx, engine.ContainerConfig{Name: hostly, Image: ref, Labels: labels, NetworkMode: "host", PidMode: "host", IpcMode: "host"})
	require.NoError(t, err)

	w.d.U.Config.Policy = config.Policy{DenyHostNamespaces: true}
	v1 := w.version("v1")
	meta := func(runArgs string) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":%q}}}`, w.app, v1, runArgs)
	}
	for _, args := range []string{"--network none --pid container:" + hostly, "--network none --ipc container:" + hostly} {
		err := w.d.Install("join", meta(args), true)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), "container "+hostly+" is in the host's namespace", args)
		assert.Empty(t, w.snapshot())
	}

	// Not there at Download; in the host's PID namespace by install.
	later := "mdtest-later-" + run
	w.d.Artifact("later", meta("--network none --pid container:"+later))
	require.NoError(t, w.d.Run("Download"), w.d.Log.String())
	_, err = w.d.Eng.CreateContainer(ctx, engine.ContainerConfig{Name: later, Image: ref, Labels: labels, NetworkMode: "none", PidMode: "host"})
	require.NoError(t, err)
	err = w.d.Run("ArtifactInstall")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "container "+later+" is in the host's namespace")
	require.NoError(t, w.d.Run("ArtifactRollback"))
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Empty(t, w.snapshot(), "nothing was created")
	w.checkUnrelated()
}

// A container that takes the name an update renames the app's container
// to (NAME_prev) makes the update fail, but only a rename the engine
// refuses for the no-bridge quirk lets the old container be stopped first:
// this one keeps running, never stopped.
func TestSquattedPrevNameStopsNothing(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.version("v1")
	require.NoError(t, w.d.Install("v1", w.meta(v1, "300ms"), true), w.d.Log.String())
	before := w.snapshot()
	require.Len(t, before, 1)
	c, err := w.d.Eng.InspectContainer(ctx, before[0].ID)
	require.NoError(t, err)
	started := c.State.StartedAt

	run := fixture.RandHex()
	t.Cleanup(func() { enginetest.RemoveLabelled(t, w.d.Eng, enginetest.TestLabel, run) })
	_, err = w.d.Eng.CreateContainer(ctx, engine.ContainerConfig{Name: before[0].Name + "_prev", Image: v1, Labels: map[string]string{enginetest.TestLabel: run}, NetworkMode: "none"})
	require.NoError(t, err)

	err = w.d.Install("v2", w.meta(w.version("v2"), "300ms"), true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the name is taken by a container this app does not own; nothing was stopped")
	assert.Equal(t, before, w.snapshot())
	c, err = w.d.Eng.InspectContainer(ctx, before[0].ID)
	require.NoError(t, err)
	assert.Equal(t, started, c.State.StartedAt, "the running container was never stopped")
	assert.NotContains(t, w.d.Log.String(), "stopped "+before[0].Name)
	w.checkUnrelated()
}

// The normal no-bridge rename path (an update after a rollback, in the
// default network mode) says so in one plain sentence, not with the
// engine's raw "sandbox … not found" error.
func TestNoBridgeRenameLogged(t *testing.T) {
	w := newWorld(t)
	v1, v2, v3 := w.version("v1"), w.version("v2"), w.version("v3")
	require.NoError(t, w.d.Install("app-v1", w.metaNet(v1, ""), true), w.d.Log.String())
	require.NoError(t, w.d.Install("app-v2", w.metaNet(v2, ""), false), w.d.Log.String())
	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
	mark := len(w.d.Log.String())
	require.NoError(t, w.d.Install("app-v3", w.metaNet(v3, ""), true), w.d.Log.String())
	log := w.d.Log.String()[mark:]
	if !strings.Contains(log, "while it runs") {
		t.Skipf("this engine renamed the restarted container while it ran (it has a default bridge):\n%s", log)
	}
	assert.Contains(t, log, w.app+"-web is renamed to "+w.app+"-web_prev once stopped (this engine has no default bridge, and cannot rename it while it runs)")
	assert.NotContains(t, log, "sandbox")
	assert.NotContains(t, log, "not found")
}
