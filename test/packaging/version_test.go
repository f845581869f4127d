package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// One version everywhere: `make build`, `make dist` and `make deb` stamp
// the package version into both binaries, and the packages carry it.
func TestVersionEverywhere(t *testing.T) {
	for _, cmd := range []string{"make", "dpkg-deb"} {
		_, err := exec.LookPath(cmd)
		fixture.Need(t, err == nil, cmd)
	}
	out, err := exec.Command("make", "-s", "-C", repoRoot, "version").Output()
	require.NoError(t, err)
	want := strings.TrimSpace(string(out))
	require.Regexp(t, `^[0-9][A-Za-z0-9.+~]*$`, want, "a Debian version")

	versions := func(module, gen string) {
		t.Helper()
		out, err := exec.Command(module, "--version").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, want, strings.TrimSpace(string(out)), module)
		out, err = exec.Command(gen, "--version").CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Equal(t, "docker-artifact-gen "+want, strings.TrimSpace(string(out)), gen)
	}

	bin := t.TempDir()
	runMake(t, "build", "BIN="+bin)
	versions(filepath.Join(bin, "docker"), filepath.Join(bin, "docker-artifact-gen"))

	// dist and deb for this machine's architecture only: the others are
	// built the same way.
	dist := t.TempDir()
	runMake(t, "deb", "DIST="+dist, "DEB_ARCHES=amd64", "MODULE_PLATFORMS=linux/amd64", "GEN_PLATFORMS=linux/amd64")
	versions(filepath.Join(dist, "docker-linux-amd64"), filepath.Join(dist, "docker-artifact-gen-linux-amd64"))
	debs, err := filepath.Glob(filepath.Join(dist, "deb", "*_amd64.deb"))
	require.NoError(t, err)
	require.Len(t, debs, 2)
	root := t.TempDir()
	for _, d := range debs {
		out, err := exec.Command("dpkg-deb", "-f", d, "Version").Output()
		require.NoError(t, err)
		assert.Equal(t, want, strings.TrimSpace(string(out)), d)
		out, err = exec.Command("dpkg-deb", "-x", d, root).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	versions(filepath.Join(root, "usr/share/mender/modules/v3/docker"), filepath.Join(root, "usr/bin/docker-artifact-gen"))
	link, err := os.Readlink(filepath.Join(root, "usr/bin/mender-docker"))
	require.NoError(t, err, "the package links /usr/bin/mender-docker")
	assert.Equal(t, "../share/mender/modules/v3/docker", link)
	versions(filepath.Join(root, "usr/bin/mender-docker"), filepath.Join(root, "usr/bin/docker-artifact-gen"))
}
