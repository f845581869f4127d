package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// composeProject writes a three-service Compose project: db (health check,
// named volume, an alias on the back network), web (a config file, waits
// for db to be healthy, on both networks) and worker (waits for db to
// start). Both networks are internal: nothing here sends traffic.
func composeProject(t *testing.T, reg, webTag, conf string) string {
	dir := t.TempDir()
	compose := `services:
  db:
    image: ` + reg + `/e2e/gdb:1
    command: ["-healthy-after", "1s", "-touch", "/data/db"]
    healthcheck:
      test: ["CMD", "/testapp", "check"]
      interval: 1s
      retries: 30
    volumes: ["data:/data"]
    networks:
      back:
        aliases: [database]
  web:
    image: ` + reg + `/e2e/gweb:` + webTag + `
    command: ["-need", "/etc/web.conf", "-touch", "/data/web-` + webTag + `"]
    restart: unless-stopped
    configs:
      - source: webconf
        target: /etc/web.conf
    volumes: ["data:/data"]
    depends_on:
      db:
        condition: service_healthy
    networks: [back, front]
  worker:
    image: ` + reg + `/e2e/gworker:1
    depends_on: [db]
    networks: [back]
networks:
  back:
    internal: true
  front:
    internal: true
volumes:
  data: {}
configs:
  webconf:
    file: ./web.conf
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "web.conf"), []byte(conf), 0o644))
	return dir
}

// A Compose app compiled by docker-artifact-gen --compose, run by the
// module alone (no compose on the device), through the real client:
// install; update one service while the other two keep their containers;
// roll back to the very same containers; the volume keeps its data; then
// the app is removed.
func TestComposeThroughMender(t *testing.T) { eachClient(t, testComposeThroughMender) }

func testComposeThroughMender(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	for _, v := range []string{"1", "2"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/gweb", v, fixture.Image{Version: "gweb" + v}))
	}
	pushed = append(pushed, fixture.MustPush(t, reg, "e2e/gdb", "1", fixture.Image{Version: "gdb1"}))
	pushed = append(pushed, fixture.MustPush(t, reg, "e2e/gworker", "1", fixture.Image{Version: "gworker1"}))
	volume, back, front := s.app+"_data", s.app+"_back", s.app+"_front"
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		exec.Command("docker", "network", "rm", back, front).Run()
		exec.Command("docker", "volume", "rm", "-f", volume).Run()
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	gen := func(name, webTag, conf string) string {
		return s.generate(name, "--app", s.app, "--health-window", "2s", "--compose", composeProject(t, reg.Addr, webTag, conf))
	}
	mender := func(args ...string) {
		out, err := s.mender(args...)
		require.NoError(t, err, out)
	}
	type seen struct {
		id, image string
		started   time.Time
		networks  map[string][]string
	}
	services := func() map[string]seen {
		l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: s.app})
		require.NoError(t, err)
		out := map[string]seen{}
		for _, c := range l {
			c, err := e.InspectContainer(ctx, c.ID)
			require.NoError(t, err)
			if !c.State.Running {
				continue
			}
			svc := c.Labels[module.LabelService]
			require.NotContains(t, out, svc, "one running container per service")
			require.Equal(t, s.app+"-"+svc, c.Name)
			out[svc] = seen{c.ID, c.Image, c.State.StartedAt, c.Networks}
		}
		return out
	}
	volumeHas := func(file string) bool {
		out, err := exec.Command("docker", "volume", "inspect", "-f", "{{.Mountpoint}}", volume).Output()
		require.NoError(t, err)
		_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), file))
		return err == nil
	}
	mender("install", gen("g-1", "1", "level=1\n"))
	mender("commit")
	v1 := services()
	require.Len(t, v1, 3)
	assert.Equal(t, pushed[0], v1["web"].image)
	assert.Equal(t, []string{"db", "database"}, v1["db"].networks[back], "db answers to its service name and its alias on the back network, as with Compose")
	assert.Contains(t, v1["web"].networks, back)
	assert.Contains(t, v1["web"].networks, front)
	assert.Equal(t, map[string][]string{back: nil}, clearAliases(v1["worker"].networks))
	for _, n := range []string{back, front} {
		out, err := exec.Command("docker", "network", "inspect", "-f", "{{.Internal}} {{index .Labels \""+module.LabelApp+"\"}}", n).Output()
		require.NoError(t, err, n)
		assert.Equal(t, "true "+s.app, strings.TrimSpace(string(out)), "network %s is internal and ours", n)
	}
	assert.True(t, volumeHas("db") && volumeHas("web-1"))
	assert.GreaterOrEqual(t, v1["web"].started.Sub(v1["db"].started), 900*time.Millisecond, "web starts once db is healthy (db turns healthy after 1s)")

	// Update web only: db and worker keep their containers, untouched.
	mender("install", gen("g-2", "2", "level=1\n"))
	v2 := services()
	require.Len(t, v2, 3)
	assert.Equal(t, pushed[1], v2["web"].image)
	assert.NotEqual(t, v1["web"].id, v2["web"].id)
	for _, svc := range []string{"db", "worker"} {
		assert.Equal(t, v1[svc].id, v2[svc].id, "%s keeps its container", svc)
		assert.True(t, v1[svc].started.Equal(v2[svc].started), "%s was not restarted", svc)
	}
	mender("rollback")
	back1 := services()
	for svc, c := range v1 {
		assert.Equal(t, c.id, back1[svc].id, "rollback restores the same %s container", svc)
	}
	assert.Equal(t, "g-1", s.showArtifact())

	// A changed config file replaces web, and only web.
	mender("install", gen("g-3", "2", "level=2\n"))
	mender("commit")
	v3 := services()
	assert.Equal(t, pushed[1], v3["web"].image)
	assert.Equal(t, v1["db"].id, v3["db"].id)
	logs, err := e.ContainerLogs(ctx, v3["web"].id, 10)
	require.NoError(t, err)
	assert.Contains(t, strings.Join(logs, "\n"), "/etc/web.conf: level=2", "web reads the new config file")
	assert.True(t, volumeHas("db") && volumeHas("web-1") && volumeHas("web-2"), "the volume kept its data through update, rollback and update")

	// Removal: containers and networks go; the volume stays unless asked.
	mender("install", s.generate("g-gone", "--app", s.app, "--remove-app"))
	mender("commit")
	l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: s.app})
	require.NoError(t, err)
	assert.Empty(t, l)
	for _, n := range []string{back, front} {
		assert.Error(t, exec.Command("docker", "network", "inspect", n).Run(), "network %s removed with the app", n)
	}
	assert.True(t, volumeHas("db"), "the volume and its data stay unless the removal asks for them")
}

func clearAliases(n map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k := range n {
		out[k] = nil
	}
	return out
}

// A Compose app with its images inside the artifact, installed with the
// registry gone.
func TestComposeEmbeddedOffline(t *testing.T) { eachClient(t, testComposeEmbeddedOffline) }

func testComposeEmbeddedOffline(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	run := fixture.RandHex()
	spec := fixture.Image{Version: "coff-" + run}
	fixture.MustPush(t, reg, "e2e/coff", "1", spec)
	img, err := fixture.Build(spec)
	require.NoError(t, err)
	id, _ := img.ConfigName()
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		e.RemoveImage(ctx, id.String())
	})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker-compose.yml"),
		[]byte("services:\n  web:\n    image: "+reg.Addr+"/e2e/coff:1\n    network_mode: none\n"), 0o644))
	out := s.generate("coff-1", "--app", s.app, "--health-window", "1s", "--compose", dir, "--embed")
	reg.Close() // no registry from here on

	o, err := s.mender("install", out)
	require.NoError(t, err, o)
	l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: s.app})
	require.NoError(t, err)
	require.Len(t, l, 1)
	c, err := e.InspectContainer(ctx, l[0].ID)
	require.NoError(t, err)
	assert.True(t, c.State.Running)
	assert.Equal(t, id.String(), c.Image, "the loaded image, by ID")
	o, err = s.mender("commit")
	require.NoError(t, err, o)
}
