package compose_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/artifactgen/image"
	"github.com/mender-docker/mender-docker/module/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// newRegistry starts an in-process registry on loopback with the images
// shop/web:7 and shop/db:15 (fixed content, so fixed digests); it returns
// its address.
func newRegistry(t *testing.T) string {
	srv := httptest.NewServer(registry.New())
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, img := range []struct{ repo, tag string }{{"shop/web", "7"}, {"shop/db", "15"}} {
		i, err := mutate.Config(empty.Image, v1.Config{Labels: map[string]string{"version": img.tag}, Cmd: []string{"/testapp"}})
		require.NoError(t, err)
		ref, err := name.ParseReference(addr + "/" + img.repo + ":" + img.tag)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, i))
	}
	return addr
}

// document compiles dir as the generator does and returns the meta-data
// it would write, checked as the device would check it.
func document(t *testing.T, dir string, o compose.Options) (*compose.App, []byte, error) {
	if o.App == "" {
		o.App = "shop"
	}
	o.TmpDir = t.TempDir()
	app, err := compose.Compile(context.Background(), &image.Resolver{}, dir, o)
	if err != nil {
		return nil, nil, err
	}
	d := spec.Document{App: o.App, Services: app.Services, Networks: app.Networks, Volumes: app.Volumes, Files: app.Files, Params: o.Params,
		Attributes: app.Attributes, SecretAttributes: app.SecretAttributes}
	out, err := d.JSON()
	require.NoError(t, err)
	back, err := spec.Decode(out)
	require.NoError(t, err)
	require.NoError(t, back.Check())
	return app, out, nil
}

var goldenParams = map[string]string{"SITE": "lab", "PORT": "8080", "MOTD": "hi"}

// The golden project uses every supported key; its meta-data is
// testdata/golden.json (the registry's address written as REGISTRY).
func TestGolden(t *testing.T) {
	addr := newRegistry(t)
	t.Setenv("REGISTRY", addr)
	app, out, err := document(t, "testdata/golden", compose.Options{Params: goldenParams})
	require.NoError(t, err)
	got := strings.ReplaceAll(string(indent(t, out)), addr, "REGISTRY")
	golden := filepath.Join("testdata", "golden.json")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
	require.Len(t, app.Payload, 1)
	assert.Equal(t, compose.FilesArchive, app.Payload[0].Name)
}

// indent lays out meta-data as the golden file holds it.
func indent(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, b, "", "  "))
	buf.WriteByte('\n')
	return buf.Bytes()
}
