package dockerapi_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// contractEnv is the real Docker engine, pulling from a registry on
// 127.0.0.1.
func contractEnv(t *testing.T) enginetest.Env {
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	return enginetest.Env{
		Engine: e,
		Image: func(t *testing.T, name string) string {
			return fixture.MustPush(t, reg, "mdtest/"+name, "v1", fixture.Image{Version: name + "-" + fixture.RandHex()})
		},
		Archive: fixture.Archives,
		Missing: reg.Addr + "/mdtest/missing@sha256:" + strings.Repeat("0", 64),
	}
}

// TestContract runs the engine contract against the real Docker engine.
func TestContract(t *testing.T) {
	env := contractEnv(t)
	enginetest.Run(t, env)
	enginetest.RunLoad(t, env)
}

// TestResources runs the networks and volumes contract against the real
// Docker engine.
func TestResources(t *testing.T) {
	enginetest.RunResources(t, contractEnv(t))
}

// A removed container takes its anonymous volumes (-v /path) with it, as
// `docker rm -v` does: every update would otherwise leave one behind. Its
// named volumes stay.
func TestRemoveContainerTakesAnonymousVolumes(t *testing.T) {
	fixture.Need(t, exec.Command("docker", "version").Run() == nil, "the docker CLI, to inspect")
	env := contractEnv(t)
	e, ctx := env.Engine, context.Background()
	run := fixture.RandHex()
	img := env.Image(t, "anon")
	require.NoError(t, e.PullImage(ctx, img))
	t.Cleanup(func() { e.RemoveImage(ctx, img) })
	named := "mdtest-named-" + run
	require.NoError(t, e.CreateVolume(ctx, engine.VolumeConfig{Name: named, Labels: map[string]string{enginetest.TestLabel: run}}))
	t.Cleanup(func() { enginetest.RemoveLabelled(t, e, enginetest.TestLabel, run) })
	id, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: "mdtest-anon-" + run, Image: img, NetworkMode: "none",
		Binds: []string{"/anon", named + ":/named"}, Labels: map[string]string{enginetest.TestLabel: run}})
	require.NoError(t, err)
	out, err := exec.Command("docker", "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}`, id).Output()
	require.NoError(t, err)
	anon := strings.TrimSpace(string(out))
	require.NotEmpty(t, anon)
	t.Cleanup(func() { exec.Command("docker", "volume", "rm", "-f", anon).Run() })

	require.NoError(t, e.RemoveContainer(ctx, id))
	assert.Error(t, exec.Command("docker", "volume", "inspect", anon).Run(), "the anonymous volume went with its container")
	_, err = e.InspectVolume(ctx, named)
	assert.NoError(t, err, "the named volume stays")
}
