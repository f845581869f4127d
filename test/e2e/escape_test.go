package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dockerclient "github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// Compose's $${VAR} through the real client: a health check's CMD-SHELL
// runs with the container's own ${PROBE}, while the device has a
// parameter PROBE for the app that would have filled it in; the install
// succeeds only if the probe saw the container's value.
func TestComposeEscapeThroughMender(t *testing.T) { eachClient(t, testComposeEscapeThroughMender) }

func testComposeEscapeThroughMender(t *testing.T, cl client) {
	s := newSandbox(t, cl, "", map[string]any{"params_dir": "PARAMS"})
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	ref := fixture.MustPush(t, reg, "e2e/escape", "1", fixture.Image{Version: "escape1"})
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		e.RemoveImage(ctx, ref)
	})
	// The module's config names params_dir: point it at the sandbox's.
	params := s.path("params")
	require.NoError(t, os.MkdirAll(params, 0o755))
	conf, err := os.ReadFile(s.path("mender-docker.conf"))
	require.NoError(t, err)
	s.write("mender-docker.conf", strings.Replace(string(conf), `"PARAMS"`, fmt.Sprintf("%q", params), 1))
	s.write("params/"+s.app+".json", `{"PROBE":"outside"}`)

	dir := t.TempDir()
	project := "services:\n  probe:\n    image: " + reg.Addr + "/e2e/escape:1\n    network_mode: none\n    environment: {PROBE: inside}\n" +
		"    volumes:\n" + shellVolumes(t) + "\n" +
		"    healthcheck:\n      test: [\"CMD-SHELL\", \"echo \\\"probe=$${PROBE}\\\"; test \\\"$${PROBE}\\\" = inside\"]\n      interval: 1s\n      retries: 60\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(project), 0o644))
	out, err := s.mender("install", s.generate("esc-1", "--app", s.app, "--compose", dir))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)

	c, err := dockerclient.New(dockerclient.FromEnv)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.ContainerInspect(ctx, s.app+"-probe", dockerclient.ContainerInspectOptions{})
	require.NoError(t, err)
	r := res.Container
	assert.Equal(t, []string{"CMD-SHELL", `echo "probe=${PROBE}"; test "${PROBE}" = inside`}, r.Config.Healthcheck.Test)
	require.NotNil(t, r.State.Health)
	require.NotEmpty(t, r.State.Health.Log)
	assert.Equal(t, "probe=inside\n", r.State.Health.Log[0].Output)
}

// shellVolumes are compose volume lines binding the machine's /bin/sh and
// the libraries ldd names for it at the same paths (the test image has
// no shell).
func shellVolumes(t *testing.T) string {
	out, err := exec.Command("ldd", "/bin/sh").Output()
	require.NoError(t, err)
	paths := []string{"/bin/sh"}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			paths = append(paths, f)
		}
	}
	var lines []string
	for _, p := range paths {
		src, err := filepath.EvalSymlinks(p)
		require.NoError(t, err)
		lines = append(lines, fmt.Sprintf("      - %s:%s:ro", src, p))
	}
	return strings.Join(lines, "\n")
}
