package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// A Compose app from docker-artifact-gen --compose through the real
// client: install, update, rollback; the named volume keeps its data.
func TestComposeThroughMender(t *testing.T) { eachClient(t, testComposeThroughMender) }

func testComposeThroughMender(t *testing.T, cl client) {
	_, err := module.FindComposer(nil)
	fixture.Need(t, err == nil, "Docker Compose (docker-compose)")
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	for _, v := range []string{"1", "2"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/cweb", v, fixture.Image{Version: "cweb" + v, Args: []string{"-touch", "/data/v" + v}}))
	}
	pushed = append(pushed, fixture.MustPush(t, reg, "e2e/cdb", "1", fixture.Image{Version: "cdb1"}))
	volume := s.app + "_data"
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.ComposeProjectLabel, s.app)
		exec.Command("docker", "volume", "rm", "-f", volume).Run()
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	gen := func(name, tag string) string {
		dir := t.TempDir()
		compose := "services:\n" +
			"  web:\n    image: " + reg.Addr + "/e2e/cweb:" + tag + "\n    network_mode: none\n    restart: always\n    volumes: [\"data:/data\"]\n" +
			"  db:\n    image: " + reg.Addr + "/e2e/cdb:1\n    network_mode: none\n" +
			"volumes:\n  data: {}\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(compose), 0o644))
		return s.generate(name, "--app", s.app, "--health-window", "1s", "--compose", dir)
	}
	web := func() string {
		l, err := e.ListContainers(ctx, map[string]string{module.ComposeProjectLabel: s.app, "com.docker.compose.service": "web"})
		require.NoError(t, err)
		require.Len(t, l, 1)
		return l[0].Image
	}
	volumeHas := func(file string) bool {
		out, err := exec.Command("docker", "volume", "inspect", "-f", "{{.Mountpoint}}", volume).Output()
		require.NoError(t, err)
		_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), file))
		return err == nil
	}
	mender := func(args ...string) {
		out, err := s.mender(args...)
		require.NoError(t, err, out)
	}

	mender("install", gen("c-1", "1"))
	mender("commit")
	assert.Equal(t, pushed[0], web())
	mender("install", gen("c-2", "2"))
	assert.Equal(t, pushed[1], web())
	mender("rollback")
	assert.Equal(t, pushed[0], web(), "rolled back to the previous project")
	assert.Equal(t, "c-1", s.showArtifact())
	mender("install", gen("c-2", "2"))
	mender("commit")
	assert.Equal(t, pushed[1], web())
	assert.True(t, volumeHas("v1") && volumeHas("v2"), "the named volume kept v1's data through the update")
}

// A Compose app with its images inside the artifact, installed with the
// registry gone.
func TestComposeEmbeddedOffline(t *testing.T) { eachClient(t, testComposeEmbeddedOffline) }

func testComposeEmbeddedOffline(t *testing.T, cl client) {
	_, err := module.FindComposer(nil)
	fixture.Need(t, err == nil, "Docker Compose (docker-compose)")
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
		enginetest.RemoveLabelled(t, e, module.ComposeProjectLabel, s.app)
		e.RemoveImage(ctx, id.String())
	})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker-compose.yml"),
		[]byte("services:\n  web:\n    image: "+reg.Addr+"/e2e/coff:1\n    network_mode: none\n"), 0o644))
	out := s.generate("coff-1", "--app", s.app, "--health-window", "1s", "--compose", dir, "--embed")
	reg.Close() // no registry from here on

	o, err := s.mender("install", out)
	require.NoError(t, err, o)
	l, err := e.ListContainers(ctx, map[string]string{module.ComposeProjectLabel: s.app})
	require.NoError(t, err)
	require.Len(t, l, 1)
	c, err := e.InspectContainer(ctx, l[0].ID)
	require.NoError(t, err)
	assert.True(t, c.State.Running)
	assert.Equal(t, id.String(), c.Image, "the loaded image, by ID")
	o, err = s.mender("commit")
	require.NoError(t, err, o)
}
