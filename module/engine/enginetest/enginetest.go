// Package enginetest is the contract every engine.Engine must meet: the
// same suite runs against the in-memory engine and the real Docker
// adapter, so that what the state machine's fast tests prove with one holds
// for the other.
package enginetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
)

// TestLabel marks every container the suites create, so that they remove
// only their own.
const TestLabel = "io.mender.docker.test"

// Env is what the suite needs from the engine under test.
type Env struct {
	Engine engine.Engine
	// Image returns a pullable, pinned reference of a long-running image;
	// each call with a new name gives a distinct image. Its containers
	// print one line ending in " started" when they start.
	Image func(t *testing.T, name string) string
	// Missing is a well-formed pinned reference that cannot be pulled.
	Missing string
	// Archive returns docker-archives of two new images with the same,
	// new layers: with delta, the first leaves its layers out.
	Archive func(t *testing.T, delta bool) Archives
}

// Archives are an image to load and the base that a delta needs.
type Archives struct {
	Data   []byte
	ID     string
	Base   []byte
	BaseID string
}

// Run runs the contract against env.
func Run(t *testing.T, env Env) {
	ctx := context.Background()
	e := env.Engine
	run := randHex()
	labels := map[string]string{TestLabel: run}
	t.Cleanup(func() { RemoveLabelled(t, e, TestLabel, run) })

	require.NoError(t, e.Ping(ctx))

	img := env.Image(t, "contract-a")
	t.Cleanup(func() { e.RemoveImage(ctx, img) })

	t.Run("pull", func(t *testing.T) {
		ok, err := e.HasImage(ctx, img)
		require.NoError(t, err)
		assert.False(t, ok, "image present before pull")
		require.NoError(t, e.PullImage(ctx, img))
		ok, err = e.HasImage(ctx, img)
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, e.PullImage(ctx, img), "pulling twice")
		id, err := e.ImageID(ctx, img)
		require.NoError(t, err)
		assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, id)
		again, err := e.ImageID(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, id, again, "an image's ID names it")
		_, err = e.ImageID(ctx, env.Missing)
		assert.ErrorIs(t, err, engine.ErrNotFound)
	})
	t.Run("pull missing", func(t *testing.T) {
		assert.Error(t, e.PullImage(ctx, env.Missing))
	})
	t.Run("create from missing image", func(t *testing.T) {
		_, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: "mdtest-" + run + "-x", Image: env.Missing, Labels: labels, NetworkMode: "none"})
		assert.ErrorIs(t, err, engine.ErrNotFound)
	})

	name := "mdtest-" + run + "-a"
	cfg := engine.ContainerConfig{
		Name: name, Image: img, NetworkMode: "none", RestartPolicy: "unless-stopped",
		Labels: map[string]string{TestLabel: run, "x": "1"},
	}
	var id string
	t.Run("create", func(t *testing.T) {
		var err error
		id, err = e.CreateContainer(ctx, cfg)
		require.NoError(t, err)
		c, err := e.InspectContainer(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, name, c.Name)
		assert.Equal(t, img, c.Image)
		assert.Equal(t, "1", c.Labels["x"])
		assert.Equal(t, "unless-stopped", c.RestartPolicy)
		assert.False(t, c.State.Running)
		assert.Equal(t, "none", c.NetworkMode)
		assert.Empty(t, c.PidMode)

		_, err = e.CreateContainer(ctx, cfg)
		assert.ErrorIs(t, err, engine.ErrConflict, "same name twice")
	})
	require.NotEmpty(t, id)

	// Host binds are reported by list and inspect alike, as given; named
	// volumes are not binds.
	t.Run("binds", func(t *testing.T) {
		dir := t.TempDir()
		bl := map[string]string{TestLabel: run, "binds": "1"}
		bid, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: "mdtest-" + run + "-b", Image: img, NetworkMode: "none", Labels: bl,
			Binds: []string{dir + ":/rw", dir + "/sub:/ro:ro", "mdtest-" + run + "-vol:/vol"}})
		require.NoError(t, err)
		defer e.RemoveContainer(ctx, bid)
		want := []engine.Bind{{Source: dir + "/sub", Destination: "/ro", ReadOnly: true}, {Source: dir, Destination: "/rw"}}
		sorted := func(b []engine.Bind) []engine.Bind {
			return slices.SortedFunc(slices.Values(b), func(x, y engine.Bind) int { return strings.Compare(x.Destination, y.Destination) })
		}
		c, err := e.InspectContainer(ctx, bid)
		require.NoError(t, err)
		assert.Equal(t, want, sorted(c.Binds))
		l, err := e.ListContainers(ctx, bl)
		require.NoError(t, err)
		require.Len(t, l, 1)
		assert.Equal(t, want, sorted(l[0].Binds))
		require.NoError(t, e.RemoveContainer(ctx, bid))
		e.RemoveVolume(ctx, "mdtest-"+run+"-vol")
	})

	t.Run("list by label", func(t *testing.T) {
		l, err := e.ListContainers(ctx, labels)
		require.NoError(t, err)
		require.Len(t, l, 1)
		assert.Equal(t, id, l[0].ID)
		assert.Equal(t, name, l[0].Name)
		assert.Equal(t, img, l[0].Image)
		l, err = e.ListContainers(ctx, map[string]string{TestLabel: run, "x": ""})
		require.NoError(t, err)
		assert.Len(t, l, 1, "a label with an empty value matches on the key")
		l, err = e.ListContainers(ctx, map[string]string{TestLabel: run, "x": "2"})
		require.NoError(t, err)
		assert.Empty(t, l)
	})
	t.Run("start", func(t *testing.T) {
		require.NoError(t, e.StartContainer(ctx, id))
		require.NoError(t, e.StartContainer(ctx, id), "starting a running container")
		c, err := e.InspectContainer(ctx, id)
		require.NoError(t, err)
		assert.True(t, c.State.Running)
		assert.False(t, c.State.StartedAt.IsZero())
		l, err := e.ListContainers(ctx, labels)
		require.NoError(t, err)
		require.Len(t, l, 1)
		assert.True(t, l[0].State.Running)
	})
	t.Run("logs", func(t *testing.T) {
		// With and without a TTY (the shell format runs containers with
		// -t): the same lines, without "\r".
		tty := cfg
		tty.Name, tty.Tty, tty.OpenStdin = name+"-tty", true, true
		ttyID, err := e.CreateContainer(ctx, tty)
		require.NoError(t, err)
		defer e.RemoveContainer(ctx, ttyID)
		require.NoError(t, e.StartContainer(ctx, ttyID))
		for _, c := range []string{id, ttyID} {
			var lines []string
			require.Eventually(t, func() bool {
				lines, err = e.ContainerLogs(ctx, c, 20)
				return err == nil && len(lines) > 0
			}, time.Minute, 50*time.Millisecond, "no log from %s: %v", c, err)
			require.Len(t, lines, 1, "%q", lines)
			assert.True(t, strings.HasSuffix(lines[0], " started"), "%q", lines[0])
		}
		// Started again, the TTY container has written several lines.
		require.NoError(t, e.StopContainer(ctx, ttyID, 5*time.Second))
		require.NoError(t, e.StartContainer(ctx, ttyID))
		var lines []string
		require.Eventually(t, func() bool {
			lines, err = e.ContainerLogs(ctx, ttyID, 20)
			return err == nil && len(lines) > 1 && strings.HasSuffix(lines[len(lines)-1], " started")
		}, time.Minute, 50*time.Millisecond, "%q %v", lines, err)
		for _, l := range lines {
			assert.NotContains(t, l, "\r")
		}
		last, err := e.ContainerLogs(ctx, ttyID, 1)
		require.NoError(t, err)
		assert.Equal(t, lines[len(lines)-1:], last, "tail 1")
		none, err := e.ContainerLogs(ctx, ttyID, 0)
		require.NoError(t, err)
		assert.Empty(t, none, "tail 0")
		_, err = e.ContainerLogs(ctx, "mdtest-"+run+"-nonexistent", 20)
		assert.ErrorIs(t, err, engine.ErrNotFound)
	})
	t.Run("version", func(t *testing.T) {
		v, err := e.Version(ctx)
		require.NoError(t, err)
		assert.NotEmpty(t, v)
	})
	t.Run("rename while running", func(t *testing.T) {
		require.NoError(t, e.RenameContainer(ctx, id, name+"_prev"))
		c, err := e.InspectContainer(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, name+"_prev", c.Name)
		assert.True(t, c.State.Running)

		other, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: name, Image: img, Labels: labels, NetworkMode: "none"})
		require.NoError(t, err, "the old name is free again")
		assert.ErrorIs(t, e.RenameContainer(ctx, id, name), engine.ErrConflict)
		require.NoError(t, e.RemoveContainer(ctx, other))
		require.NoError(t, e.RenameContainer(ctx, id, name))
	})
	t.Run("rename after a restart", func(t *testing.T) {
		// In the default network mode, started, stopped and started
		// again: an engine without a default bridge cannot rename it
		// while it runs, and must say so with ErrRenameSandbox; stopped,
		// it can. An engine with a bridge renames it at once.
		r, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: name + "-re", Image: img, Labels: labels})
		require.NoError(t, err)
		defer e.RemoveContainer(ctx, r)
		require.NoError(t, e.StartContainer(ctx, r))
		require.NoError(t, e.StopContainer(ctx, r, 5*time.Second))
		require.NoError(t, e.StartContainer(ctx, r))
		err = e.RenameContainer(ctx, r, name+"-re_prev")
		if err != nil {
			require.ErrorIs(t, err, engine.ErrRenameSandbox)
			assert.NotErrorIs(t, err, engine.ErrNotFound, "the container is there")
			require.NoError(t, e.StopContainer(ctx, r, 5*time.Second))
			require.NoError(t, e.RenameContainer(ctx, r, name+"-re_prev"))
		}
		c, err := e.InspectContainer(ctx, r)
		require.NoError(t, err)
		assert.Equal(t, name+"-re_prev", c.Name)
	})
	t.Run("namespaces", func(t *testing.T) {
		// What a container joins is what the policy reads off it.
		j, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: name + "-ns", Image: img, Labels: labels, NetworkMode: "container:" + id, PidMode: "host", IpcMode: "container:" + id, UTSMode: "host"})
		require.NoError(t, err)
		defer e.RemoveContainer(ctx, j)
		c, err := e.InspectContainer(ctx, j)
		require.NoError(t, err)
		assert.Equal(t, "container:"+id, c.NetworkMode)
		assert.Equal(t, "host", c.PidMode)
		assert.Equal(t, "container:"+id, c.IpcMode)
		assert.Equal(t, "host", c.UTSMode)
	})
	t.Run("image in use", func(t *testing.T) {
		assert.ErrorIs(t, e.RemoveImage(ctx, img), engine.ErrConflict)
	})
	t.Run("stop", func(t *testing.T) {
		require.NoError(t, e.StopContainer(ctx, id, 5*time.Second))
		require.NoError(t, e.StopContainer(ctx, id, 5*time.Second), "stopping a stopped container")
		c, err := e.InspectContainer(ctx, id)
		require.NoError(t, err)
		assert.False(t, c.State.Running)
		assert.Equal(t, "unless-stopped", c.RestartPolicy)
		assert.ErrorIs(t, e.RemoveImage(ctx, img), engine.ErrConflict, "a stopped container still uses its image")
	})
	t.Run("remove container", func(t *testing.T) {
		require.NoError(t, e.StartContainer(ctx, id))
		require.NoError(t, e.RemoveContainer(ctx, id), "removing a running container")
		_, err := e.InspectContainer(ctx, id)
		assert.ErrorIs(t, err, engine.ErrNotFound)
		assert.ErrorIs(t, e.RemoveContainer(ctx, id), engine.ErrNotFound)
		assert.ErrorIs(t, e.StartContainer(ctx, id), engine.ErrNotFound)
	})
	t.Run("remove image", func(t *testing.T) {
		require.NoError(t, e.RemoveImage(ctx, img))
		ok, err := e.HasImage(ctx, img)
		require.NoError(t, err)
		assert.False(t, ok)
		assert.ErrorIs(t, e.RemoveImage(ctx, img), engine.ErrNotFound)
	})
}

