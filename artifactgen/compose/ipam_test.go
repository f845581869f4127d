package compose_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// A network's ipam and a service's static addresses reach the meta-data
// and the service's endpoints.
func TestIPAM(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n" +
		"    networks:\n      dns:\n        ipv4_address: 172.20.0.2\n        ipv6_address: \"fd00:20::2\"\n      other: {}\n" +
		"networks:\n  dns:\n    enable_ipv6: true\n    ipam:\n      config:\n        - subnet: 172.20.0.0/24\n          ip_range: 172.20.0.128/25\n          gateway: 172.20.0.1\n          aux_addresses: {router: 172.20.0.5}\n        - subnet: \"fd00:20::/64\"\n  other: {}\n"})
	_, out, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	var d spec.Document
	require.NoError(t, json.Unmarshal(out, &d))
	assert.Equal(t, spec.NetworkDoc{EnableIPv6: true, IPAM: &spec.IPAMDoc{Config: []spec.IPAMPoolDoc{
		{Subnet: "172.20.0.0/24", IPRange: "172.20.0.128/25", Gateway: "172.20.0.1", AuxAddresses: map[string]string{"router": "172.20.0.5"}},
		{Subnet: "fd00:20::/64"},
	}}}, d.Networks["dns"])
	assert.Equal(t, map[string]spec.AddressDoc{"dns": {IPv4: "172.20.0.2", IPv6: "fd00:20::2"}}, d.Services[0].Addresses)

	m, err := spec.Parse(out)
	require.NoError(t, err)
	assert.Contains(t, m.Services[0].Config.Networks, engine.Endpoint{Network: "shop_dns", Aliases: []string{"web"}, IPv4Address: "172.20.0.2", IPv6Address: "fd00:20::2"})
	assert.Contains(t, m.Services[0].Config.Networks, engine.Endpoint{Network: "shop_other", Aliases: []string{"web"}})
	require.NotNil(t, m.Networks[0].IPAM)
	assert.True(t, m.Networks[0].EnableIPv6)
}
