package enginetest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
)

// RunResources checks networks and volumes: create, inspect, list by
// label, remove, and what keeps them from being removed; and a container
// attached to two networks with aliases. Every network is internal: the
// test engine may have no default bridge, and nothing here sends traffic.
func RunResources(t *testing.T, env Env) {
	ctx := context.Background()
	e := env.Engine
	run := randHex()
	labels := map[string]string{TestLabel: run}

	img := env.Image(t, "contract-net")
	require.NoError(t, e.PullImage(ctx, img))
	// Registered first, so it runs after the containers are gone.
	t.Cleanup(func() { e.RemoveImage(ctx, img) })
	t.Cleanup(func() { RemoveLabelled(t, e, TestLabel, run) })

	prefix := "mdtest-" + run + "-"
	front, back := prefix+"front", prefix+"back"
	data := prefix + "data"
	missing := prefix + "missing"

	t.Run("network create", func(t *testing.T) {
		require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: front, Internal: true, Labels: map[string]string{TestLabel: run, "x": "1"}}))
		n, err := e.InspectNetwork(ctx, front)
		require.NoError(t, err)
		assert.Equal(t, front, n.Name)
		assert.NotEmpty(t, n.ID)
		assert.True(t, n.Internal)
		assert.Equal(t, map[string]string{TestLabel: run, "x": "1"}, n.Labels)

		err = e.CreateNetwork(ctx, engine.NetworkConfig{Name: front, Internal: true, Labels: labels})
		assert.ErrorIs(t, err, engine.ErrConflict, "same name twice")
		l, err := e.ListNetworks(ctx, labels)
		require.NoError(t, err)
		assert.Equal(t, []string{front}, networkNames(l), "the refused create left nothing behind")

		// A name that is a prefix of a network's ID is not that network.
		_, err = e.InspectNetwork(ctx, n.ID[:12])
		assert.ErrorIs(t, err, engine.ErrNotFound, "by ID prefix")
	})
	t.Run("network list by label", func(t *testing.T) {
		require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: back, Internal: true, Labels: labels}))
		l, err := e.ListNetworks(ctx, labels)
		require.NoError(t, err)
		assert.Equal(t, []string{back, front}, networkNames(l), "sorted by name")
		for _, n := range l {
			assert.True(t, n.Internal, n.Name)
			assert.Equal(t, run, n.Labels[TestLabel], n.Name)
		}
		l, err = e.ListNetworks(ctx, map[string]string{TestLabel: run, "x": ""})
		require.NoError(t, err)
		assert.Equal(t, []string{front}, networkNames(l), "a label with an empty value matches on the key")
		l, err = e.ListNetworks(ctx, map[string]string{TestLabel: run, "x": "2"})
		require.NoError(t, err)
		assert.Empty(t, l)
	})
	t.Run("network not found", func(t *testing.T) {
		_, err := e.InspectNetwork(ctx, missing)
		assert.ErrorIs(t, err, engine.ErrNotFound)
		assert.ErrorIs(t, e.RemoveNetwork(ctx, missing), engine.ErrNotFound)
	})

	t.Run("volume create", func(t *testing.T) {
		require.NoError(t, e.CreateVolume(ctx, engine.VolumeConfig{Name: data, Labels: map[string]string{TestLabel: run, "x": "1"}}))
		v, err := e.InspectVolume(ctx, data)
		require.NoError(t, err)
		assert.Equal(t, data, v.Name)
		assert.Equal(t, map[string]string{TestLabel: run, "x": "1"}, v.Labels)
		assert.Equal(t, "local", v.Driver)
		assert.Empty(t, v.Options, "created with no driver options")

		err = e.CreateVolume(ctx, engine.VolumeConfig{Name: data, Labels: labels})
		assert.ErrorIs(t, err, engine.ErrConflict, "same name twice")
		v, err = e.InspectVolume(ctx, data)
		require.NoError(t, err)
		assert.Equal(t, "1", v.Labels["x"], "the refused create changed nothing")
	})
	t.Run("volume list by label", func(t *testing.T) {
		other := prefix + "other"
		require.NoError(t, e.CreateVolume(ctx, engine.VolumeConfig{Name: other, Labels: labels}))
		l, err := e.ListVolumes(ctx, labels)
		require.NoError(t, err)
		assert.Equal(t, []string{data, other}, volumeNames(l), "sorted by name")
		l, err = e.ListVolumes(ctx, map[string]string{TestLabel: run, "x": ""})
		require.NoError(t, err)
		assert.Equal(t, []string{data}, volumeNames(l), "a label with an empty value matches on the key")
		l, err = e.ListVolumes(ctx, map[string]string{TestLabel: run, "x": "2"})
		require.NoError(t, err)
		assert.Empty(t, l)
		require.NoError(t, e.RemoveVolume(ctx, other))
	})
	t.Run("volume not found", func(t *testing.T) {
		_, err := e.InspectVolume(ctx, missing)
		assert.ErrorIs(t, err, engine.ErrNotFound)
		assert.ErrorIs(t, e.RemoveVolume(ctx, missing), engine.ErrNotFound)
	})

	t.Run("create on a missing network", func(t *testing.T) {
		_, err := e.CreateContainer(ctx, engine.ContainerConfig{
			Name: prefix + "nonet", Image: img, Labels: labels,
			NetworkMode: missing, Networks: []engine.Endpoint{{Network: missing, Aliases: []string{"a"}}},
		})
		assert.ErrorIs(t, err, engine.ErrNotFound)
		// Networks alone: the network mode is the first one.
		_, err = e.CreateContainer(ctx, engine.ContainerConfig{
			Name: prefix + "nonet", Image: img, Labels: labels,
			Networks: []engine.Endpoint{{Network: missing, Aliases: []string{"a"}}},
		})
		assert.ErrorIs(t, err, engine.ErrNotFound, "network mode from Networks")
	})

	t.Run("network mode only", func(t *testing.T) {
		// --network NAME: attached, with no aliases of its own.
		id, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: prefix + "mode", Image: img, Labels: labels, NetworkMode: back})
		require.NoError(t, err)
		c, err := e.InspectContainer(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []string{back}, slices.Sorted(maps.Keys(c.Networks)))
		assert.Empty(t, c.Networks[back])
		require.NoError(t, e.StartContainer(ctx, id))
		c, err = e.InspectContainer(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []string{back}, slices.Sorted(maps.Keys(c.Networks)))
		assert.Empty(t, c.Networks[back], "running")
		require.NoError(t, e.RemoveContainer(ctx, id))
	})

	t.Run("volume named in a bind", func(t *testing.T) {
		// The engine creates it, without labels: it outlives the container.
		auto := prefix + "auto"
		t.Cleanup(func() { e.RemoveVolume(ctx, auto) })
		id, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: prefix + "auto", Image: img, Labels: labels, NetworkMode: "none", Binds: []string{auto + ":/auto"}})
		require.NoError(t, err)
		v, err := e.InspectVolume(ctx, auto)
		require.NoError(t, err)
		assert.Empty(t, v.Labels)
		assert.Equal(t, "local", v.Driver)
		assert.ErrorIs(t, e.RemoveVolume(ctx, auto), engine.ErrConflict)
		require.NoError(t, e.RemoveContainer(ctx, id))
		_, err = e.InspectVolume(ctx, auto)
		require.NoError(t, err, "kept when its container went")
		require.NoError(t, e.RemoveVolume(ctx, auto))
	})

	var id string
	t.Run("two networks", func(t *testing.T) {
		var err error
		id, err = e.CreateContainer(ctx, engine.ContainerConfig{
			Name: prefix + "app", Image: img, Labels: labels,
			// The engine adds the hostname to a network's aliases, unless one
			// of them is the hostname (as on back).
			Hostname:    "mdhost",
			NetworkMode: front,
			Networks: []engine.Endpoint{
				{Network: front, Aliases: []string{"web", "www"}},
				{Network: back, Aliases: []string{"api", "mdhost"}},
			},
			Binds: []string{data + ":/data"},
		})
		require.NoError(t, err)
		c, err := e.InspectContainer(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, map[string][]string{front: {"web", "www"}}, c.Networks, "only the first network at creation")

		require.NoError(t, e.ConnectNetwork(ctx, id, back, []string{"api", "mdhost"}))
		require.NoError(t, e.ConnectNetwork(ctx, id, back, []string{"api", "mdhost"}), "connecting twice")
		require.NoError(t, e.ConnectNetwork(ctx, id, front, []string{"web", "www"}), "connecting where created")
		want := map[string][]string{front: {"web", "www"}, back: {"api", "mdhost"}}
		c, err = e.InspectContainer(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, c.Networks, "created")
		assert.ErrorIs(t, e.RemoveNetwork(ctx, front), engine.ErrConflict, "created container attached")
		assert.ErrorIs(t, e.RemoveNetwork(ctx, back), engine.ErrConflict, "created container connected")
		assert.ErrorIs(t, e.RemoveVolume(ctx, data), engine.ErrConflict, "created container mounts it")

		require.NoError(t, e.StartContainer(ctx, id))
		c, err = e.InspectContainer(ctx, id)
		require.NoError(t, err)
		assert.True(t, c.State.Running)
		assert.Equal(t, want, c.Networks, "running: only the aliases asked for")
		require.NoError(t, e.ConnectNetwork(ctx, id, back, []string{"api", "mdhost"}), "connecting twice while running")

		l, err := e.ListContainers(ctx, labels)
		require.NoError(t, err)
		require.Len(t, l, 1)
		assert.Empty(t, l[0].Networks, "only InspectContainer fills Networks")
	})
	require.NotEmpty(t, id)
	t.Run("connect refused", func(t *testing.T) {
		assert.ErrorIs(t, e.ConnectNetwork(ctx, id, missing, nil), engine.ErrNotFound, "missing network")
		assert.ErrorIs(t, e.ConnectNetwork(ctx, prefix+"nobody", back, nil), engine.ErrNotFound, "missing container")
		for _, mode := range []string{"none", "host"} {
			other, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: prefix + mode, Image: img, Labels: labels, NetworkMode: mode})
			require.NoError(t, err)
			assert.Error(t, e.ConnectNetwork(ctx, other, back, nil), "network mode %s", mode)
			require.NoError(t, e.RemoveContainer(ctx, other))
		}
	})
	t.Run("in use", func(t *testing.T) {
		assert.ErrorIs(t, e.RemoveNetwork(ctx, front), engine.ErrConflict, "running container attached")
		assert.ErrorIs(t, e.RemoveNetwork(ctx, back), engine.ErrConflict, "running container connected")
		assert.ErrorIs(t, e.RemoveVolume(ctx, data), engine.ErrConflict, "running container mounts it")
		// A stopped container, such as the previous version kept for a
		// rollback, still needs its networks and volumes.
		require.NoError(t, e.StopContainer(ctx, id, 5*time.Second))
		assert.ErrorIs(t, e.RemoveNetwork(ctx, front), engine.ErrConflict, "stopped container attached")
		assert.ErrorIs(t, e.RemoveNetwork(ctx, back), engine.ErrConflict, "stopped container connected")
		assert.ErrorIs(t, e.RemoveVolume(ctx, data), engine.ErrConflict, "stopped container mounts it")
		for _, n := range []string{front, back} {
			_, err := e.InspectNetwork(ctx, n)
			assert.NoError(t, err, n)
		}
		_, err := e.InspectVolume(ctx, data)
		assert.NoError(t, err)
	})
	t.Run("remove", func(t *testing.T) {
		require.NoError(t, e.RemoveContainer(ctx, id))
		for _, n := range []string{front, back} {
			require.NoError(t, e.RemoveNetwork(ctx, n))
			_, err := e.InspectNetwork(ctx, n)
			assert.ErrorIs(t, err, engine.ErrNotFound, n)
			assert.ErrorIs(t, e.RemoveNetwork(ctx, n), engine.ErrNotFound, n)
		}
		require.NoError(t, e.RemoveVolume(ctx, data), "kept when its container went")
		_, err := e.InspectVolume(ctx, data)
		assert.ErrorIs(t, err, engine.ErrNotFound)
		assert.ErrorIs(t, e.RemoveVolume(ctx, data), engine.ErrNotFound)
		nets, err := e.ListNetworks(ctx, labels)
		require.NoError(t, err)
		assert.Empty(t, nets)
		vols, err := e.ListVolumes(ctx, labels)
		require.NoError(t, err)
		assert.Empty(t, vols)
	})
	t.Run("static addresses", func(t *testing.T) { runIPAM(t, e, img, prefix, labels) })
	t.Run("mac address", func(t *testing.T) { runMAC(t, e, img, prefix, labels) })
}

func networkNames(l []engine.Network) []string {
	out := []string{}
	for _, n := range l {
		out = append(out, n.Name)
	}
	return out
}

func volumeNames(l []engine.Volume) []string {
	out := []string{}
	for _, v := range l {
		out = append(out, v.Name)
	}
	return out
}
