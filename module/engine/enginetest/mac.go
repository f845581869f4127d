package enginetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
)

// runMAC checks a container's own MAC address: given at create, it is the
// container's on its primary network once it runs, whether that network
// came with the endpoints (Networks) or as the network mode alone; a
// second network gets one of the engine's.
func runMAC(t *testing.T, e engine.Engine, img, prefix string, labels map[string]string) {
	ctx := context.Background()
	a, b := prefix+"mac-a", prefix+"mac-b"
	for _, n := range []string{a, b} {
		require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: n, Internal: true, Labels: labels}))
	}
	t.Cleanup(func() {
		RemoveLabelledContainers(t, e, labels)
		for _, n := range []string{a, b} {
			assert.NoError(t, e.RemoveNetwork(ctx, n))
		}
	})
	for _, tc := range []struct {
		name, mac string
		cfg       engine.ContainerConfig
	}{
		{"endpoints", "02:42:0a:00:00:07", engine.ContainerConfig{NetworkMode: a, Networks: []engine.Endpoint{{Network: a, Aliases: []string{"m"}}, {Network: b}}}},
		{"network mode", "00:1b:21:3a:4f:5c", engine.ContainerConfig{NetworkMode: b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Name, cfg.Image, cfg.Labels, cfg.MacAddress = prefix+"mac-"+tc.name[:3], img, labels, tc.mac
			id, err := e.CreateContainer(ctx, cfg)
			require.NoError(t, err)
			for _, ep := range cfg.Networks[min(1, len(cfg.Networks)):] {
				require.NoError(t, e.ConnectEndpoint(ctx, id, ep))
			}
			require.NoError(t, e.StartContainer(ctx, id))
			got, err := e.InspectContainer(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, tc.mac, got.MacAddress)
			assert.Equal(t, cfg.NetworkMode, got.NetworkMode)
		})
	}
}
