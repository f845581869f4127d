package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// What a Compose project asks for that is ignored (swarm's deploy keys)
// is said on stderr as a warning: line, and the artifact is written.
func TestComposeWarnings(t *testing.T) {
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "shop/web", "7", fixture.Image{Version: "7"})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  web:\n    image: "+reg.Addr+"/shop/web:7\n"+
		"    network_mode: none\n    deploy: {placement: {constraints: [node.role==manager]}}\n"), 0o644))
	out := filepath.Join(t.TempDir(), "shop.mender")
	code, _, stderr := run("-n", "shop-1", "-t", "rpi4", "--app", "shop", "-q", "-o", out, "--compose", dir)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "warning: service web: deploy.placement is swarm's and ignored, as docker compose up ignores it\n", stderr)
	assert.FileExists(t, out)
}
