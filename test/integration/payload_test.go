package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// payloadDownload runs Download with files as the payload the client
// stored in FILES_DIR/files, and Cleanup after a failure, as the client
// does.
func (w *world) payloadDownload(name, meta string, files map[string][]byte) error {
	w.d.Artifact(name, meta)
	dir := filepath.Join(w.d.Files, "files")
	require.NoError(w.t, os.MkdirAll(dir, 0o755))
	for f, data := range files {
		require.NoError(w.t, os.WriteFile(filepath.Join(dir, f), data, 0o644))
	}
	err := w.d.Run("Download")
	if err != nil {
		w.d.Run("Cleanup")
	}
	return err
}

// embeddedMeta is meta-data for one service running an image embedded as
// file, which the meta-data says has the ID id.
func (w *world) embeddedMeta(id, file string) (meta, ref string) {
	ref = w.reg.Addr + "/it/embedded@sha256:" + strings.TrimPrefix(id, "sha256:")
	meta = fmt.Sprintf(`{"app":%q,"health":{"window":"300ms"},"services":{"web":{"image":%q,"run_args":"--network none"}},"embedded":{%q:{"id":%q,"file":%q}}}`,
		w.app, ref, ref, id, file)
	return meta, ref
}

// imageID asks the engine which image ref names ("" for none).
func imageID(t *testing.T, ref string) string {
	out, err := exec.Command("docker", "image", "inspect", "-f", "{{.Id}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func needDockerCLI(t *testing.T) {
	_, err := exec.LookPath("docker")
	fixture.Need(t, err == nil, "the docker command")
}

// An embedded archive whose manifest.json tags its image with a name the
// device already uses must not move that name: the module loads the image
// by the ID the meta-data gives, under no name from the archive.
func TestEmbeddedArchiveCannotRetag(t *testing.T) {
	needDockerCLI(t)
	w := newWorld(t)
	ctx := context.Background()
	tag := fixture.RandHex()
	w.pushed = append(w.pushed, fixture.MustPush(t, w.reg, "it/victim", tag, fixture.Image{Version: "victim-" + w.app}))
	victim := w.reg.Addr + "/it/victim:" + tag
	require.NoError(t, w.d.Eng.PullImage(ctx, victim))
	t.Cleanup(func() { w.d.Eng.RemoveImage(ctx, victim) })
	victimID := imageID(t, victim)
	require.NotEmpty(t, victimID)

	data, id, err := fixture.Archive(fixture.Image{Version: "retag-" + w.app}, []string{victim}, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		// The container that runs it goes first, or the image stays.
		enginetest.RemoveLabelled(t, w.d.Eng, module.LabelApp, w.app)
		w.d.Eng.RemoveImage(ctx, id)
	})
	meta, ref := w.embeddedMeta(id, "web.tar")
	require.NoError(t, w.payloadDownload("retag-1", meta, map[string][]byte{"web.tar": data}), w.d.Log.String())
	assert.True(t, w.has(id), "the embedded image is loaded")
	assert.Equal(t, victimID, imageID(t, victim), "the device's tag still names its own image")
	own := ref[:strings.LastIndex(ref, "@")] + ":mender-" + strings.TrimPrefix(id, "sha256:")[:12]
	assert.Equal(t, id, imageID(t, own), "the image has the module's own name")
	require.NoError(t, w.d.Run("ArtifactInstall"), w.d.Log.String())
	assert.Equal(t, id, w.snapshot()[0].Image)
	assert.Equal(t, victimID, imageID(t, victim))
	w.checkUnrelated()
}

// An archive that holds another image than the one its meta-data names
// fails Download, and the engine is left without that other image.
func TestEmbeddedArchiveOtherImage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	data, otherID, err := fixture.Archive(fixture.Image{Version: "other-" + w.app}, nil, nil)
	require.NoError(t, err)
	_, namedID, err := fixture.Archive(fixture.Image{Version: "named-" + w.app}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		w.d.Eng.RemoveImage(ctx, otherID)
		w.d.Eng.RemoveImage(ctx, namedID)
	})
	before := w.snapshot()
	meta, _ := w.embeddedMeta(namedID, "web.tar")
	err = w.payloadDownload("other-1", meta, map[string][]byte{"web.tar": data})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "web.tar")
	assert.Contains(t, err.Error(), namedID, "the message names the image the meta-data wants")
	assert.False(t, w.has(otherID), "the archive's own image is not left loaded")
	assert.False(t, w.has(namedID))
	assert.Equal(t, before, w.snapshot())
	w.checkUnrelated()
}

