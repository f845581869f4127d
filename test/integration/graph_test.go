package integration

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// inspectField is one field of `docker inspect` of a container.
func inspectField(t *testing.T, id, format string) string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", format, id).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

func inspectTime(t *testing.T, id, field string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, inspectField(t, id, "{{.State."+field+"}}"))
	require.NoError(t, err)
	return ts
}

// byName is the app's containers, inspected, by name.
func (w *world) byName() map[string]engine.Container {
	out := map[string]engine.Container{}
	for _, s := range w.snapshot() {
		c, err := w.d.Eng.InspectContainer(context.Background(), s.ID)
		require.NoError(w.t, err)
		out[s.Name] = c
	}
	return out
}

// A graph app on the real engine (no networks: the test engine has no
// bridge): db with a health check, migrate a one-shot, web waiting for db
// healthy and migrate done, with a file of the archive, api handed over.
// Services start in dependency order; the file is mounted read-only; api's
// new container starts before its old one stops; a rollback brings back
// the same containers; db, unchanged, is never restarted.
func TestGraphOnEngine(t *testing.T) {
	needDockerCLI(t)
	w := newWorld(t)
	db := w.push("db", fixture.Image{Version: "db1", Healthcheck: true, Args: []string{"-healthy-after", "300ms"}})
	migrate := func(v string) string {
		return w.push("migrate", fixture.Image{Version: "migrate" + v, Args: []string{"-exit-after", "300ms", "-code", "0"}})
	}
	api := func(v string) string {
		return w.push("api", fixture.Image{Version: "api" + v, Healthcheck: true, Args: []string{"-healthy-after", "300ms"}})
	}
	web := func(v string) string { return w.version("web" + v) }
	meta := func(migrate, web, api string, archive []byte) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"500ms","timeout":"20s"},"files":{"archive":"files.tar","digest":"sha256:%s"},"services":{`+
			`"db":{"image":%q,"run_args":"--network none --restart unless-stopped"},`+
			`"migrate":{"image":%q,"run_args":"--network none","depends_on":{"db":"service_healthy"}},`+
			`"web":{"image":%q,"run_args":"--network none --restart unless-stopped","files":{"/etc/web.conf":"web.conf"},"depends_on":{"db":"service_healthy","migrate":"service_completed_successfully"}},`+
			`"api":{"image":%q,"run_args":"--network none","update":"hand-over","depends_on":{"db":"service_started"}}}}`,
			w.app, sha256Sum(archive), db, migrate, web, api)
	}
	deploy := func(name, meta string, archive []byte, commit bool) error {
		w.d.Artifact(name, meta)
		require.NoError(t, os.MkdirAll(w.d.Files+"/files", 0o755))
		require.NoError(t, os.WriteFile(w.d.Files+"/files/files.tar", archive, 0o644))
		if err := w.d.Run("Download"); err != nil {
			w.d.Run("Cleanup")
			return err
		}
		if err := w.d.Run("ArtifactInstall"); err != nil {
			w.d.Run("ArtifactRollback")
			w.d.Run("ArtifactFailure")
			w.d.Run("Cleanup")
			return err
		}
		if !commit {
			return nil
		}
		if err := w.d.Run("ArtifactCommit"); err != nil {
			return err
		}
		return w.d.Run("Cleanup")
	}
	n := func(s string) string { return w.app + "-" + s }

	a1 := filesTar(t, map[string]string{"web.conf": "one\n"})
	require.NoError(t, deploy("shop-1", meta(migrate("1"), web("1"), api("1"), a1), a1, true), w.d.Log.String())
	cs := w.byName()
	require.Len(t, cs, 4, "%v", cs)
	started := func(s string) time.Time { return cs[n(s)].State.StartedAt }
	assert.True(t, started("db").Before(started("migrate")))
	assert.True(t, inspectTime(t, cs[n("migrate")].ID, "FinishedAt").Before(started("web")), "web starts once migrate is done")
	assert.Equal(t, 0, cs[n("migrate")].State.ExitCode)
	assert.False(t, cs[n("migrate")].State.Running)
	assert.True(t, started("db").Before(started("api")))
	var mounts []struct {
		Source, Destination string
		RW                  bool
	}
	require.NoError(t, json.Unmarshal([]byte(inspectField(t, cs[n("web")].ID, "{{json .Mounts}}")), &mounts))
	require.Len(t, mounts, 1)
	assert.Equal(t, "/etc/web.conf", mounts[0].Destination)
	assert.False(t, mounts[0].RW, "read-only")
	b, err := os.ReadFile(mounts[0].Source)
	require.NoError(t, err)
	assert.Equal(t, "one\n", string(b))

	before := w.snapshot()
	oldAPI, oldDB := cs[n("api")], cs[n("db")]
	a2 := filesTar(t, map[string]string{"web.conf": "two\n"})
	require.NoError(t, deploy("shop-2", meta(migrate("2"), web("2"), api("2"), a2), a2, false), w.d.Log.String())
	cs = w.byName()
	newAPI := cs[n("api")]
	assert.NotEqual(t, oldAPI.ID, newAPI.ID)
	assert.Equal(t, engine.HealthHealthy, newAPI.State.Health)
	assert.True(t, newAPI.State.StartedAt.Before(inspectTime(t, oldAPI.ID, "FinishedAt")), "hand-over: the new api ran before the old one stopped")
	assert.Equal(t, oldDB.ID, cs[n("db")].ID, "db unchanged: kept")
	assert.False(t, cs[n("api_prev")].State.Running)

	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, before, w.snapshot(), "the same containers, names and states")
	assert.True(t, oldDB.State.StartedAt.Equal(w.byName()[n("db")].State.StartedAt), "db never restarted")

	require.NoError(t, deploy("shop-2", meta(migrate("2"), web("2"), api("2"), a2), a2, true), w.d.Log.String())
	cs = w.byName()
	assert.Len(t, cs, 4)
	assert.Equal(t, api("2"), cs[n("api")].Image)
	assert.Equal(t, oldDB.ID, cs[n("db")].ID)
	w.checkUnrelated()
}

func sha256Sum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// TestGraphNetworksVolumes needs the Docker adapter's networks and volumes
// (issue #10, dockerapi): two internal networks with aliases, a named
// volume whose data survives an update, a rollback and a removal without
// remove_volumes, and goes with remove_volumes. Attachment is checked by
// inspecting, never by traffic.
func TestGraphNetworksVolumes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	_, err := w.d.Eng.ListNetworks(ctx, map[string]string{module.LabelApp: w.app})
	fixture.Need(t, err == nil, fmt.Sprintf("the Docker adapter's networks and volumes (%v)", err))
	t.Cleanup(func() {
		exec.Command("docker", "network", "rm", w.app+"_front", w.app+"_back").Run()
		exec.Command("docker", "volume", "rm", "-f", w.app+"_data").Run()
	})
	meta := func(web string) string {
		return fmt.Sprintf(`{"app":%q,"health":{"window":"500ms","timeout":"20s"},`+
			`"networks":{"front":{"internal":true},"back":{"internal":true}},"volumes":{"data":{}},"services":{`+
			`"db":{"image":%q,"run_args":"-v data:/data","networks":{"back":["database"]}},`+
			`"web":{"image":%q,"networks":{"front":["www"],"back":[]},"depends_on":{"db":"service_started"}}}}`,
			w.app, w.push("db", fixture.Image{Version: "db1", Args: []string{"-touch", "/data/db1"}}), web)
	}
	n := func(s string) string { return w.app + "-" + s }
	require.NoError(t, w.d.Install("shop-1", meta(w.version("web1")), true), w.d.Log.String())
	check := func(label string) {
		t.Helper()
		cs := w.byName()
		assert.Equal(t, map[string][]string{w.app + "_back": {"database"}}, cs[n("db")].Networks, label)
		assert.ElementsMatch(t, []string{w.app + "_front", w.app + "_back"}, keys(cs[n("web")].Networks), label)
		assert.Equal(t, []string{"www"}, cs[n("web")].Networks[w.app+"_front"], label)
		for _, name := range []string{"front", "back"} {
			nw, err := w.d.Eng.InspectNetwork(ctx, w.app+"_"+name)
			require.NoError(t, err, label)
			assert.True(t, nw.Internal, label)
			assert.Equal(t, w.app, nw.Labels[module.LabelApp], label)
		}
		v, err := w.d.Eng.InspectVolume(ctx, w.app+"_data")
		require.NoError(t, err, label)
		assert.Equal(t, w.app, v.Labels[module.LabelApp], label)
	}
	check("installed")
	before := w.snapshot()
	require.NoError(t, w.d.Install("shop-2", meta(w.version("web2")), false), w.d.Log.String())
	check("updated")
	require.NoError(t, w.d.Run("ArtifactRollback"))
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, before, w.snapshot())
	check("rolled back")

	require.NoError(t, w.d.Install("gone", fmt.Sprintf(`{"app":%q,"remove":true}`, w.app), true), w.d.Log.String())
	assert.Empty(t, w.snapshot())
	_, err = w.d.Eng.InspectNetwork(ctx, w.app+"_front")
	assert.ErrorIs(t, err, engine.ErrNotFound)
	_, err = w.d.Eng.InspectVolume(ctx, w.app+"_data")
	require.NoError(t, err, "volumes stay without remove_volumes")
	require.NoError(t, w.d.Install("shop-1", meta(w.version("web1")), true), w.d.Log.String())
	require.NoError(t, w.d.Install("gone", fmt.Sprintf(`{"app":%q,"remove":true,"remove_volumes":true}`, w.app), true), w.d.Log.String())
	_, err = w.d.Eng.InspectVolume(ctx, w.app+"_data")
	assert.ErrorIs(t, err, engine.ErrNotFound)
	w.checkUnrelated()
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// An app that Docker Compose ran (containers labelled as its project) is
// taken over by its first update on the real engine: the Compose
// containers stop at install, the same ones run again after a rollback,
// and they are removed at commit.
func TestTakeOverComposeApp(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	t.Cleanup(func() { enginetest.RemoveLabelled(t, w.d.Eng, module.ComposeProjectLabel, w.app) })
	old := w.push("composed", fixture.Image{Version: "composed"})
	require.NoError(t, w.d.Eng.PullImage(ctx, old))
	for _, svc := range []string{"web", "db"} {
		id, err := w.d.Eng.CreateContainer(ctx, engine.ContainerConfig{Name: w.app + "-" + svc + "-1", Image: old, NetworkMode: "none", RestartPolicy: "always",
			Labels: map[string]string{module.ComposeProjectLabel: w.app, module.ComposeServiceLabel: svc}})
		require.NoError(t, err)
		require.NoError(t, w.d.Eng.StartContainer(ctx, id))
	}
	composed := func() []fixture.Snap { return w.d.Snapshot(map[string]string{module.ComposeProjectLabel: w.app}) }
	before := composed()
	require.Len(t, before, 2)

	require.NoError(t, w.d.Install("shop-1", w.meta(w.version("web1"), "500ms"), false), w.d.Log.String())
	for _, s := range composed() {
		assert.False(t, s.Running, "%s stopped at install", s.Name)
	}
	require.NoError(t, w.d.Run("ArtifactRollback"), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, before, composed(), "the same Compose containers run again")
	assert.Empty(t, w.snapshot())

	require.NoError(t, w.d.Install("shop-1", w.meta(w.version("web1"), "500ms"), true), w.d.Log.String())
	assert.Empty(t, composed(), "removed at commit")
	s := w.snapshot()
	require.Len(t, s, 1)
	assert.True(t, s[0].Running)
	w.checkUnrelated()
}
