package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/cli"
	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// A preload directory, as an OS image would ship it, starts the app on a
// fresh engine with no registry; a second run does nothing; an update after
// it rolls back to the preloaded set.
func TestPreload(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dir := t.TempDir()
	spec := fixture.Image{Version: "pre-" + w.app, PadBytes: 1 << 20, PadSeed: int64(len(w.app)) + 1000}
	data, id, err := fixture.Archive(spec, []string{"127.0.0.1:9/preload/web:1"}, nil)
	require.NoError(t, err)
	archive := filepath.Join(dir, "web.tar")
	require.NoError(t, os.WriteFile(archive, data, 0o644))
	t.Cleanup(func() { w.d.Eng.RemoveImage(ctx, id) })
	has, _ := w.d.Eng.HasImage(ctx, id)
	require.False(t, has, "the engine starts without the image")

	pre := filepath.Join(dir, "preload")
	var stdout, stderr strings.Builder
	require.Equal(t, 0, cli.Main([]string{"preload", "-o", pre, "--app", w.app, "-n", "factory-1", "--health-window", "500ms",
		"--service", "web=docker-archive:" + archive + ",--network none --restart always"}, &stdout, &stderr), stderr.String())

	require.NoError(t, w.d.U.Preload(ctx, pre), w.d.Log.String())
	preloaded := w.snapshot()
	require.Len(t, preloaded, 1)
	assert.Equal(t, fixture.Snap{ID: preloaded[0].ID, Name: w.app + "-web", Image: id, RestartPolicy: "always", Running: true}, preloaded[0])

	require.NoError(t, w.d.U.Preload(ctx, pre), "second boot")
	assert.Equal(t, preloaded, w.snapshot(), "a second run changes nothing")
	assert.Contains(t, w.d.Log.String(), "nothing to preload")

	v2 := w.version("v2")
	require.NoError(t, w.d.Install("app-v2", w.meta(v2, "300ms"), false), w.d.Log.String())
	require.NoError(t, w.d.Run("ArtifactRollback"))
	require.NoError(t, w.d.Run("Cleanup"))
	assert.Equal(t, preloaded, w.snapshot(), "rollback restores the preloaded set")

	require.NoError(t, w.d.Install("app-v2", w.meta(v2, "300ms"), true))
	c, err := w.d.Eng.InspectContainer(ctx, w.snapshot()[0].ID)
	require.NoError(t, err)
	assert.Equal(t, "app-v2", c.Labels[module.LabelArtifact])
	require.NoError(t, w.d.U.Preload(ctx, pre), "a later boot after an update")
	assert.Equal(t, v2, w.snapshot()[0].Image, "the preload does not come back")
	w.checkUnrelated()
}

