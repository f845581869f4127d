package journal_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// A state directory that others can write, an app directory that is a
// link, and a journal file that is a link are refused.
func TestStoreRefusesUnsafeDirs(t *testing.T) {
	root := t.TempDir()
	s := journal.Store{Dir: filepath.Join(root, "state")}
	require.NoError(t, os.MkdirAll(s.Dir, 0o700))
	require.NoError(t, os.Chmod(s.Dir, 0o777))
	_, err := s.Lock(context.Background(), time.Second, nil)
	assert.ErrorIs(t, err, journal.ErrUnsafe)
	require.NoError(t, os.Chmod(s.Dir, 0o700))
	unlock, err := s.Lock(context.Background(), time.Second, nil)
	require.NoError(t, err)
	unlock()

	elsewhere := t.TempDir()
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(s.Dir, "linked")))
	assert.ErrorIs(t, s.Save("linked", "deployment", map[string]int{"a": 1}), journal.ErrUnsafe)
	entries, _ := os.ReadDir(elsewhere)
	assert.Empty(t, entries, "nothing written through the link")

	require.NoError(t, os.MkdirAll(filepath.Join(s.Dir, "app"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(elsewhere, "x.json"), []byte(`{"a":1}`), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(elsewhere, "x.json"), filepath.Join(s.Dir, "app", "deployment.json")))
	var v map[string]int
	assert.ErrorIs(t, s.Load("app", "deployment", &v), journal.ErrUnsafe)
}
