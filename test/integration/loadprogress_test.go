package integration

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// slowStream plays the client's side of stream-next for one payload file,
// written through its FIFO at about rate bytes a second (a slow artifact
// download: the client streams as it receives). wait returns once the
// writer is done or has given up.
func slowStream(t *testing.T, filesDir, name string, data []byte, rate int) (wait func()) {
	next := filepath.Join(filesDir, "stream-next")
	stream := filepath.Join(filesDir, "streams", name)
	require.NoError(t, os.MkdirAll(filepath.Dir(stream), 0o755))
	require.NoError(t, syscall.Mkfifo(next, 0o600))
	require.NoError(t, syscall.Mkfifo(stream, 0o600))
	deadline := time.Now().Add(time.Minute)
	// open waits for the reader without blocking in open(2), so that a
	// module that never reads does not hang the test.
	open := func(p string) *os.File {
		for time.Now().Before(deadline) {
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				syscall.SetNonblock(int(f.Fd()), false)
				return f
			}
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	}
	write := func(p string, data []byte, chunk int, pause time.Duration) bool {
		f := open(p)
		if f == nil {
			return false
		}
		defer f.Close()
		for len(data) > 0 {
			n := min(chunk, len(data))
			if _, err := f.Write(data[:n]); err != nil {
				return false
			}
			data = data[n:]
			time.Sleep(pause)
		}
		return true
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if write(next, []byte("streams/"+name+"\n"), 4096, 0) && write(stream, data, rate/20, 50*time.Millisecond) {
			write(next, []byte("\n"), 1, 0)
		}
	}()
	return func() { <-finished }
}

// An embedded image loaded from a slow stream logs how far the load is at
// a steady pace (MB read, rate), one plain line each, then what it loaded.
func TestLoadProgress(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	data, id, err := fixture.Archive(fixture.Image{Version: "load-" + w.app, PadBytes: 2 << 20, PadSeed: time.Now().UnixNano()}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, w.d.Eng, module.LabelApp, w.app)
		w.d.Eng.RemoveImage(ctx, id)
	})
	meta, ref := w.embeddedMeta(id, "web.tar")
	w.d.U.ProgressInterval = 500 * time.Millisecond
	w.d.Artifact("load-1", meta)
	wait := slowStream(t, w.d.Files, "web.tar", data, 1<<20)
	start := time.Now()
	err = w.d.Run("Download")
	wait()
	require.NoError(t, err, w.d.Log.String())
	log := w.d.Log.String()
	t.Logf("downloaded in %s\n%s", time.Since(start).Round(time.Millisecond), log)
	assert.True(t, w.has(id), "the embedded image is loaded")

	re := regexp.MustCompile(`(?m)^loading ` + regexp.QuoteMeta(ref) + ` from web\.tar: (\d+\.\d) MB after \d+s \((\d+\.\d) MB/s\)$`)
	lines := re.FindAllStringSubmatch(log, -1)
	require.GreaterOrEqual(t, len(lines), 2, "a line every 500ms of a load of about 3s")
	mbs := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		return f
	}
	assert.Greater(t, mbs(lines[len(lines)-1][1]), mbs(lines[0][1]), "MB read grows")
	assert.Greater(t, mbs(lines[len(lines)-1][2]), 0.0, "a rate")
	loaded := regexp.MustCompile(`(?m)^loaded ` + regexp.QuoteMeta(ref) + ` \(web\.tar, (\d+\.\d) MB\) in `).FindStringSubmatch(log)
	require.NotNil(t, loaded, "the load's last line")
	assert.Greater(t, mbs(loaded[1]), 2.0, "the whole archive: padding and program")
	assert.NotContains(t, log, "\r")
	require.NoError(t, w.d.Run("Cleanup"))
	w.checkUnrelated()
}