// A Compose project compiled by "docker-artifact-gen preload --compose"
// preloads as any app: two services on an internal network (db with an
// alias), a named volume, a config file from the files archive, web
// waiting for db to be healthy. Preload, with the registry gone, starts
// both with the network, the volume and the read-only config; a second
// run does nothing. Attachment is checked by inspecting, never by traffic.
func TestPreloadCompose(t *testing.T) {
	needDockerCLI(t)
	w := newWorld(t)
	ctx := context.Background()
	dbSpec := fixture.Image{Version: "pdb-" + w.app, Args: []string{"-healthy-after", "300ms"}}
	webSpec := fixture.Image{Version: "pweb-" + w.app}
	db, web := w.push("pdb", dbSpec), w.push("pweb", webSpec)
	var ids []string
	for _, s := range []fixture.Image{dbSpec, webSpec} {
		img, err := fixture.Build(s)
		require.NoError(t, err)
		id, err := img.ConfigName()
		require.NoError(t, err)
		ids = append(ids, id.String())
	}
	// Loaded from the preload directory under the module's own name:
	// removed by ID, once the containers that use them are gone (cleanups
	// run last first, so newWorld's would come too late).
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, w.d.Eng, module.LabelApp, w.app)
		for _, id := range ids {
			if err := w.d.Eng.RemoveImage(ctx, id); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
	})
	dir := t.TempDir()
	project := `services:
  db:
    image: ` + db + `
    command: ["-healthy-after", "300ms", "-touch", "/data/db"]
    healthcheck:
      test: ["CMD", "/testapp", "check"]
      interval: 200ms
      retries: 50
    volumes: ["data:/data"]
    networks:
      back:
        aliases: [database]
  web:
    image: ` + web + `
    command: ["-need", "/etc/web.conf"]
    configs:
      - source: webconf
        target: /etc/web.conf
    depends_on:
      db:
        condition: service_healthy
    networks: [back]
networks:
  back:
    internal: true
volumes:
  data: {}
configs:
  webconf:
    file: ./web.conf
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(project), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "web.conf"), []byte("preloaded "+w.app+"\n"), 0o644))

	pre := filepath.Join(t.TempDir(), "preload")
	var stdout, stderr strings.Builder
	require.Equal(t, 0, cli.Main([]string{"preload", "-o", pre, "--app", w.app, "-n", "factory-compose", "--health-window", "500ms",
		"--compose", dir}, &stdout, &stderr), stderr.String())
	w.reg.Close() // the device has no registry: everything comes from the directory

	require.NoError(t, w.d.U.Preload(ctx, pre), w.d.Log.String())
	n := func(s string) string { return w.app + "-" + s }
	cs := w.byName()
	require.Len(t, cs, 2, "%v", cs)
	back, data := spec.ResourceName(w.app, "back"), spec.ResourceName(w.app, "data")
	for _, s := range []string{"db", "web"} {
		assert.True(t, cs[n(s)].State.Running, s)
		assert.Equal(t, "factory-compose", cs[n(s)].Labels[module.LabelArtifact], s)
	}
	assert.Equal(t, engine.HealthHealthy, cs[n("db")].State.Health)
	assert.True(t, cs[n("db")].State.StartedAt.Before(cs[n("web")].State.StartedAt), "web waits for db")
	assert.Equal(t, map[string][]string{back: {"db", "database"}}, cs[n("db")].Networks)
	assert.Equal(t, []string{back}, keys(cs[n("web")].Networks))
	nw, err := w.d.Eng.InspectNetwork(ctx, back)
	require.NoError(t, err)
	assert.True(t, nw.Internal)
	assert.Equal(t, w.app, nw.Labels[module.LabelApp])
	v, err := w.d.Eng.InspectVolume(ctx, data)
	require.NoError(t, err)
	assert.Equal(t, w.app, v.Labels[module.LabelApp])

	type mountInfo struct {
		Type, Name, Source, Destination string
		RW                              bool
	}
	mounts := func(id string) map[string]mountInfo {
		var l []mountInfo
		require.NoError(t, json.Unmarshal([]byte(inspectField(t, id, "{{json .Mounts}}")), &l))
		out := map[string]mountInfo{}
		for _, m := range l {
			out[m.Destination] = m
		}
		return out
	}
	dbData := mounts(cs[n("db")].ID)["/data"]
	assert.Equal(t, "volume", dbData.Type)
	assert.Equal(t, data, dbData.Name)
	conf, ok := mounts(cs[n("web")].ID)["/etc/web.conf"]
	require.True(t, ok, "the config is mounted")
	assert.False(t, conf.RW, "read-only")
	b, err := os.ReadFile(conf.Source)
	require.NoError(t, err)
	assert.Equal(t, "preloaded "+w.app+"\n", string(b))

	preloaded := w.snapshot()
	logged := len(w.d.Log.String())
	require.NoError(t, w.d.U.Preload(ctx, pre), "second boot")
	assert.Equal(t, preloaded, w.snapshot(), "a second run changes nothing")
	assert.Contains(t, w.d.Log.String()[logged:], "nothing to preload")
	w.checkUnrelated()
}