// paxSparse is a tar entry (blocks, without the end of the archive) in the
// PAX sparse format 1.0 that GNU tar --sparse writes: 2.5 KB that unpack
// to a file of size bytes with Go's archive/tar, which expands sparse
// files transparently.
func paxSparse(t *testing.T, name string, size int64) []byte {
	records := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(size)}} {
		rec := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(rec) + 1
		for len(fmt.Sprint(n))+len(rec) != n {
			n++
		}
		records += fmt.Sprint(n) + rec
	}
	sparseMap := make([]byte, 512)
	copy(sparseMap, fmt.Sprintf("1\n%d\n512\n", size-512)) // one data block, at the end
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"PaxHeaders/" + name, []byte(records)}, {"GNUSparseFile.0/" + name, append(sparseMap, bytes.Repeat([]byte{'x'}, 512)...)}} {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}))
		_, err := tw.Write(e.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Flush())
	b := buf.Bytes()
	// The first entry becomes the PAX extended header of the second.
	h := b[:512]
	h[156] = tar.TypeXHeader
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h {
		sum += int64(c)
	}
	copy(h[148:155], fmt.Sprintf("%06o\x00", sum))
	return b
}

// withEntry returns archive with raw entry blocks put before its end.
func withEntry(t *testing.T, archive, entry []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.NoError(t, tw.WriteHeader(h))
		_, err = io.Copy(tw, tr)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Flush())
	buf.Write(entry)
	buf.Write(make([]byte, 1024))
	return buf.Bytes()
}

// A 10 KB sparse entry would make the engine write 1 GiB while it
// unpacks the upload: the archive is refused, naming the entry, and
// nothing is loaded.
func TestEmbeddedArchiveSparse(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	data, id, err := fixture.Archive(fixture.Image{Version: "sparse-" + w.app}, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { w.d.Eng.RemoveImage(ctx, id) })
	data = withEntry(t, data, paxSparse(t, "filler", 1<<30))
	before := w.snapshot()
	meta, _ := w.embeddedMeta(id, "web.tar")
	start := time.Now()
	err = w.payloadDownload("sparse-1", meta, map[string][]byte{"web.tar": data})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"filler"`)
	assert.Contains(t, err.Error(), "sparse")
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.False(t, w.has(id))
	assert.Equal(t, before, w.snapshot())
	w.checkUnrelated()
}

// filesTar is a files archive holding files.
func filesTar(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(content))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// filesMeta is meta-data for one service running web with conf of the
// files archive mounted at /etc/app.conf.
func (w *world) filesMeta(web string, archive []byte) string {
	sum := sha256.Sum256(archive)
	return fmt.Sprintf(`{"app":%q,"health":{"window":"500ms"},"files":{"archive":"files.tar","digest":"sha256:%x"},"services":{"web":{"image":%q,"run_args":"--network none","files":{"/etc/app.conf":"conf"}}}}`,
		w.app, sum, web)
}

// A files archive with a sparse file, or with more than max_unpack_mb of
// files, is refused in Download; nothing of it stays on the device.
func TestFilesArchiveLimits(t *testing.T) {
	w := newWorld(t)
	web := w.version("web1")
	filesRoot := filepath.Join(w.d.U.Config.StateDir, w.app, "files")

	check := func(err error, want ...string) {
		t.Helper()
		require.Error(t, err)
		for _, s := range want {
			assert.Contains(t, err.Error(), s)
		}
		assert.False(t, w.has(web), "nothing pulled stays")
		entries, _ := os.ReadDir(filesRoot)
		assert.Empty(t, entries, "nothing unpacked stays")
		assert.Empty(t, w.snapshot())
		w.checkUnrelated()
	}

	sparse := withEntry(t, filesTar(t, map[string]string{"conf": "x=1\n"}), paxSparse(t, "data/huge.bin", 1<<30))
	start := time.Now()
	check(w.payloadDownload("files-sparse", w.filesMeta(web, sparse), map[string][]byte{"files.tar": sparse}), `"data/huge.bin"`, "sparse")
	assert.Less(t, time.Since(start), 10*time.Second)

	w.d.U.Config.MaxUnpackMB = 1
	big := filesTar(t, map[string]string{"conf": "x=1\n", "data/blob": strings.Repeat("x", 2<<20)})
	check(w.payloadDownload("files-big", w.filesMeta(web, big), map[string][]byte{"files.tar": big}), `"data/blob"`, "max_unpack_mb")

	other := filesTar(t, map[string]string{"conf": "x=2\n"})
	check(w.payloadDownload("files-digest", w.filesMeta(web, big), map[string][]byte{"files.tar": other}), "files.digest")

	w.d.U.Config.MaxUnpackMB = 4
	require.NoError(t, w.payloadDownload("files-ok", w.filesMeta(web, big), map[string][]byte{"files.tar": big}), w.d.Log.String())
	require.NoError(t, w.d.Run("Cleanup"))
	entries, _ := os.ReadDir(filesRoot)
	assert.Empty(t, entries, "a deployment that did not stick leaves no files")
}
