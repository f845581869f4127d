package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/compose"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// payloadFiles returns the files of an artifact's payload tar.
func payloadFiles(t *testing.T, path string) map[string][]byte {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		require.NoError(t, err)
		if !strings.HasPrefix(h.Name, "data/0000.tar") {
			continue
		}
		var r io.Reader = tr
		if strings.HasSuffix(h.Name, ".gz") {
			zr, err := newGzip(tr)
			require.NoError(t, err)
			r = zr
		}
		out := map[string][]byte{}
		inner := tar.NewReader(r)
		for {
			ih, err := inner.Next()
			if err == io.EOF {
				return out
			}
			require.NoError(t, err)
			b, _ := io.ReadAll(inner)
			out[ih.Name] = b
		}
	}
}

func TestCompose(t *testing.T) {
	reg := fixture.NewRegistry(t)
	web := fixture.MustPush(t, reg, "shop/web", "7", fixture.Image{Version: "7"})
	db := fixture.MustPush(t, reg, "shop/db", "15", fixture.Image{Version: "15"})
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("docker-compose.yml", `# the shop
services:
  web:
    image: `+reg.Addr+`/shop/web:7
    labels: {site: "${SITE}", tier: "${TIER}"}
    volumes: ["./config/web.conf:/etc/web.conf:ro", "data:/data"]
    depends_on: [db]
  db:
    image: `+reg.Addr+`/shop/db:15
    network_mode: none
volumes:
  data: {}
`)
	write("config/web.conf", "port=8080\n")
	write(".env", "SITE=lab\nTIER=gold\n")
	write("secrets/key.pem", "not mounted, not shipped")

	out := filepath.Join(t.TempDir(), "shop.mender")
	code, stdout, stderr := run("-n", "shop-7", "-t", "rpi4", "--app", "shop", "--param", "SITE=default", "-o", out, "--compose", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "web: "+web)
	assert.Contains(t, stdout, "db: "+db)
	f, err := os.Open(out)
	require.NoError(t, err)
	info, err := artifact.Read(f, nil)
	f.Close()
	require.NoError(t, err)
	assert.NotContains(t, string(info.MetaData), `"compose"`, "the old format is no longer written")
	m, err := spec.Parse(info.MetaData)
	require.NoError(t, err)
	require.Len(t, m.Services, 2)
	assert.Equal(t, db, m.Services[0].Image)
	assert.Equal(t, web, m.Services[1].Image)
	assert.Equal(t, map[string]string{"site": "default", "tier": "gold"}, m.Services[1].Config.Labels, "${SITE} is a parameter (its default here), ${TIER} came from .env")
	assert.Equal(t, []spec.FileMount{{Target: "/etc/web.conf", Source: "project/config/web.conf"}}, m.Services[1].Files)
	assert.Equal(t, []spec.Dependency{{Service: "db", Condition: spec.ServiceStarted}}, m.Services[1].DependsOn)
	require.Len(t, m.Volumes, 1)
	assert.Equal(t, "shop_data", m.Volumes[0].EngineName)
	require.NotNil(t, m.Files)
	assert.Equal(t, "rootfs-image.docker-shop.version", func() string {
		for k := range info.TypeInfo.ArtifactProvides {
			return k
		}
		return ""
	}())

	files := payloadFiles(t, out)
	archive, ok := files[compose.FilesArchive]
	require.True(t, ok)
	var shipped []string
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		shipped = append(shipped, h.Name)
	}
	assert.Equal(t, []string{"project/", "project/config/", "project/config/web.conf"}, shipped, "only what services mount")

	// Bad projects fail with one line and no file.
	for name, content := range map[string]string{
		"invalid":  "services:\n  web:\n    image: " + reg.Addr + "/shop/web:7\n    restart: sometimes-maybe\n    network_mode: none\n    ports: {bad: 1}\n",
		"no image": "services:\n  web:\n    build: .\n    network_mode: none\n",
		"unknown":  "services:\n  web:\n    image: " + reg.Addr + "/shop/web:404\n    network_mode: none\n",
		"refused":  "services:\n  web:\n    image: " + reg.Addr + "/shop/web:7\n    network_mode: ${NET}\n",
	} {
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, "docker-compose.yml"), []byte(content), 0o644))
		o := filepath.Join(t.TempDir(), "x.mender")
		code, _, stderr := run("-n", "x", "-t", "rpi4", "-o", o, "--param", "NET=host", "--compose", d)
		assert.Equal(t, 1, code, name)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "%s: %q", name, stderr)
		_, err := os.Stat(o)
		assert.True(t, os.IsNotExist(err), name)
	}
}

func newGzip(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

// Compose schema errors name the file and line, the key, and what is
// wrong, in words a user knows.
func TestComposeSchemaErrors(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{"services:\n  web:\n    image: 127.0.0.1:1/a:1\n    bogus_key: 1\n", `docker-compose.yml:4: services.web: unknown key "bogus_key"`},
		{"servics:\n  web: {}\n", `docker-compose.yml:1: unknown top-level key "servics" (want services, networks, volumes...)`},
		{"services:\n  web:\n    image: 127.0.0.1:1/a:1\n    ports: {a: 1}\n", "docker-compose.yml:4: services.web.ports: must be a list"},
		{"services:\n  web:\n    image: 127.0.0.1:1/a:1\n    healthcheck:\n      retries: \"x\"\n", "docker-compose.yml:5: services.web.healthcheck.retries: want a whole number, not a string"},
	} {
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, "docker-compose.yml"), []byte(tc.content), 0o644))
		code, _, stderr := run("-n", "x", "-t", "rpi4", "-o", filepath.Join(t.TempDir(), "x.mender"), "--compose", d)
		assert.Equal(t, 1, code)
		assert.Equal(t, "docker-artifact-gen: --compose "+d+": "+tc.want+"\n", stderr)
	}
}

// --compose --embed: each distinct image is fetched once and embedded,
// services name it by its pinned reference, and the files archive travels
// beside the image archives.
func TestComposeEmbed(t *testing.T) {
	reg := fixture.NewRegistry(t)
	web := fixture.MustPush(t, reg, "shop/web", "7", fixture.Image{Version: "7"})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`services:
  web:
    image: `+reg.Addr+`/shop/web:7
    network_mode: none
    configs: [motd]
  worker:
    image: `+reg.Addr+`/shop/web:7
    network_mode: none
configs:
  motd: {content: hello}
`), 0o644))
	out := filepath.Join(t.TempDir(), "a.mender")
	code, _, stderr := run("-n", "x", "-t", "rpi4", "-o", out, "--embed", "--compose", dir)
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	info, err := artifact.Read(f, nil)
	require.NoError(t, err)
	assert.Len(t, info.Files, 2, "one image archive and files.tar")
	m, err := spec.Parse(info.MetaData)
	require.NoError(t, err)
	require.Len(t, m.Embedded, 1)
	e, ok := m.Embedded[web]
	require.True(t, ok)
	for _, s := range m.Services {
		assert.Equal(t, web, s.Image)
		assert.Equal(t, e.ID, s.Config.Image)
	}
	require.NotNil(t, m.Files)
	assert.Equal(t, compose.FilesArchive, m.Files.Archive)
	assert.Contains(t, payloadFiles(t, out), compose.FilesArchive)
}
