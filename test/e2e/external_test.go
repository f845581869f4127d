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
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// A Compose app with an external network and an external volume, both
// made beforehand by the test (labelled as the test's, the network
// internal), through the real client: it installs, updates, rolls back and
// is removed with its volumes without the external ones changing. An
// artifact whose external network is missing fails in Download naming it,
// the device unchanged.
func TestExternalThroughMender(t *testing.T) { eachClient(t, testExternalThroughMender) }

func testExternalThroughMender(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	run := fixture.RandHex()
	net, vol := "e2e-ext-net-"+run, "e2e-ext-vol-"+run
	mine := map[string]string{enginetest.TestLabel: run}
	require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: net, Internal: true, Labels: mine}))
	require.NoError(t, e.CreateVolume(ctx, engine.VolumeConfig{Name: vol, Labels: mine}))
	var pushed []string
	for _, v := range []string{"1", "2"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/xweb", v, fixture.Image{Version: "xweb" + v + run}))
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		enginetest.RemoveLabelled(t, e, enginetest.TestLabel, run)
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	net0, err := e.InspectNetwork(ctx, net)
	require.NoError(t, err)
	vol0, err := e.InspectVolume(ctx, vol)
	require.NoError(t, err)
	untouched := func(when string) {
		t.Helper()
		n, err := e.InspectNetwork(ctx, net)
		require.NoError(t, err, when)
		assert.Equal(t, net0, n, when)
		v, err := e.InspectVolume(ctx, vol)
		require.NoError(t, err, when)
		assert.Equal(t, vol0, v, when)
	}
	gen := func(name, tag, netName string) string {
		dir := t.TempDir()
		compose := "services:\n  web:\n    image: " + reg.Addr + "/e2e/xweb:" + tag + "\n    restart: unless-stopped\n" +
			"    networks: [edge]\n    volumes: [\"shared:/shared\"]\n" +
			"networks:\n  edge:\n    external: true\n    name: " + netName + "\n" +
			"volumes:\n  shared:\n    external: true\n    name: " + vol + "\n"
		require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644))
		return s.generate(name, "--app", s.app, "--health-window", "1s", "--compose", dir)
	}
	mender := func(args ...string) {
		t.Helper()
		out, err := s.mender(args...)
		require.NoError(t, err, out)
	}
	running := func() engine.Container {
		t.Helper()
		l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: s.app})
		require.NoError(t, err)
		var up []engine.Container
		for _, c := range l {
			c, err := e.InspectContainer(ctx, c.ID)
			require.NoError(t, err)
			if c.State.Running {
				up = append(up, c)
			}
		}
		require.Len(t, up, 1)
		return up[0]
	}

	mender("install", gen("x-1", "1", net))
	mender("commit")
	c1 := running()
	assert.Equal(t, pushed[0], c1.Image)
	assert.Contains(t, c1.Networks, net)
	mounted, err := exec.Command("docker", "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/shared"}}{{.Name}}{{end}}{{end}}`, c1.ID).Output()
	require.NoError(t, err)
	assert.Equal(t, vol, strings.TrimSpace(string(mounted)))
	untouched("installed")

	mender("install", gen("x-2", "2", net))
	assert.Equal(t, pushed[1], running().Image)
	mender("rollback")
	assert.Equal(t, c1.ID, running().ID, "rollback restores the same container")
	assert.Equal(t, "x-1", s.showArtifact())
	untouched("rolled back")

	// The external network missing: Download fails naming it.
	out, err := s.mender("install", gen("x-missing", "2", "e2e-ext-missing-"+run))
	require.Error(t, err, out)
	assert.Contains(t, out, "the external network e2e-ext-missing-"+run+" does not exist on the device")
	assert.Equal(t, c1.ID, running().ID, "the device is unchanged")
	assert.Equal(t, "x-1", s.showArtifact())
	untouched("refused")

	mender("install", gen("x-2", "2", net))
	mender("commit")
	untouched("updated")
	mender("install", s.generate("x-gone", "--app", s.app, "--remove-app", "--remove-volumes"))
	mender("commit")
	l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: s.app})
	require.NoError(t, err)
	assert.Empty(t, l)
	untouched("removed with its volumes")
}
