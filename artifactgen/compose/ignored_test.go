package compose_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/engine"
	"github.com/mender-docker/mender-docker/module/spec"
)

// The keys the README marks ignored compile and change nothing on the
// device; use_service_name_alias: false drops the service's own alias.
func TestIgnoredKeys(t *testing.T) {
	addr := newRegistry(t)
	dir := project(t, map[string]string{"data/x": "x", "compose.yaml": "services:\n  web:\n    image: " + addr + "/shop/web:7\n" +
		"    attach: false\n    pull_policy: always\n    pull_refresh_after: 1h\n    expose: [\"80\"]\n" +
		"    volumes:\n      - {type: bind, source: /srv, target: /srv, consistency: cached, bind: {create_host_path: true}}\n" +
		"    networks:\n      n: {use_service_name_alias: false, aliases: [www]}\n" +
		"networks:\n  n: {internal: true, attachable: true}\n"})
	_, out, err := document(t, dir, compose.Options{})
	require.NoError(t, err)
	m, err := spec.Parse(out)
	require.NoError(t, err)
	assert.Equal(t, []engine.Endpoint{{Network: "shop_n", Aliases: []string{"www"}}}, m.Services[0].Config.Networks)
	assert.Equal(t, []string{"/srv:/srv"}, m.Services[0].Config.Binds)
	assert.Empty(t, m.Services[0].Config.Ports, "expose publishes nothing")
}
