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
// temporary one standing for /run/mender-docker): until the test creates
// release in that directory (release true) or until it stops. It returns
// once the lock is held, and the path of the release file.
func lockWorld(t *testing.T, release bool, timeout time.Duration) (*world, string) {
	w, mount := lockWorldAt(t, release, timeout, false)
	return w, filepath.Join(mount, "release")
}

// lockWorldAt is lockWorld, returning the host directory the app mounts;
// with legacy, the app mounts the whole lock directory and locks
// <app>.lock in it, as with earlier releases.
func lockWorldAt(t *testing.T, release bool, timeout time.Duration, legacy bool) (*world, string) {
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
	if release {
		args = append(args, "-lock-until", "/run/mender-docker/release")
	}
	v1 := w.push("web", fixture.Image{Version: "v1", Args: args})
	meta := fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":"--network none -v %s:/run/mender-docker"}}}`, w.app, v1, mount)
	require.NoError(t, w.d.Install("app-v1", meta, true), w.d.Log.String())
	fixture.WaitLocked(t, file)
	return w, mount
}

// An app that holds its update lock is not stopped until it lets go: the
// install waits, the app's container untouched, until the test makes the
// app release the lock (an event, so no timer races the install).
func TestAppLockWaits(t *testing.T) {
	w, release := lockWorld(t, true, 5*time.Minute)
	before := w.snapshot()
	meta := strings.Replace(w.meta(w.version("v2"), "300ms"), "--restart unless-stopped ", "", 1)
	installed := make(chan error, 1)
	go func() { installed <- w.d.Install("app-v2", meta, true) }()
	waiting := "waiting up to 5m0s for the app to release its update lock"
	require.Eventually(t, func() bool { return strings.Contains(w.d.Log.String(), waiting) }, time.Minute, 20*time.Millisecond, w.d.Log.String())
	select {
	case err := <-installed:
		t.Fatalf("the install ended (%v) while the app held its lock:\n%s", err, w.d.Log.String())
	default:
	}
	assert.Equal(t, before, w.snapshot(), "the app's container is untouched while it holds its lock")
	require.NoError(t, os.WriteFile(release, nil, 0o644))
	require.NoError(t, <-installed, w.d.Log.String())
	log := w.d.Log.String()
	t.Log(log)
	assert.Less(t, strings.Index(log, waiting), strings.LastIndex(log, "renamed "+w.app+"-web to"), "nothing of the app is touched before the lock")
	after := w.snapshot()
	require.Len(t, after, 1)
	assert.NotEqual(t, before[0].ID, after[0].ID)
}

// An app that keeps its lock past app_lock_timeout: the install fails
// and nothing of the app changed.
func TestAppLockTimeout(t *testing.T) {
	w, _ := lockWorld(t, false, time.Second)
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
	w, dir := lockWorldAt(t, false, time.Second, true)
	before := w.snapshot()
	err := w.d.Install("app-v2", w.meta(w.version("v2"), "300ms"), true)
	require.ErrorIs(t, err, module.ErrAppLocked)
	assert.Contains(t, err.Error(), filepath.Join(dir, w.app+".lock"))
	assert.Contains(t, w.d.Log.String(), "the update lock of earlier releases")
	assert.Equal(t, before, w.snapshot())
}
