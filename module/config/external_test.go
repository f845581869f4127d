package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
)

func TestCheckExternal(t *testing.T) {
	var open config.Policy
	assert.NoError(t, open.CheckExternalNetwork(engine.Network{Name: "proxy", Driver: "bridge", Scope: "local"}))
	for _, n := range []engine.Network{{Name: "bridge", Driver: "bridge"}, {Name: "host", Driver: "host"}, {Name: "none", Driver: "null"}, {Name: "myhost", Driver: "host", Scope: "local"}} {
		assert.ErrorContains(t, open.CheckExternalNetwork(n), "one of the engine's own networks", n.Name)
	}
	listed := config.Policy{AllowedExternalNetworks: []string{"proxy"}, AllowedExternalVolumes: []string{"db"}}
	assert.NoError(t, listed.CheckExternalNetwork(engine.Network{Name: "proxy", Driver: "bridge"}))
	assert.ErrorContains(t, listed.CheckExternalNetwork(engine.Network{Name: "other", Driver: "bridge"}), "allowed_external_networks: proxy")
	assert.NoError(t, listed.CheckExternalVolume(engine.Volume{Name: "db", Driver: "local"}))
	assert.ErrorContains(t, listed.CheckExternalVolume(engine.Volume{Name: "x"}), "allowed_external_volumes: db")
	none := config.Policy{AllowedExternalVolumes: []string{}}
	assert.Error(t, none.CheckExternalVolume(engine.Volume{Name: "db"}), "an empty list allows none")
	// The named-volume rules hold for external ones too.
	bound := config.Policy{BindMountPaths: []string{"/srv"}}
	assert.ErrorContains(t, bound.CheckExternalVolume(engine.Volume{Name: "etc", Driver: "local", Options: map[string]string{"o": "bind", "device": "/etc"}}), "/etc")
}
