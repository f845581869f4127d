package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
)

// Joining a container that joins one in the host's namespace is being in
// the host's namespace too, however long the chain; a loop ends.
func TestCheckJoins(t *testing.T) {
	cs := map[string]engine.Container{
		"host":  {PidMode: "host", NetworkMode: "host"},
		"mid":   {PidMode: "container:host", IpcMode: "container:loop"},
		"loop":  {IpcMode: "container:loop"},
		"plain": {PidMode: "", NetworkMode: "none"},
	}
	lookup := func(name string) (engine.Container, bool, error) { c, ok := cs[name]; return c, ok, nil }
	p := config.Policy{DenyHostNamespaces: true}
	for _, tc := range []struct {
		c    engine.ContainerConfig
		want string
	}{
		{engine.ContainerConfig{PidMode: "container:host"}, "--pid container:host is refused by the device policy (deny_host_namespaces: container host is in the host's namespace)"},
		{engine.ContainerConfig{PidMode: "container:mid"}, "container host is in the host's namespace"},
		{engine.ContainerConfig{NetworkMode: "container:host"}, "--network container:host is refused"},
		{engine.ContainerConfig{IpcMode: "container:mid"}, "more than 8 containers joined in a row"},
		{engine.ContainerConfig{PidMode: "container:plain", NetworkMode: "container:plain"}, ""},
		{engine.ContainerConfig{PidMode: "container:gone"}, ""},
	} {
		err := p.CheckJoins("web", tc.c, lookup)
		if tc.want == "" {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), "service web: ")
		assert.Contains(t, err.Error(), tc.want)
	}
	assert.NoError(t, config.Policy{}.CheckJoins("web", engine.ContainerConfig{PidMode: "container:host"}, lookup), "only under deny_host_namespaces")
}

// Under bind_mount_paths a volume's options are a bind like any other.
func TestCheckVolume(t *testing.T) {
	allowed := t.TempDir()
	p := config.Policy{BindMountPaths: []string{allowed}}
	bind := func(dev string) engine.Volume {
		return engine.Volume{Name: "v", Driver: "local", Options: map[string]string{"type": "none", "o": "bind", "device": dev}}
	}
	assert.NoError(t, p.CheckVolume(engine.Volume{Name: "v", Driver: "local"}))
	assert.NoError(t, p.CheckVolume(bind(allowed+"/app")))
	assert.ErrorContains(t, p.CheckVolume(bind("/etc")), "volume v: it mounts the host's /etc")
	assert.ErrorContains(t, p.CheckVolume(bind("etc")), "not an absolute path")
	assert.ErrorContains(t, p.CheckVolume(engine.Volume{Name: "v", Driver: "local", Options: map[string]string{"type": "ext4", "device": "/dev/sda1"}}), "/dev/sda1")
	assert.NoError(t, p.CheckVolume(engine.Volume{Name: "v", Driver: "local", Options: map[string]string{"type": "tmpfs", "device": "tmpfs"}}))
	assert.ErrorContains(t, p.CheckVolume(engine.Volume{Name: "v", Driver: "rexray"}), "driver rexray is refused")
	assert.NoError(t, config.Policy{}.CheckVolume(bind("/etc")), "no bind_mount_paths: binds are not restricted")
}