// RunLoad checks LoadImage: full archives, deltas over layers the engine
// has, and deltas over layers it lacks.
func RunLoad(t *testing.T, env Env) {
	ctx := context.Background()
	e := env.Engine
	run := randHex()
	t.Cleanup(func() { RemoveLabelled(t, e, TestLabel, run) })

	t.Run("full", func(t *testing.T) {
		a := env.Archive(t, false)
		data, id := a.Data, a.ID
		t.Cleanup(func() { e.RemoveImage(ctx, id) })
		ok, err := e.HasImage(ctx, id)
		require.NoError(t, err)
		require.False(t, ok)
		require.NoError(t, e.LoadImage(ctx, bytes.NewReader(data)))
		ok, err = e.HasImage(ctx, id)
		require.NoError(t, err)
		assert.True(t, ok, "the image's ID is its config digest")
		got, err := e.ImageID(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, id, got)
		c, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: "mdtest-" + run + "-load", Image: id, NetworkMode: "none", Labels: map[string]string{TestLabel: run}})
		require.NoError(t, err)
		require.NoError(t, e.StartContainer(ctx, c))
		require.NoError(t, e.RemoveContainer(ctx, c))
		require.NoError(t, e.RemoveImage(ctx, id))
	})
	t.Run("delta without its base", func(t *testing.T) {
		a := env.Archive(t, true)
		err := e.LoadImage(ctx, bytes.NewReader(a.Data))
		require.Error(t, err)
		ok, _ := e.HasImage(ctx, a.ID)
		assert.False(t, ok)
	})
	t.Run("delta over its base", func(t *testing.T) {
		a := env.Archive(t, true)
		require.NoError(t, e.LoadImage(ctx, bytes.NewReader(a.Base)))
		t.Cleanup(func() { e.RemoveImage(ctx, a.BaseID) })
		require.NoError(t, e.LoadImage(ctx, bytes.NewReader(a.Data)))
		t.Cleanup(func() { e.RemoveImage(ctx, a.ID) })
		ok, err := e.HasImage(ctx, a.ID)
		require.NoError(t, err)
		assert.True(t, ok)
	})
	t.Run("corrupt", func(t *testing.T) {
		a := env.Archive(t, false)
		bad := bytes.Clone(a.Data)
		bad[len(bad)/2] ^= 0xff // inside a layer
		assert.Error(t, e.LoadImage(ctx, bytes.NewReader(bad)))
		ok, _ := e.HasImage(ctx, a.ID)
		assert.False(t, ok)
	})
}

// RemoveLabelled removes the containers, then the networks and volumes,
// that carry label=value, and only those.
func RemoveLabelled(t testing.TB, e engine.Engine, label, value string) {
	ctx := context.Background()
	sel := map[string]string{label: value}
	l, err := e.ListContainers(ctx, sel)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for _, c := range l {
		if err := e.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Logf("cleanup: %v", err)
		}
	}
	nets, err := e.ListNetworks(ctx, sel)
	if err != nil {
		t.Logf("cleanup: %v", err)
	}
	for _, n := range nets {
		if err := e.RemoveNetwork(ctx, n.Name); err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Logf("cleanup: %v", err)
		}
	}
	vols, err := e.ListVolumes(ctx, sel)
	if err != nil {
		t.Logf("cleanup: %v", err)
	}
	for _, v := range vols {
		if err := e.RemoveVolume(ctx, v.Name); err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Logf("cleanup: %v", err)
		}
	}
}

func randHex() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
