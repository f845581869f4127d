package module_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
)

// externalMeta is app shop on the external network proxy (as "edge") and
// its own network own, mounting the external volume shared and its own
// volume data.
func externalMeta(img, net, vol string) string {
	return fmt.Sprintf(`{"app":"shop",
"networks":{"edge":{"external":true,"name":%q},"own":{}},
"volumes":{"shared":{"external":true,"name":%q},"data":{}},
"services":{"web":{"image":%q,"run_args":"-v shared:/shared -v data:/data --restart always","networks":{"edge":["www"],"own":[]}}}}`, net, vol, img)
}

// An app joins and mounts the device's external network and volume
// (here ones another app of ours made), and no step of its life creates,
// changes or removes them.
func TestExternalResources(t *testing.T) {
	d := newDevice(t)
	ctx := context.Background()
	crm := map[string]string{module.LabelApp: "crm", module.LabelName: "proxy"}
	require.NoError(t, d.eng.CreateNetwork(ctx, engine.NetworkConfig{Name: "proxy", Labels: crm}))
	require.NoError(t, d.eng.CreateVolume(ctx, engine.VolumeConfig{Name: "crm_shared", Labels: crm}))
	net0, err := d.eng.InspectNetwork(ctx, "proxy")
	require.NoError(t, err)
	vol0, err := d.eng.InspectVolume(ctx, "crm_shared")
	require.NoError(t, err)
	untouched := func(when string) {
		n, err := d.eng.InspectNetwork(ctx, "proxy")
		require.NoError(t, err, when)
		assert.Equal(t, net0, n, when)
		v, err := d.eng.InspectVolume(ctx, "crm_shared")
		require.NoError(t, err, when)
		assert.Equal(t, vol0, v, when)
	}

	v1 := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("shop-1", externalMeta(v1, "proxy", "crm_shared"), true))
	c, err := d.eng.InspectContainer(ctx, "shop-web")
	require.NoError(t, err)
	assert.Contains(t, c.Networks, "proxy")
	assert.Contains(t, c.Networks["proxy"], "www")
	assert.Contains(t, c.Networks, "shop_own")
	assert.Contains(t, d.eng.Config(c.ID).Binds, "crm_shared:/shared")
	untouched("installed")
	_, err = d.eng.InspectNetwork(ctx, "shop_own")
	require.NoError(t, err, "the app's own network is created")

	v2 := d.image("web", "2", memengine.Behavior{})
	require.NoError(t, d.install("shop-2", externalMeta(v2, "proxy", "crm_shared"), false))
	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("Cleanup"))
	untouched("rolled back")
	require.NoError(t, d.install("shop-2", externalMeta(v2, "proxy", "crm_shared"), true))
	untouched("updated")

	require.NoError(t, d.install("shop-removed", `{"app":"shop","remove":true,"remove_volumes":true}`, true))
	untouched("removed with its volumes")
	_, err = d.eng.InspectNetwork(ctx, "shop_own")
	require.ErrorIs(t, err, engine.ErrNotFound, "the app's own network goes")
	_, err = d.eng.InspectVolume(ctx, "shop_data")
	require.ErrorIs(t, err, engine.ErrNotFound, "the app's own volume goes")
}

// A missing external network or volume, or one the policy refuses, fails
// Download naming it, with the device as it was.
func TestExternalRefused(t *testing.T) {
	d := newDevice(t)
	ctx := context.Background()
	require.NoError(t, d.eng.CreateNetwork(ctx, engine.NetworkConfig{Name: "proxy"}))
	require.NoError(t, d.eng.CreateVolume(ctx, engine.VolumeConfig{Name: "shared"}))
	v1 := d.image("web", "1", memengine.Behavior{})
	require.NoError(t, d.install("shop-1", meta(v1), true))
	before := d.snapshot()
	nets, err := d.eng.ListNetworks(ctx, nil)
	require.NoError(t, err)
	vols, err := d.eng.ListVolumes(ctx, nil)
	require.NoError(t, err)

	v2 := d.image("web", "2", memengine.Behavior{})
	for _, tc := range []struct {
		name, net, vol string
		policy         config.Policy
		want           string
	}{
		{name: "missing network", net: "nope", vol: "shared", want: "networks.edge: the external network nope does not exist on the device"},
		{name: "missing volume", net: "proxy", vol: "gone", want: "volumes.shared: the external volume gone does not exist on the device"},
		{name: "network not allowed", net: "proxy", vol: "shared", policy: config.Policy{AllowedExternalNetworks: []string{"other"}},
			want: "external network proxy is refused by the device policy (allowed_external_networks: other)"},
		{name: "no network allowed", net: "proxy", vol: "shared", policy: config.Policy{AllowedExternalNetworks: []string{}},
			want: "allowed_external_networks"},
		{name: "volume not allowed", net: "proxy", vol: "shared", policy: config.Policy{AllowedExternalVolumes: []string{}},
			want: "external volume shared is refused by the device policy (allowed_external_volumes: )"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.u.Config.Policy = tc.policy
			defer func() { d.u.Config.Policy = config.Policy{} }()
			err := d.install("shop-2", externalMeta(v2, tc.net, tc.vol), true)
			require.ErrorContains(t, err, tc.want)
			assert.NotContains(t, err.Error(), "\n")
			assert.Equal(t, before, d.snapshot())
			n, err := d.eng.ListNetworks(ctx, nil)
			require.NoError(t, err)
			assert.Equal(t, nets, n)
			v, err := d.eng.ListVolumes(ctx, nil)
			require.NoError(t, err)
			assert.Equal(t, vols, v)
		})
	}
	d.u.Config.Policy = config.Policy{AllowedExternalNetworks: []string{"proxy"}, AllowedExternalVolumes: []string{"shared"}}
	require.NoError(t, d.install("shop-2", externalMeta(v2, "proxy", "shared"), true), "listed ones are allowed")
}
