package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Load(filepath.Join(dir, "missing.conf"))
	require.NoError(t, err)
	assert.Equal(t, config.Default(), c, "no file: defaults")

	write := func(s string) string {
		p := filepath.Join(dir, "c.conf")
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	c, err = config.Load(write(`{"state_dir": "/data/mender-docker", "health_window": "3s", "parallel_pulls": 1}`))
	require.NoError(t, err)
	assert.Equal(t, "/data/mender-docker", c.StateDir)
	assert.Equal(t, config.Duration(3*time.Second), c.HealthWindow)
	assert.Equal(t, config.Duration(120*time.Second), c.HealthTimeout, "unset keys keep defaults")
	assert.Equal(t, 1, c.ParallelPulls)

	for in, want := range map[string]string{
		`{"state_dri": "/x"}`:          `state_dri: unknown key`,
		`{"health_window": "soon"}`:    `"soon" is not a duration`,
		`{"health_window": 10}`:        "is not a duration",
		`{"parallel_pulls": 0}`:        "parallel_pulls: must be at least 1",
		`{"max_unpack_mb": 0}`:         "max_unpack_mb: must be at least 1",
		`{"default_app": "Not Valid"}`: "default_app:",
		`{"state_dir": ""}`:            "state_dir: must not be empty",
		`not json`:                     "config",
	} {
		_, err := config.Load(write(in))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestPolicy(t *testing.T) {
	hardened := config.Policy{DenyPrivileged: true, DenyHostNamespaces: true, DenyCapAdd: true, DenyDevices: true, BindMountPaths: []string{"/data", "/etc/app/"}}
	for _, tc := range []struct {
		c    engine.ContainerConfig
		want string
	}{
		{engine.ContainerConfig{Privileged: true}, "--privileged"},
		{engine.ContainerConfig{NetworkMode: "host"}, "--network host"},
		{engine.ContainerConfig{PidMode: "host"}, "--pid host"},
		{engine.ContainerConfig{CapAdd: []string{"SYS_ADMIN"}}, "--cap-add SYS_ADMIN"},
		{engine.ContainerConfig{Devices: []string{"/dev/mem"}}, "--device /dev/mem"},
		{engine.ContainerConfig{Binds: []string{"/etc:/x"}}, "-v /etc:/x"},
		{engine.ContainerConfig{Binds: []string{"/data/../etc:/x"}}, "-v /data/../etc:/x"},
		{engine.ContainerConfig{Binds: []string{"/database:/x"}}, "-v /database:/x"},
		{engine.ContainerConfig{Binds: []string{"/data/db:/x", "/etc/app:/y:ro", "vol:/z", "/anon"}}, ""},
		{engine.ContainerConfig{NetworkMode: "none"}, ""},
	} {
		err := hardened.Check("web", tc.c)
		if tc.want == "" {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want+" is refused by the device policy")
		assert.NoError(t, config.Policy{}.Check("web", tc.c), "the default policy allows %s", tc.want)
	}
}
