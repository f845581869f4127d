package journal_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/journal"
)

// An app name that would lead out of the state directory is refused by
// every method, and a directory with such a name is not an app.
func TestStoreRefusesBadAppNames(t *testing.T) {
	root := t.TempDir()
	s := journal.Store{Dir: filepath.Join(root, "state")}
	require.NoError(t, os.MkdirAll(filepath.Join(root, "plant"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "plant", "deployment.json"), []byte(`{"x":1}`), 0o600))
	for _, app := range []string{"../plant", "..", ".", "", "a/b", "/plant", "Bad Name"} {
		var v map[string]int
		assert.ErrorIs(t, s.Load(app, "deployment", &v), journal.ErrBadApp, app)
		assert.Nil(t, v, app)
		assert.ErrorIs(t, s.Save(app, "deployment", map[string]int{}), journal.ErrBadApp, app)
		assert.ErrorIs(t, s.Remove(app, "deployment"), journal.ErrBadApp, app)
	}
	assert.FileExists(t, filepath.Join(root, "plant", "deployment.json"), "nothing outside the state directory is touched")
	assert.NoDirExists(t, s.Dir)

	require.NoError(t, s.Save("good", "deployment", map[string]int{}))
	for _, dir := range []string{"Bad Name", ".hidden", "-x"} {
		require.NoError(t, os.MkdirAll(filepath.Join(s.Dir, dir), 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(s.Dir, dir, "deployment.json"), []byte(`{}`), 0o600))
	}
	apps, err := s.Apps("deployment")
	require.NoError(t, err)
	assert.Equal(t, []string{"good"}, apps)
}

// A corrupted journal names its file and says how to recover.
func TestStoreCorrupted(t *testing.T) {
	s := journal.Store{Dir: t.TempDir()}
	require.NoError(t, s.Save("shop", "deployment", map[string]int{}))
	path := filepath.Join(s.Dir, "shop", "deployment.json")
	require.NoError(t, os.WriteFile(path, []byte("{torn"), 0o600))
	var v map[string]int
	err := s.Load("shop", "deployment", &v)
	require.ErrorIs(t, err, journal.ErrCorrupt)
	assert.Contains(t, err.Error(), "journal "+path+" is corrupted")
	assert.Contains(t, err.Error(), "label io.mender.docker.app=shop")
	assert.Contains(t, err.Error(), "delete the file to start over")
}
