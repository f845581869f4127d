package journal_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/journal"
)

// roots are a device's /data and /var/lib/mender-docker, in a temporary
// directory: the machine's own are never touched.
func roots(t *testing.T) (data, legacy string) {
	root := t.TempDir()
	data = filepath.Join(root, "data")
	legacy = filepath.Join(root, "var", "lib", "mender-docker")
	require.NoError(t, os.MkdirAll(filepath.Dir(legacy), 0o755))
	return data, legacy
}

// oldState writes a state directory as an earlier version left it: a
// Compose app's installed set, whose journal names its project directory
// by absolute path, and the lock file.
func oldState(t *testing.T, dir string) {
	project := filepath.Join(dir, "shop", "projects", "abc")
	require.NoError(t, os.MkdirAll(project, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(project, "docker-compose.yml"), []byte("services: {}\n"), 0o644))
	require.NoError(t, os.Symlink("docker-compose.yml", filepath.Join(project, "compose.yaml")))
	in := `{"artifact":"shop-1","images":["x@sha256:1"],"project_dir":"` + project + `","project_file":"docker-compose.yml","params":{"SITE":"` + dir + `/x"}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "shop", "installed.json"), []byte(in), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".lock"), nil, 0o600))
}

// checkMoved: the new directory holds the old state with its paths
// rebased, and nothing of the move is left behind.
func checkMoved(t *testing.T, legacy, to string) {
	t.Helper()
	_, err := os.Lstat(legacy)
	assert.ErrorIs(t, err, os.ErrNotExist, "the old directory is removed")
	for _, leftover := range []string{to + ".moving", filepath.Join(to, ".moved-from")} {
		_, err := os.Lstat(leftover)
		assert.ErrorIs(t, err, os.ErrNotExist, leftover)
	}
	project := filepath.Join(to, "shop", "projects", "abc")
	data, err := os.ReadFile(filepath.Join(project, "docker-compose.yml"))
	require.NoError(t, err)
	assert.Equal(t, "services: {}\n", string(data))
	link, err := os.Readlink(filepath.Join(project, "compose.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "docker-compose.yml", link)
	var in map[string]any
	raw, err := os.ReadFile(filepath.Join(to, "shop", "installed.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &in))
	assert.Equal(t, project, in["project_dir"], "journal paths point into the new directory")
	assert.Equal(t, "shop-1", in["artifact"])
	assert.Equal(t, map[string]any{"SITE": legacy + "/x"}, in["params"], "only top-level paths are rebased")
	fi, err := os.Stat(filepath.Join(to, "shop", "installed.json"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

// With /data present the default state directory is on it, and state left
// in the old default moves there once.
func TestStateDirMovesToData(t *testing.T) {
	data, legacy := roots(t)
	require.NoError(t, os.Mkdir(data, 0o755))
	to := config.DefaultStateDir(data, legacy)
	require.Equal(t, filepath.Join(data, "mender-docker"), to)
	oldState(t, legacy)

	var log strings.Builder
	require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, &log))
	checkMoved(t, legacy, to)
	assert.Contains(t, log.String(), "moved "+legacy+" to "+to)

	// Again: nothing to do, nothing changes.
	log.Reset()
	require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, &log))
	checkMoved(t, legacy, to)
	assert.Empty(t, log.String())
}

// Without /data the default stays where it was, and nothing moves.
func TestStateDirStaysWithoutData(t *testing.T) {
	data, legacy := roots(t)
	to := config.DefaultStateDir(data, legacy)
	require.Equal(t, legacy, to)
	oldState(t, legacy)
	require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, os.Stderr))
	_, err := os.Stat(filepath.Join(legacy, "shop", "installed.json"))
	assert.NoError(t, err)
	_, err = os.Stat(data)
	assert.ErrorIs(t, err, os.ErrNotExist, "no /data is made")

	// A /data that is a file is not a data partition either.
	require.NoError(t, os.WriteFile(data, nil, 0o644))
	assert.Equal(t, legacy, config.DefaultStateDir(data, legacy))
}

// A power cut anywhere in the move loses nothing: each state the disk can
// be left in is finished by the next run.
func TestStateDirMoveResumes(t *testing.T) {
	for name, cut := range map[string]func(t *testing.T, legacy, to string){
		"during the copy": func(t *testing.T, legacy, to string) {
			require.NoError(t, os.MkdirAll(filepath.Join(to+".moving", "shop"), 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(to+".moving", "shop", "installed.json"), []byte(`{"art`), 0o600))
		},
		"after the rename, during the removal": func(t *testing.T, legacy, to string) {
			require.NoError(t, os.MkdirAll(filepath.Join(to, "shop", "projects", "abc"), 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(to, "shop", "projects", "abc", "docker-compose.yml"), []byte("services: {}\n"), 0o644))
			require.NoError(t, os.Symlink("docker-compose.yml", filepath.Join(to, "shop", "projects", "abc", "compose.yaml")))
			in := `{"artifact":"shop-1","project_dir":"` + filepath.Join(to, "shop", "projects", "abc") + `","params":{"SITE":"` + legacy + `/x"}}`
			require.NoError(t, os.WriteFile(filepath.Join(to, "shop", "installed.json"), []byte(in), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(to, ".moved-from"), []byte(legacy), 0o600))
			require.NoError(t, os.RemoveAll(filepath.Join(legacy, "shop", "projects"))) // partly removed
		},
	} {
		t.Run(name, func(t *testing.T) {
			data, legacy := roots(t)
			require.NoError(t, os.Mkdir(data, 0o755))
			to := config.DefaultStateDir(data, legacy)
			oldState(t, legacy)
			cut(t, legacy, to)
			require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, os.Stderr))
			checkMoved(t, legacy, to)
		})
	}

	t.Run("after the removal, before the marker went", func(t *testing.T) {
		data, legacy := roots(t)
		require.NoError(t, os.Mkdir(data, 0o755))
		to := config.DefaultStateDir(data, legacy)
		oldState(t, legacy)
		require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, os.Stderr))
		require.NoError(t, os.WriteFile(filepath.Join(to, ".moved-from"), []byte(legacy), 0o600))
		require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, os.Stderr))
		checkMoved(t, legacy, to)
	})
}

