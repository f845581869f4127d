package module_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/memengine"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// stream plays the client's side of stream-next during Download: each
// payload file is announced as streams/<name> and written through a FIFO,
// then an empty line ends the payload. done stops it where it is, if the
// module stopped reading early.
func stream(t *testing.T, filesDir string, names []string, files map[string][]byte) (done func()) {
	next := filepath.Join(filesDir, "stream-next")
	require.NoError(t, syscall.Mkfifo(next, 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(filesDir, "streams"), 0o755))
	quit, finished := make(chan struct{}), make(chan struct{})
	// openWriter waits for a reader without blocking in open(2), so that
	// quit can end the wait.
	openWriter := func(p string) *os.File {
		for {
			f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if err == nil {
				return f
			}
			select {
			case <-quit:
				return nil
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	write := func(p string, data []byte) bool {
		f := openWriter(p)
		if f == nil {
			return false
		}
		defer f.Close()
		_, err := f.Write(data)
		return err == nil
	}
	go func() {
		defer close(finished)
		for _, name := range names {
			p := filepath.Join(filesDir, "streams", name)
			syscall.Mkfifo(p, 0o600)
			if !write(next, []byte("streams/"+name+"\n")) || !write(p, files[name]) {
				return
			}
		}
		write(next, []byte("\n"))
	}()
	return func() {
		close(quit)
		<-finished
	}
}

type embedded struct {
	ref, id, file string
	data          []byte
}

func embed(t *testing.T, version string, omitFrom *fixture.Image) embedded {
	spec := fixture.Image{Version: version, PadBytes: 4096, PadSeed: 7}
	var omit map[v1.Hash]bool
	if omitFrom != nil {
		ids, err := fixture.DiffIDs(*omitFrom)
		require.NoError(t, err)
		omit = map[v1.Hash]bool{}
		for _, d := range ids {
			omit[d] = true
		}
	}
	data, id, err := fixture.Archive(spec, nil, omit)
	require.NoError(t, err)
	return embedded{ref: fmt.Sprintf("127.0.0.1:5000/acme/web@%s", id), id: id, file: "web-" + version + ".tar", data: data}
}

func embeddedMeta(e embedded, base string, omitted []v1.Hash) string {
	extra := ""
	if base != "" {
		extra = fmt.Sprintf(`,"base":%q,"omitted_layers":[%q,%q]`, base, omitted[0], omitted[1])
	}
	return fmt.Sprintf(`{"containers":[%q],"run_args":"--network none","embedded":{%q:{"id":%q,"file":%q%s}}}`, e.ref, e.ref, e.id, e.file, extra)
}

func (d *device) streamInstall(t *testing.T, name, meta string, e embedded, commit bool) error {
	d.Artifact(name, meta)
	done := stream(t, d.Files, []string{e.file}, map[string][]byte{e.file: e.data})
	err := d.run("Download")
	done()
	if err != nil {
		d.run("Cleanup")
		return err
	}
	if err := d.run("ArtifactInstall"); err != nil {
		d.run("ArtifactRollback")
		d.run("ArtifactFailure")
		d.run("Cleanup")
		return err
	}
	if commit {
		if err := d.run("ArtifactCommit"); err != nil {
			return err
		}
		return d.run("Cleanup")
	}
	return nil
}

func TestEmbeddedImagesStreamed(t *testing.T) {
	d := newDevice(t)
	v1e, v2e := embed(t, "1", nil), embed(t, "2", nil)
	require.NoError(t, d.streamInstall(t, "app-1", embeddedMeta(v1e, "", nil), v1e, true), d.Log.String())
	s := d.snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, v1e.id, s[0].Image, "containers run the loaded image by ID")
	assert.Contains(t, d.Log.String(), "loaded "+v1e.ref)
	before := s

	require.NoError(t, d.streamInstall(t, "app-2", embeddedMeta(v2e, "", nil), v2e, false), d.Log.String())
	assert.Equal(t, v2e.id, d.snapshot()[0].Image)
	require.NoError(t, d.run("ArtifactRollback"))
	require.NoError(t, d.run("Cleanup"))
	assert.Equal(t, before, d.snapshot())
	assert.NotContains(t, d.eng.Images(), v2e.id, "the loaded image of the rolled-back update is removed")
}

func TestEmbeddedFromFilesDir(t *testing.T) {
	d := newDevice(t)
	e := embed(t, "1", nil)
	d.Artifact("app-1", embeddedMeta(e, "", nil))
	require.NoError(t, os.MkdirAll(filepath.Join(d.Files, "files"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.Files, "files", e.file), e.data, 0o644))
	require.NoError(t, d.run("Download"), d.Log.String())
	require.NoError(t, d.run("ArtifactInstall"))
	assert.Equal(t, e.id, d.snapshot()[0].Image)
}

func TestEmbeddedDelta(t *testing.T) {
	base := fixture.Image{Version: "1", PadBytes: 4096, PadSeed: 7}
	layers, err := fixture.DiffIDs(base)
	require.NoError(t, err)
	full, delta := embed(t, "1", nil), embed(t, "2", &base)
	assert.Less(t, len(delta.data), len(full.data)/2, "the delta leaves the layers out")
	deltaMeta := embeddedMeta(delta, full.id, layers)

	t.Run("over its base", func(t *testing.T) {
		d := newDevice(t)
		require.NoError(t, d.streamInstall(t, "app-1", embeddedMeta(full, "", nil), full, true))
		require.NoError(t, d.streamInstall(t, "app-2", deltaMeta, delta, true), d.Log.String())
		assert.Equal(t, delta.id, d.snapshot()[0].Image)
	})
	t.Run("without its base", func(t *testing.T) {
		d := newDevice(t)
		d.unrelated()
		before, images := d.snapshot(), d.eng.Images()
		err := d.streamInstall(t, "app-2", deltaMeta, delta, true)
		require.ErrorIs(t, err, module.ErrMissingBase)
		assert.Contains(t, err.Error(), layers[0].String(), "the message names the missing layers")
		assert.Equal(t, before, d.snapshot())
		assert.Equal(t, images, d.eng.Images())
	})
}

func TestEmbeddedCorruptOrMissing(t *testing.T) {
	d := newDevice(t)
	v1e := embed(t, "1", nil)
	require.NoError(t, d.streamInstall(t, "app-1", embeddedMeta(v1e, "", nil), v1e, true))
	before, images := d.snapshot(), d.eng.Images()

	bad := embed(t, "2", nil)
	bad.data[len(bad.data)/2] ^= 0xff
	err := d.streamInstall(t, "app-2", embeddedMeta(bad, "", nil), bad, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loading embedded image")
	assert.Equal(t, before, d.snapshot())
	assert.Equal(t, images, d.eng.Images())

	// The payload holds a file, but not the one the meta-data names.
	other := embed(t, "3", nil)
	wrong := other
	wrong.file = "something-else.tar"
	err = d.streamInstall(t, "app-3", embeddedMeta(other, "", nil), wrong, true)
	require.ErrorIs(t, err, module.ErrPayload)
	assert.Equal(t, before, d.snapshot())
	assert.Equal(t, images, d.eng.Images())
}

// An archive holding another image than the one the meta-data names is
// refused, and the engine does not keep that other image.
func TestEmbeddedArchiveOtherImage(t *testing.T) {
	d := newDevice(t)
	d.unrelated()
	before, images := d.snapshot(), d.eng.Images()
	named, other := embed(t, "1", nil), embed(t, "2", nil)
	other.file = named.file
	err := d.streamInstall(t, "app-1", embeddedMeta(named, "", nil), other, true)
	require.ErrorIs(t, err, module.ErrArchive)
	assert.Contains(t, err.Error(), "is not "+named.id)
	assert.Equal(t, before, d.snapshot())
	assert.Equal(t, images, d.eng.Images(), "neither image is loaded")
}

// loadFails loads, then reports a failure, as when the engine's answer is
// lost after the load.
type loadFails struct{ *memengine.Engine }

func (e loadFails) LoadImage(ctx context.Context, r io.Reader) error {
	if err := e.Engine.LoadImage(ctx, r); err != nil {
		return err
	}
	return errors.New("connection reset")
}

func TestEmbeddedFailedLoadRemoved(t *testing.T) {
	eng := memengine.New()
	fd := fixture.NewDevice(t, loadFails{eng})
	e := embed(t, "1", nil)
	fd.Artifact("app-1", embeddedMeta(e, "", nil))
	require.NoError(t, os.MkdirAll(filepath.Join(fd.Files, "files"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fd.Files, "files", e.file), e.data, 0o644))
	err := fd.Run("Download")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection reset")
	assert.Contains(t, fd.Log.String(), "removed "+e.id+" after the failed load")
	assert.Empty(t, eng.Images())
}

// A files archive bigger than max_unpack_mb is refused, and what it
// unpacked removed.
func TestFilesArchiveTooBig(t *testing.T) {
	d := newDevice(t)
	d.u.Config.MaxUnpackMB = 1
	img := d.image("web", "1", memengine.Behavior{})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		size int
	}{{"conf", 10}, {"data/a", 600 << 10}, {"data/b", 600 << 10}} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(f.size), Typeflag: tar.TypeReg}))
		_, err := tw.Write(bytes.Repeat([]byte{'\n'}, f.size))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	sum := sha256.Sum256(buf.Bytes())
	d.Artifact("c-1", `{"app":"shop","files":{"archive":"files.tar","digest":"sha256:`+hex.EncodeToString(sum[:])+`"},"services":{"web":{"image":"`+img+`","files":{"/etc/conf":"conf"}}}}`)
	require.NoError(t, os.MkdirAll(filepath.Join(d.Files, "files"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(d.Files, "files", "files.tar"), buf.Bytes(), 0o644))
	err := d.run("Download")
	require.ErrorIs(t, err, module.ErrArchive)
	assert.Contains(t, err.Error(), "more than 1 MB (max_unpack_mb)")
	assert.Empty(t, d.eng.Images())
	files, _ := os.ReadDir(filepath.Join(d.u.Config.StateDir, "shop", "files"))
	assert.Empty(t, files, "the unpacked part is removed")
}
