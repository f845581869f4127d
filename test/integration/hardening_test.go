package integration

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/dockerapi"
	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// metaNet is w.meta with the container's network mode given by runArgs
// ("" leaves Docker's default network mode).
func (w *world) metaNet(ref, runArgs string) string {
	return fmt.Sprintf(`{"app":%q,"health":{"window":"300ms","timeout":"20s"},"services":{"web":{"image":%q,"run_args":%q}}}`,
		w.app, ref, runArgs+" --restart unless-stopped")
}

// A dockerd without a default bridge (like this project's test daemon, and
// some devices) cannot rename a running container with the default network
// mode once it has been stopped and started again ("sandbox … not found"):
// exactly what a rollback does to the previous container. Updates after a
// rollback must still work, with the readable names kept.
func TestUpdateAfterRollback(t *testing.T) {
	for _, net := range []string{"", "--network none"} {
		name := "default network"
		if net != "" {
			name = net
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			v1, v2, v3 := w.version("v1"), w.version("v2"), w.version("v3")
			require.NoError(t, w.d.Install("app-v1", w.metaNet(v1, net), true), w.d.Log.String())
			require.NoError(t, w.d.Install("app-v2", w.metaNet(v2, net), false), w.d.Log.String())
			require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
			require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
			atV1 := w.snapshot()
			require.Len(t, atV1, 1)
			require.True(t, atV1[0].Running)

			// The previous container was restarted by the rollback; the
			// next updates must swap it all the same.
			require.NoError(t, w.d.Install("app-v3", w.metaNet(v3, net), false), w.d.Log.String())
			s := w.snapshot()
			require.Len(t, s, 2)
			assert.Equal(t, fixture.Snap{ID: s[0].ID, Name: w.app + "-web", Image: v3, RestartPolicy: "unless-stopped", Running: true}, s[0])
			assert.Equal(t, fixture.Snap{ID: atV1[0].ID, Name: w.app + "-web_prev", Image: v1, RestartPolicy: "unless-stopped"}, s[1])
			// Rolling back again, and updating again, still works.
			require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
			require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
			assert.Equal(t, atV1, w.snapshot())
			require.NoError(t, w.d.Install("app-v3", w.metaNet(v3, net), true), w.d.Log.String())
			s = w.snapshot()
			require.Len(t, s, 1)
			assert.Equal(t, w.app+"-web", s[0].Name)
			assert.Equal(t, v3, s[0].Image)
			assert.True(t, s[0].Running)
			w.checkUnrelated()
		})
	}
}

// A stop of the previous container that was sent before the module was
// killed, and that the engine finishes while rollback runs, must not leave
// the previous set stopped: rollback converges on the real engine.
func TestRollbackAfterStopInFlight(t *testing.T) {
	needDockerCLI(t)
	w := newWorld(t)
	// v1 takes a while to stop (less than the stop timeout), so that its
	// stop is still in flight when rollback looks at it.
	v1 := w.version("v1", "-term-delay", "3s")
	v2 := w.version("v2")
	require.NoError(t, w.d.Install("app-v1", w.metaNet(v1, "--network none"), true), w.d.Log.String())
	before := w.snapshot()
	require.Len(t, before, 1)

	// Install, killed once v1 has its stop signal (it says "stopping"):
	// the module had sent the stop of v1, and the engine carries on with
	// it.
	w.d.Artifact("app-v2", w.metaNet(v2, "--network none"))
	require.NoError(t, w.d.Run("Download"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if lines, err := w.d.Eng.ContainerLogs(context.Background(), before[0].ID, 10); err == nil && slices.Contains(lines, "stopping") {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	err := w.d.U.Run(ctx, "ArtifactInstall", w.d.Files, nil)
	cancel()
	require.Error(t, err, "the install was meant to be cut short")
	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("ArtifactFailure"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"), w.d.Log.String())
	// Judge once the stop in flight has landed (v1 has exited once: its
	// first exit, as it never stopped before), not after a guessed delay.
	require.Eventually(t, func() bool { return !inspectTime(t, before[0].ID, "FinishedAt").IsZero() }, time.Minute, 50*time.Millisecond)
	assert.Equal(t, before, w.snapshot(), "v1 runs again, same container:\n%s", w.d.Log.String())
	w.checkUnrelated()
}

// One deployment at a time: the boot-time recover started while an install
// runs waits for it, and gives up after lock_timeout without undoing it.
func TestRecoverWaitsForInstall(t *testing.T) {
	w := newWorld(t)
	v1 := w.version("v1")
	// v2 turns healthy only once the test opens its gate: the install
	// stays in its health window, holding the state lock, until then (an
	// event, so recover's attempt cannot race the window's end).
	gate := t.TempDir()
	v2 := w.push("web", fixture.Image{Version: "v2", Healthcheck: true, Args: []string{"-healthy-when", "/gate/open"}})
	require.NoError(t, w.d.Install("app-v1", w.metaNet(v1, "--network none"), true), w.d.Log.String())
	meta := strings.Replace(w.metaNet(v2, "--network none -v "+gate+":/gate"), `"timeout":"20s"`, `"timeout":"5m"`, 1)
	w.d.Artifact("app-v2", meta)
	require.NoError(t, w.d.Run("Download"))
	logged := len(w.d.Log.String())
	installed := make(chan error, 1)
	go func() { installed <- w.d.Run("ArtifactInstall") }()
	require.Eventually(t, func() bool { return strings.Contains(w.d.Log.String()[logged:], "watching 1 container(s)") },
		time.Minute, 20*time.Millisecond, "the install reaches its health window:\n%s", w.d.Log.String())

	other := module.New(w.d.Eng, w.d.U.Config, w.d.Log)
	other.Config.LockTimeout = config.Duration(500 * time.Millisecond)
	err := other.Recover(context.Background())
	require.ErrorIs(t, err, journal.ErrLocked)
	assert.Contains(t, err.Error(), "lock_timeout")
	select {
	case err := <-installed:
		t.Fatalf("the install ended (%v) before its container was healthy:\n%s", err, w.d.Log.String())
	default:
	}
	require.NoError(t, os.WriteFile(filepath.Join(gate, "open"), nil, 0o644))
	require.NoError(t, <-installed, w.d.Log.String())
	s := w.snapshot()
	require.Len(t, s, 2)
	assert.Equal(t, v2, s[0].Image, "the install went on untouched")
	assert.True(t, s[0].Running)

	// Waiting long enough, recover runs after the install, and leaves an
	// installed deployment for the client to commit.
	go func() { installed <- w.d.Run("ArtifactRollback") }()
	other.Config.LockTimeout = config.Duration(30 * time.Second)
	require.NoError(t, other.Recover(context.Background()))
	require.NoError(t, <-installed)
	require.NoError(t, w.d.Run("Cleanup"))
	s = w.snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, v1, s[0].Image)
	w.checkUnrelated()
}

// An image load whose stream stalls fails within the engine timeout
// instead of hanging, on the real engine.
func TestLoadStallTimesOut(t *testing.T) {
	fixture.Docker(t)
	e, err := dockerapi.New("", dockerapi.WithTimeout(time.Second))
	require.NoError(t, err)
	defer e.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write(make([]byte, 1024)) // then nothing more, never closed
	start := time.Now()
	err = e.LoadImage(context.Background(), pr)
	require.ErrorIs(t, err, engine.ErrTimeout)
	assert.Less(t, time.Since(start), 30*time.Second, "the stream never ends: only the timeout ends the load")
	assert.Contains(t, err.Error(), "engine_timeout")
}
