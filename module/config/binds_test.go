package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/engine"
)

// Under bind_mount_paths, no bind lies inside a writable one, and no
// writable one holds another; read-only binds nest, equal sources share.
func TestCheckBindOverlap(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "real"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(root, "real"), filepath.Join(root, "alias")))
	p := config.Policy{BindMountPaths: []string{root}}
	rw := func(src string) engine.Bind { return engine.Bind{Source: filepath.Join(root, src)} }
	ro := func(src string) engine.Bind { return engine.Bind{Source: filepath.Join(root, src), ReadOnly: true} }
	other := func(b engine.Bind) []config.OwnedBind { return []config.OwnedBind{{Bind: b, Owner: "container x"}} }
	for _, tc := range []struct {
		b     engine.Bind
		other engine.Bind
		want  string
	}{
		{ro("a/x"), rw("a"), "lies inside " + root + "/a, which container x binds writable"},
		{rw("a/x/y"), rw("a"), "lies inside"},
		{rw("a"), ro("a/x"), "is writable and holds " + root + "/a/x"},
		{ro("alias/x"), rw("real"), "lies inside"},
		{rw("real"), ro("alias/x"), "holds"},
		{engine.Bind{Source: root + "/a/../b/x"}, rw("b"), "lies inside"},
		{ro("a/x"), ro("a"), ""},
		{rw("a"), rw("a"), ""},
		{rw("ab"), rw("a"), ""},
		{rw("a"), ro("b/a"), ""},
	} {
		err := p.CheckBindOverlap(tc.b, other(tc.other))
		if tc.want == "" {
			assert.NoError(t, err, "%v beside %v", tc.b, tc.other)
			continue
		}
		if assert.Error(t, err, "%v beside %v", tc.b, tc.other) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
	assert.NoError(t, config.Policy{}.CheckBindOverlap(ro("a/x"), other(rw("a"))), "without bind_mount_paths every bind is the device's choice")
}

// The state directory and Mender's own directories are out of reach of
// every bind, whatever the policy: at, inside and above them.
func TestCheckProtected(t *testing.T) {
	c := config.Default()
	c.StateDir = t.TempDir()
	c.File = "/etc/mender-docker.conf"
	c.ProtectedPaths = []string{"/srv/mender-data"}
	for _, src := range []string{c.StateDir, c.StateDir + "/app/files", filepath.Dir(c.StateDir), "/", "/etc", "/etc/mender", "/etc/mender/mender.conf",
		"/var/lib/mender", "/var/lib", "/var/lib/mender/mender-agent.pem", "/etc/mender-docker.conf", "/srv/mender-data/x", "/srv"} {
		err := config.CheckProtected(src, c.Protected())
		if assert.Error(t, err, src) {
			assert.Contains(t, err.Error(), "which no container may reach", src)
		}
	}
	for _, src := range []string{"/etc/myapp", "/var/lib/myapp", "/var/lib/mender-configure", c.StateDir + "-other", "/data"} {
		assert.NoError(t, config.CheckProtected(src, c.Protected()), src)
	}
	// A link is followed: binding it is binding what it names.
	link := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Symlink(c.StateDir, link))
	assert.Error(t, config.CheckProtected(link+"/x", c.Protected()))
}

// A state directory under an allowed bind path is worth a warning.
func TestStateDirWarnings(t *testing.T) {
	c := config.Default()
	c.StateDir = "/data/mender-docker"
	assert.Empty(t, c.StateDirWarnings())
	c.Policy.BindMountPaths = []string{"/etc/myapp", "/data"}
	w := c.StateDirWarnings()
	require.Len(t, w, 1)
	assert.Contains(t, w[0], "state_dir /data/mender-docker lies under bind_mount_paths entry /data")
}
