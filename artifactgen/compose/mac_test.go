package compose_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/spec"
)

// A service's mac_address reaches the meta-data as run_args'
// --mac-address and the container's config, in the engine's lower-case
// form.
func TestMacAddress(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    mac_address: 02:42:AC:11:00:02\n    networks: [n]\nnetworks:\n  n: {internal: true}\n"})
	_, out, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	var d spec.Document
	require.NoError(t, json.Unmarshal(out, &d))
	assert.Contains(t, d.Services[0].RunArgs, "--mac-address 02:42:ac:11:00:02")
	m, err := spec.Parse(out)
	require.NoError(t, err)
	assert.Equal(t, "02:42:ac:11:00:02", m.Services[0].Config.MacAddress)

	// The first network's mac_address is the container's.
	dir = project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n    networks:\n      a: {mac_address: \"02:42:ac:11:00:04\"}\n      b: {}\nnetworks:\n  a: {}\n  b: {}\n"})
	_, out, err = document(t, dir, compose.Options{})
	require.NoError(t, err)
	m, err = spec.Parse(out)
	require.NoError(t, err)
	assert.Equal(t, "02:42:ac:11:00:04", m.Services[0].Config.MacAddress)
	assert.Equal(t, "shop_a", m.Services[0].Config.NetworkMode)
}
