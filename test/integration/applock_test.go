package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// lockWorld runs the app's v1 in a container that holds the app's update
// lock, through its bind-mounted directory of the lock directory (a
// temporary one standing for /run/mender-docker), for lockFor (0: until it
// stops).
func lockWorld(t *testing.T, lockFor time.Duration, timeout time.Duration) (*world, string) {
	return lockWorldAt(t, lockFor, timeout, false)
}

// lockWorldAt is lockWorld; with legacy, the app mounts the whole
// directory and locks <app>.lock in it, as with earlier releases.
func lockWorldAt(t *testing.T, lockFor time.Duration, timeout time.Duration, legacy bool) (*world, string) {
	w := newWorld(t)
	dir := t.TempDir()
	w.d.U.Config.AppLockDir = dir
	w.d.U.Config.AppLockTimeout = config.Duration(timeout)
	mount, file := filepath.Join(dir, w.app), filepath.Join(dir, w.app, "lock")
	args := []string{"-lock", "/run/mender-docker/lock"}
	if legacy {
		mount, file = dir, filepath.Join(dir, w.app+".lock")
		args = []string{"-lock", "/run/mender-docker/" + w.app + ".lock"}
	}
	if lockFor > 0 {
		args = append(args, "-lock-for", lockFor.String())
	}
	v1 := w.push("web", fixture.Image{Version: "v1", Args: args})
	meta := fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":"--network none -v %s:/run/mender-docker"}}}`, w.app, v1, mount)
	require.NoError(t, w.d.Install("app-v1", meta, true), w.d.Log.String())
	require.Eventually(t, func() bool {
		_, err := os.Stat(file)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // the flock follows the file's creation
	return w, dir
}

// An app that holds its update lock is not stopped until it lets go.
func TestAppLockWaits(t *testing.T) {
	w, _ := lockWorld(t, 3*time.Second, 30*time.Second)
	before := w.snapshot()
	meta := strings.Replace(w.meta(w.version("v2"), "300ms"), "--restart unless-stopped ", "", 1)
	start := time.Now()
	require.NoError(t, w.d.Install("app-v2", meta, true), w.d.Log.String())
	took := time.Since(start)
	t.Log(w.d.Log.String())
	assert.Contains(t, w.d.Log.String(), "waiting up to 30s for the app to release its update lock")
	assert.GreaterOrEqual(t, took, 2*time.Second, "the install waited for the lock")
	after := w.snapshot()
	require.Len(t, after, 1)
	assert.NotEqual(t, before[0].ID, after[0].ID)
}

// An app that keeps its lock past app_lock_timeout: the install fails
// and nothing of the app changed.
func TestAppLockTimeout(t *testing.T) {
	w, _ := lockWorld(t, 0, time.Second)
	before := w.snapshot()
	v2 := w.version("v2")
	err := w.d.Install("app-v2", w.meta(v2, "300ms"), true)
	require.ErrorIs(t, err, module.ErrAppLocked)
	t.Log(err)
	assert.Contains(t, err.Error(), "app_lock_timeout")
	assert.Equal(t, before, w.snapshot(), "the old container ran throughout, untouched")
	assert.False(t, w.has(v2), "the failed update's image is removed")
	w.checkUnrelated()
}

// The lock file of earlier releases, <app>.lock in the directory all apps
// shared, still holds an install off while it exists.
func TestAppLockLegacyFile(t *testing.T) {
	w, dir := lockWorldAt(t, 0, time.Second, true)
	before := w.snapshot()
	err := w.d.Install("app-v2", w.meta(w.version("v2"), "300ms"), true)
	require.ErrorIs(t, err, module.ErrAppLocked)
	assert.Contains(t, err.Error(), filepath.Join(dir, w.app+".lock"))
	assert.Contains(t, w.d.Log.String(), "the update lock of earlier releases")
	assert.Equal(t, before, w.snapshot())
}
