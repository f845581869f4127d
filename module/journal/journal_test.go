package journal_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module/journal"
)

func TestStore(t *testing.T) {
	s := journal.Store{Dir: filepath.Join(t.TempDir(), "state")}
	var v map[string]int
	require.ErrorIs(t, s.Load("a", "deployment", &v), journal.ErrNone)
	apps, err := s.Apps("deployment")
	require.NoError(t, err)
	assert.Empty(t, apps, "a missing state directory holds no apps")

	require.NoError(t, s.Save("b", "deployment", map[string]int{"x": 1}))
	require.NoError(t, s.Save("a", "deployment", map[string]int{"x": 2}))
	require.NoError(t, s.Save("a", "deployment", map[string]int{"x": 3}))
	require.NoError(t, s.Save("c", "installed", map[string]int{}))
	require.NoError(t, s.Load("a", "deployment", &v))
	assert.Equal(t, 3, v["x"])
	apps, err = s.Apps("deployment")
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, apps)

	entries, err := os.ReadDir(filepath.Join(s.Dir, "a"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")

	require.NoError(t, s.Remove("a", "deployment"))
	require.NoError(t, s.Remove("a", "deployment"), "removing twice")
	require.ErrorIs(t, s.Load("a", "deployment", &v), journal.ErrNone)

	require.NoError(t, os.WriteFile(filepath.Join(s.Dir, "b", "deployment.json"), []byte("{torn"), 0o600))
	assert.ErrorContains(t, s.Load("b", "deployment", &v), "deployment.json")
}

// A second holder waits, tells why once, and gives up after its wait; the
// lock is free again once the first lets go.
func TestLock(t *testing.T) {
	s := journal.Store{Dir: filepath.Join(t.TempDir(), "state")}
	ctx := context.Background()
	unlock, err := s.Lock(ctx, time.Second, nil)
	require.NoError(t, err)

	var told []string
	start := time.Now()
	_, err = s.Lock(ctx, 300*time.Millisecond, func(h string) { told = append(told, h) })
	require.ErrorIs(t, err, journal.ErrLocked)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.Contains(t, err.Error(), "lock_timeout")
	assert.Contains(t, err.Error(), fmt.Sprintf("pid %d", os.Getpid()))
	assert.Len(t, told, 1)

	go func() { time.Sleep(200 * time.Millisecond); unlock() }()
	unlock2, err := s.Lock(ctx, time.Minute, nil)
	require.NoError(t, err, "the lock is taken once the holder lets go")
	unlock2()
}
