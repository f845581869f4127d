package spec_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/spec"
)

func TestExternalDeclarations(t *testing.T) {
	const img = `"image":"127.0.0.1:5000/a/web@sha256:0000000000000000000000000000000000000000000000000000000000000000"`
	m, err := spec.Parse([]byte(`{"app":"shop","networks":{"p":{"external":true},"q":{"external":true,"name":"proxy"}},"volumes":{"v":{"external":true,"name":"shared"}},
"services":{"web":{` + img + `,"run_args":"-v v:/v","networks":{"p":[],"q":[]}}}}`))
	require.NoError(t, err)
	assert.Equal(t, "p", m.ExternalNetwork("p").Name, "no name: the key, without the app's prefix")
	assert.Equal(t, "q", m.ExternalNetwork("proxy").Name)
	assert.Equal(t, []string{"shared:/v"}, m.Services[0].Config.Binds)
	for doc, want := range map[string]string{
		`"networks":{"p":{"name":"x"}}`:                             "networks.p.name: only an external one",
		`"networks":{"p":{"external":true,"internal":true}}`:        "networks.p: an external one is used as the device has it",
		`"volumes":{"v":{"external":true,"labels":{"a":"b"}}}`:      "volumes.v: an external one",
		`"networks":{"p":{"external":true,"name":"host"}}`:          "one of the engine's own; write network_mode: host",
		`"networks":{"p":{"external":true,"name":"a b"}}`:           "networks.p.name",
		`"networks":{"p":{"external":true,"name":"shop_o"},"o":{}}`: "external network shop_o is the app's own network o",
	} {
		_, err := spec.Parse([]byte(`{"app":"shop",` + doc + `,"services":{"web":{` + img + `}}}`))
		assert.ErrorContains(t, err, want, doc)
	}
}
