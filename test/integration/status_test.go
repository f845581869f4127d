package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/journal"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// moduleBinary builds the module as it ships.
func moduleBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "docker")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "../../cmd/docker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

// runStatus runs the binary (or the inventory script) with a device config
// pointing at the world's state directory.
func (w *world) runStatus(bin string, argv ...string) (string, int) {
	t := w.t
	conf := filepath.Join(t.TempDir(), "mender-docker.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(`{"state_dir":%q}`, w.d.U.Config.StateDir)), 0o600))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "MENDER_DOCKER_CONF="+conf, "MENDER_DOCKER_MODULE="+bin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	assert.Empty(t, stderr.String())
	return stdout.String(), code
}

// parseInventory reads an inventory script's output as the Mender clients
// do: every line is key=value, split at the first "=", with a non-empty
// key (mender-update 5 refuses the script's whole output otherwise); a
// repeated key makes a list.
func parseInventory(t *testing.T, out string) map[string][]string {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "%q", out)
	attrs := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		require.True(t, ok, "line without '=': %q", sc.Text())
		require.NotEmpty(t, strings.TrimSpace(k), "line without a key: %q", sc.Text())
		require.NotContains(t, sc.Text(), "\r")
		attrs[k] = append(attrs[k], v)
	}
	return attrs
}

// `docker status` shows each app's artifact, phase and containers, and its
// exit code says whether every app is healthy; the inventory script gives
// the same as key=value lines. Neither changes anything.
func TestStatusAndInventory(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	v1 := w.push("web", fixture.Image{Version: "v1", Healthcheck: true})
	t0 := time.Now()
	require.NoError(t, w.d.Install("app-v1", w.meta(v1, "300ms"), true), w.d.Log.String())

	st := w.d.U.Status(ctx, w.app)
	require.Empty(t, st.Engine.Error)
	assert.NotEmpty(t, st.Engine.Version)
	require.Len(t, st.Apps, 1)
	a := st.Apps[0]
	assert.Equal(t, w.app, a.App)
	assert.Equal(t, "app-v1", a.Artifact)
	assert.Equal(t, module.PhaseCommitted, a.Phase)
	assert.True(t, a.Healthy, "%v", a.Problems)
	require.Len(t, a.Containers, 1)
	c := a.Containers[0]
	assert.Equal(t, w.app+"-web", c.Name)
	assert.Equal(t, "web", c.Service)
	assert.Equal(t, v1, c.Image)
	assert.Equal(t, "running", c.State)
	assert.Equal(t, "healthy", c.Health)
	assert.Equal(t, 0, c.RestartCount)
	assert.WithinDuration(t, t0, c.StartedAt, time.Minute)
	assert.True(t, c.Current)

	// A failed update: status says where its evidence is.
	bad := w.version("v2-exits", "-exit-after", "200ms", "-code", "3")
	require.Error(t, w.d.Install("app-v2", w.crashMeta(bad, false), true))
	// The restarted v1 is "starting" until its health check passes again.
	require.Eventually(t, func() bool { return w.d.U.Status(ctx, w.app).Healthy }, 30*time.Second, 100*time.Millisecond)

	bin := moduleBinary(t)
	before := w.snapshot()
	stateBefore := treeOf(t, w.d.U.Config.StateDir)

	out, code := w.runStatus(bin, bin, "status", "--json", w.app)
	assert.Equal(t, 0, code, out)
	var js map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &js), out)
	assert.Equal(t, true, js["healthy"])
	app := js["apps"].([]any)[0].(map[string]any)
	assert.Equal(t, "app-v1", app["artifact"])
	assert.Equal(t, "committed", app["phase"])
	assert.Contains(t, app["last_failure"], filepath.Join(w.d.U.Config.StateDir, w.app, "failures"))
	jc := app["containers"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "id", "service", "image", "artifact", "state", "exit_code", "health", "restart_count", "started_at", "current"} {
		assert.Contains(t, jc, k)
	}
	assert.Equal(t, "running", jc["state"])

	text, code := w.runStatus(bin, bin, "status", w.app)
	assert.Equal(t, 0, code, text)
	t.Log("\n" + text)
	assert.Contains(t, text, "app "+w.app+": healthy, artifact app-v1, committed")

	inv, code := w.runStatus(bin, "../../scripts/mender-inventory-docker")
	assert.Equal(t, 0, code)
	t.Log("\n" + inv)
	attrs := parseInventory(t, inv)
	require.Len(t, attrs["docker_engine_version"], 1)
	assert.NotEmpty(t, attrs["docker_engine_version"][0])
	assert.Contains(t, attrs["docker_apps"], w.app)
	k := "docker_app_" + w.app + "_"
	assert.Equal(t, []string{"app-v1"}, attrs[k+"artifact"])
	assert.Equal(t, []string{"healthy"}, attrs[k+"health"])
	assert.Equal(t, []string{"1"}, attrs[k+"containers"])

	assert.Equal(t, before, w.snapshot(), "status changes no container")
	assert.Equal(t, stateBefore, treeOf(t, w.d.U.Config.StateDir), "status changes no file")

	// The app's container stops: status fails, the inventory says so.
	require.NoError(t, w.d.Eng.StopContainer(ctx, before[0].ID, 5*time.Second))
	text, code = w.runStatus(bin, bin, "status", w.app)
	assert.Equal(t, 1, code, text)
	assert.Contains(t, text, "problem: "+w.app+"-web is exited")
	inv, code = w.runStatus(bin, "../../scripts/mender-inventory-docker")
	assert.Equal(t, 0, code, "an inventory script reports, it does not fail")
	assert.Equal(t, []string{"unhealthy"}, parseInventory(t, inv)[k+"health"])
}

// status takes no lock: it answers while a deployment holds the state
// directory.
func TestStatusWhileLocked(t *testing.T) {
	w := newWorld(t)
	require.NoError(t, w.d.Install("app-v1", w.meta(w.version("v1"), "300ms"), true), w.d.Log.String())
	unlock, err := journal.Store{Dir: w.d.U.Config.StateDir}.Lock(context.Background(), time.Second, nil)
	require.NoError(t, err)
	defer unlock()
	bin := moduleBinary(t)
	start := time.Now()
	out, code := w.runStatus(bin, bin, "status", w.app)
	assert.Equal(t, 0, code, out)
	assert.Less(t, time.Since(start), 30*time.Second, "well before the lock_timeout of 2m")
}

// treeOf lists the files under dir with their sizes and times.
func treeOf(t *testing.T, dir string) map[string]string {
	out := map[string]string{}
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out[p] = fmt.Sprint(fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
		return nil
	}))
	return out
}
