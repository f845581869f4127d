package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
)

func TestAttributesKeys(t *testing.T) {
	d := config.Default()
	assert.Equal(t, "/etc/mender-docker/attributes.d", d.AttributesDir)
	assert.Equal(t, "/etc/mender-docker/attributes.local.json", d.AttributesLocalFile)
	assert.Equal(t, "", d.Group)
	assert.Equal(t, config.DefaultDeviceTypeFile(config.DataDir, config.MenderDataDir), d.DeviceTypeFile)

	dir := t.TempDir()
	p := filepath.Join(dir, "c.conf")
	require.NoError(t, os.WriteFile(p, []byte(`{"attributes_dir": "/x/a.d", "attributes_local_file": "/x/l.json",
		"group": "north", "device_type_file": "/x/device_type"}`), 0o644))
	c, err := config.Load(p)
	require.NoError(t, err)
	assert.Equal(t, "/x/a.d", c.AttributesDir)
	assert.Equal(t, "/x/l.json", c.AttributesLocalFile)
	assert.Equal(t, "north", c.Group)
	assert.Equal(t, "/x/device_type", c.DeviceTypeFile)

	for _, g := range []string{"../etc", "a/b", ".."} {
		require.NoError(t, os.WriteFile(p, []byte(`{"group": "`+g+`"}`), 0o644))
		_, err := config.Load(p)
		require.Error(t, err, g)
		assert.Contains(t, err.Error(), "group:", g)
		assert.Contains(t, err.Error(), ":1:", "the line")
	}
}

func TestDefaultDeviceTypeFile(t *testing.T) {
	data, legacy := t.TempDir(), t.TempDir()
	assert.Equal(t, filepath.Join(legacy, "device_type"), config.DefaultDeviceTypeFile(data, legacy), "no DATA/mender")
	require.NoError(t, os.Mkdir(filepath.Join(data, "mender"), 0o755))
	assert.Equal(t, filepath.Join(data, "mender", "device_type"), config.DefaultDeviceTypeFile(data, legacy))
	assert.Equal(t, filepath.Join(legacy, "device_type"), config.DefaultDeviceTypeFile(filepath.Join(data, "none"), legacy))
}
