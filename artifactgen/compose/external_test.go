package compose_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/spec"
)

// External networks and volumes reach the meta-data as external, by the
// device's name for them (the key, or name:), and the services use that
// name on the engine.
func TestExternal(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n" +
		"    networks: [proxy, own]\n    volumes: [\"shared:/data\", \"db:/db\"]\n" +
		"networks:\n  proxy: {external: true, name: traefik_net}\n  own: {internal: true}\n" +
		"volumes:\n  shared: {external: true}\n  db: {}\n"})
	_, out, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	var d spec.Document
	require.NoError(t, json.Unmarshal(out, &d))
	assert.Equal(t, spec.NetworkDoc{External: true, Name: "traefik_net"}, d.Networks["proxy"])
	assert.Equal(t, spec.NetworkDoc{Internal: true}, d.Networks["own"])
	assert.Equal(t, spec.VolumeDoc{External: true, Name: "shared"}, d.Volumes["shared"])
	assert.False(t, d.Volumes["db"].External)

	m, err := spec.Parse(out)
	require.NoError(t, err)
	require.Len(t, m.Services, 1)
	c := m.Services[0].Config
	var nets []string
	for _, ep := range c.Networks {
		nets = append(nets, ep.Network)
	}
	assert.ElementsMatch(t, []string{"traefik_net", "shop_own"}, nets)
	assert.Contains(t, c.Binds, "shared:/data")
	assert.Contains(t, c.Binds, "shop_db:/db")
	require.NotNil(t, m.ExternalNetwork("traefik_net"))
	assert.Nil(t, m.ExternalNetwork("shop_own"))
	require.NotNil(t, m.ExternalVolume("shared"))
}