// State in both places, with no sign of a move: the configured directory
// wins and the old one is left for a person to look at.
func TestStateDirBothHoldState(t *testing.T) {
	data, legacy := roots(t)
	require.NoError(t, os.Mkdir(data, 0o755))
	to := config.DefaultStateDir(data, legacy)
	oldState(t, legacy)
	require.NoError(t, os.MkdirAll(filepath.Join(to, "web"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(to, "web", "installed.json"), []byte(`{"artifact":"web-1"}`), 0o600))

	var log strings.Builder
	require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, &log))
	assert.Contains(t, log.String(), "both")
	_, err := os.Stat(filepath.Join(legacy, "shop", "installed.json"))
	assert.NoError(t, err, "the old state is left alone")
	_, err = os.Stat(filepath.Join(to, "shop"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing is merged in")
}

// A device builder who linked the old path to the new one keeps the link.
func TestStateDirLinkedIsLeftAlone(t *testing.T) {
	data, legacy := roots(t)
	require.NoError(t, os.Mkdir(data, 0o755))
	to := config.DefaultStateDir(data, legacy)
	oldState(t, to)
	require.NoError(t, os.Symlink(to, legacy))
	require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, os.Stderr))
	target, err := os.Readlink(legacy)
	require.NoError(t, err)
	assert.Equal(t, to, target)
	_, err = os.Stat(filepath.Join(to, "shop", "installed.json"))
	assert.NoError(t, err)
}

// An empty new directory (an OS image may ship one) does not stop the move.
func TestStateDirMovesIntoEmptyDir(t *testing.T) {
	data, legacy := roots(t)
	require.NoError(t, os.Mkdir(data, 0o755))
	to := config.DefaultStateDir(data, legacy)
	require.NoError(t, os.Mkdir(to, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(to, ".lock"), nil, 0o600))
	oldState(t, legacy)
	require.NoError(t, journal.Move(context.Background(), legacy, to, time.Second, os.Stderr))
	checkMoved(t, legacy, to)
}

// A move waits for another process's move, for lock_timeout at most, and
// then says whose lock it waited for.
func TestStateDirMoveWaitsForLock(t *testing.T) {
	data, legacy := roots(t)
	require.NoError(t, os.Mkdir(data, 0o755))
	to := config.DefaultStateDir(data, legacy)
	oldState(t, legacy)
	held, err := os.Open(legacy)
	require.NoError(t, err)
	defer held.Close()
	require.NoError(t, syscall.Flock(int(held.Fd()), syscall.LOCK_EX))

	err = journal.Move(context.Background(), legacy, to, 200*time.Millisecond, os.Stderr)
	require.Error(t, err)
	assert.Equal(t, "moving the state directory "+legacy+": locking "+legacy+" (lock_timeout 200ms): resource temporarily unavailable", err.Error())
	assert.ErrorIs(t, err, syscall.EWOULDBLOCK)
	_, err = os.Lstat(legacy)
	assert.NoError(t, err, "nothing moved")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, context.Canceled, errors.Unwrap(journal.Move(ctx, legacy, to, time.Minute, os.Stderr)))
}
