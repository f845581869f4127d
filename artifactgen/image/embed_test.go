package image_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen"
	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

func embedArtifact(t *testing.T, r *image.Resolver, sources []string, bases []image.Base) (string, *spec.Meta) {
	var images []*image.EmbeddedImage
	for _, s := range sources {
		ei, err := r.Fetch(context.Background(), s)
		require.NoError(t, err)
		images = append(images, ei)
	}
	dir := t.TempDir()
	entries, files, err := image.Embed(context.Background(), images, bases, dir, false, nil)
	require.NoError(t, err)
	o := artifactgen.Options{ArtifactName: "embedded-1", DeviceTypes: []string{"rpi4"}}
	for _, ei := range images {
		o.Images = append(o.Images, ei.Ref)
	}
	o.Embedded, o.Files = entries, files
	a, err := o.Artifact()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "embedded.mender")
	require.NoError(t, artifact.WriteFile(context.Background(), path, a, artifact.WriteOptions{}))
	m, err := spec.Parse(a.MetaData)
	require.NoError(t, err)
	return path, m
}

func TestEmbedFromRegistry(t *testing.T) {
	rec := &recorder{}
	reg := fixture.NewRegistry(t, rec.wrap)
	spec1 := fixture.Image{Version: "1", PadBytes: 256 << 10, PadSeed: 3}
	ref := fixture.MustPush(t, reg, "acme/web", "1", spec1)
	rec.reset()
	path, m := embedArtifact(t, anonymous(), []string{reg.Addr + "/acme/web:1"}, nil)

	img, err := fixture.Build(spec1)
	require.NoError(t, err)
	id, _ := img.ConfigName()
	require.Contains(t, m.Embedded, ref)
	e := m.Embedded[ref]
	assert.Equal(t, id.String(), e.ID)
	assert.Len(t, e.Layers, 2)
	assert.Equal(t, id.String(), m.Services[0].Config.Image)
	// Each blob once: the image content is fetched, and only once.
	blobs := map[string]int{}
	for _, q := range rec.reqs {
		if strings.Contains(q, "/blobs/") && strings.HasPrefix(q, "GET") {
			blobs[q]++
		}
	}
	assert.Len(t, blobs, 3, "config and two layers")
	for q, n := range blobs {
		assert.Equal(t, 1, n, q)
	}

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	info, err := artifact.Read(f, nil)
	require.NoError(t, err)
	require.Len(t, info.Files, 1)
	assert.Equal(t, e.File, info.Files[0].Name)

	needMenderArtifact(t)
	out, err := menderArtifact(t, "validate", path)
	require.NoError(t, err, out)
	out, err = menderArtifact(t, "read", path)
	require.NoError(t, err, out)
	assert.Contains(t, out, e.File)
	assert.NotContains(t, out, "Invalid metadata")

	// One byte changed in the payload: refused by both readers.
	data, _ := os.ReadFile(path)
	data[len(data)-4096] ^= 0x01
	bad := filepath.Join(t.TempDir(), "bad.mender")
	require.NoError(t, os.WriteFile(bad, data, 0o644))
	out, err = menderArtifact(t, "validate", bad)
	assert.Error(t, err, out)
	_, err = artifact.Read(bytes.NewReader(data), nil)
	assert.ErrorIs(t, err, artifact.ErrBadArtifact)
}

func TestEmbedFromFiles(t *testing.T) {
	spec1 := fixture.Image{Version: "files"}
	img, err := fixture.Build(spec1)
	require.NoError(t, err)
	id, _ := img.ConfigName()
	dir := t.TempDir()

	archive, _, err := fixture.Archive(spec1, []string{"127.0.0.1:9/acme/web:1.0"}, nil)
	require.NoError(t, err)
	archivePath := filepath.Join(dir, "web.tar")
	require.NoError(t, os.WriteFile(archivePath, archive, 0o644))

	ociDir := filepath.Join(dir, "oci")
	lp, err := layout.Write(ociDir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "127.0.0.1:9/acme/web:1.0"})))

	for _, src := range []string{image.DockerArchivePrefix + archivePath, image.OCILayoutPrefix + ociDir} {
		t.Run(src[:strings.Index(src, ":")], func(t *testing.T) {
			_, m := embedArtifact(t, anonymous(), []string{src}, nil)
			require.Len(t, m.Services, 1)
			assert.True(t, strings.HasPrefix(m.Services[0].Image, "127.0.0.1:9/acme/web@sha256:"), m.Services[0].Image)
			assert.Equal(t, id.String(), m.Services[0].Config.Image)
		})
	}

	_, err = anonymous().Fetch(context.Background(), image.DockerArchivePrefix+filepath.Join(dir, "missing.tar"))
	assert.Error(t, err)
}

func TestEmbedDelta(t *testing.T) {
	reg := fixture.NewRegistry(t)
	base := fixture.Image{Version: "1", PadBytes: 1 << 20, PadSeed: 5}
	next := base
	next.Version = "2" // same layers, new config
	other := fixture.Image{Version: "3", PadBytes: 1 << 20, PadSeed: 6}
	fixture.MustPush(t, reg, "acme/web", "1", base)
	fixture.MustPush(t, reg, "acme/web", "2", next)
	fixture.MustPush(t, reg, "acme/web", "3", other)

	fullPath, full := embedArtifact(t, anonymous(), []string{reg.Addr + "/acme/web:1"}, nil)
	bases, err := image.BasesFromArtifact(fullPath)
	require.NoError(t, err)
	deltaPath, delta := embedArtifact(t, anonymous(), []string{reg.Addr + "/acme/web:2"}, bases)
	fullInfo, _ := os.Stat(fullPath)
	deltaInfo, _ := os.Stat(deltaPath)
	assert.Less(t, deltaInfo.Size(), fullInfo.Size()/10, "the delta leaves the 1 MB layer out")

	var e spec.Embedded
	for _, v := range delta.Embedded {
		e = v
	}
	var baseID string
	for _, v := range full.Embedded {
		baseID = v.ID
	}
	assert.Equal(t, baseID, e.Base)
	assert.Equal(t, e.Layers, e.OmittedLayers, "every layer is in the base")

	// Different bottom layer: nothing in common, nothing left out.
	_, unrelated := embedArtifact(t, anonymous(), []string{reg.Addr + "/acme/web:3"}, bases)
	for _, v := range unrelated.Embedded {
		assert.Empty(t, v.Base)
		assert.Empty(t, v.OmittedLayers)
	}
}

func needMenderArtifact(t *testing.T) {
	_, err := exec.LookPath("mender-artifact")
	fixture.Need(t, err == nil, "mender-artifact")
}

func menderArtifact(t *testing.T, args ...string) (string, error) {
	out, err := exec.Command("mender-artifact", args...).CombinedOutput()
	return string(out), err
}
