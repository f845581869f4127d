package enginetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/engine"
)

// runIPAM checks networks with a fixed subnet and containers with static
// addresses on them: at creation (the first network) and by
// ConnectEndpoint (another one); an address no configured subnet holds is
// refused. The subnets are 10.x.y.0/24, random, so that runs beside each
// other do not overlap; the networks are internal.
func runIPAM(t *testing.T, e engine.Engine, img, prefix string, labels map[string]string) {
	ctx := context.Background()
	b := make([]byte, 2)
	rand.Read(b)
	one := fmt.Sprintf("10.%d.%d", 200+int(b[0])%50, b[1])
	two := fmt.Sprintf("10.%d.%d", 150+int(b[0])%50, b[1])
	a, c := prefix+"ipam-a", prefix+"ipam-c"
	ipam := func(net string) *engine.IPAM {
		return &engine.IPAM{Config: []engine.IPAMPool{{Subnet: net + ".0/24", IPRange: net + ".128/25", Gateway: net + ".1", AuxAddresses: map[string]string{"printer": net + ".5"}}}}
	}
	require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: a, Internal: true, Labels: labels, IPAM: ipam(one)}))
	require.NoError(t, e.CreateNetwork(ctx, engine.NetworkConfig{Name: c, Internal: true, Labels: labels, IPAM: ipam(two)}))
	n, err := e.InspectNetwork(ctx, a)
	require.NoError(t, err)
	require.NotNil(t, n.IPAM)
	require.Len(t, n.IPAM.Config, 1)
	assert.Equal(t, ipam(one).Config[0], n.IPAM.Config[0], "inspect shows the pool as created")

	id, err := e.CreateContainer(ctx, engine.ContainerConfig{Name: prefix + "static", Image: img, Labels: labels, NetworkMode: a,
		Networks: []engine.Endpoint{{Network: a, Aliases: []string{"s"}, IPv4Address: one + ".10"}, {Network: c, IPv4Address: two + ".20"}}})
	require.NoError(t, err)
	require.NoError(t, e.ConnectEndpoint(ctx, id, engine.Endpoint{Network: c, IPv4Address: two + ".20"}))
	got, err := e.InspectContainer(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{a: {one + ".10"}, c: {two + ".20"}}, got.Addresses)
	assert.Equal(t, []string{"s"}, got.Networks[a])
	require.NoError(t, e.StartContainer(ctx, id))
	got, err = e.InspectContainer(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{a: {one + ".10"}, c: {two + ".20"}}, got.Addresses, "running")

	_, err = e.CreateContainer(ctx, engine.ContainerConfig{Name: prefix + "outside", Image: img, Labels: labels, NetworkMode: a,
		Networks: []engine.Endpoint{{Network: a, IPv4Address: two + ".30"}}})
	if err == nil {
		// Docker refuses the address when the container starts.
		err = e.StartContainer(ctx, prefix+"outside")
	}
	assert.Error(t, err, "an address outside the network's subnets")

	RemoveLabelledContainers(t, e, labels)
	for _, net := range []string{a, c} {
		assert.NoError(t, e.RemoveNetwork(ctx, net))
	}
}

// RemoveLabelledContainers removes the containers carrying labels.
func RemoveLabelledContainers(t testing.TB, e engine.Engine, labels map[string]string) {
	ctx := context.Background()
	l, err := e.ListContainers(ctx, labels)
	require.NoError(t, err)
	for _, c := range l {
		assert.NoError(t, e.RemoveContainer(ctx, c.ID))
	}
}
