package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
)

// The example config the device package installs is what its notes say:
// without its // lines it is a valid config holding every default, and
// with the policy lines uncommented it is a valid hardened config.
func TestExampleConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "packaging", "files", "mender-docker.conf.example"))
	require.NoError(t, err)
	load := func(uncommentPolicy bool) config.Config {
		var keep []string
		inPolicy := false
		for _, l := range strings.Split(string(raw), "\n") {
			trimmed := strings.TrimSpace(l)
			if uncommentPolicy && strings.HasPrefix(trimmed, `// "policy"`) {
				inPolicy = true
			}
			if inPolicy {
				keep = append(keep, strings.Replace(l, "// ", "", 1))
				inPolicy = trimmed != "// },"
				continue
			}
			if !strings.HasPrefix(trimmed, "//") {
				keep = append(keep, l)
			}
		}
		path := filepath.Join(t.TempDir(), "mender-docker.conf")
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(keep, "\n")), 0o644))
		c, err := config.Load(path)
		require.NoError(t, err, "%s", strings.Join(keep, "\n"))
		return c
	}

	c := load(false)
	want := config.Default()
	assert.Equal(t, "/data/mender-docker", c.StateDir)
	c.StateDir = want.StateDir // the default depends on the machine's /data
	c.File = ""                // where it was read from, not a key
	assert.Equal(t, want, c, "every key at its default")

	hard := load(true)
	assert.True(t, hard.Policy.DenyPrivileged)
	assert.Equal(t, []string{"registry.example.com"}, hard.Policy.AllowedRegistries)
}
