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
    image: `+reg.Addr+`/shop/web:7   # pinned by the generator
    network_mode: none
    labels: {site: "${SITE}"}
    volumes: ["./config/web.conf:/etc/web.conf:ro", "data:/data"]
  db:
    image: `+reg.Addr+`/shop/db:15
    network_mode: none
volumes:
  data: {}
`)
	write("config/web.conf", "port=8080\n")
	write(".env", "SITE=lab\n")
	write("secrets/key.pem", "do not ship")
	write("debug.log", "noise")
	write(".composeappignore", "# not for devices\nsecrets\n*.log\n")

	out := filepath.Join(t.TempDir(), "shop.mender")
	code, stdout, stderr := run("-n", "shop-7", "-t", "rpi4", "--app", "shop", "--param", "SITE=default", "-o", out, "--compose", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "Artifact")
	f, err := os.Open(out)
	require.NoError(t, err)
	info, err := artifact.Read(f, nil)
	f.Close()
	require.NoError(t, err)
	m, err := spec.Parse(info.MetaData)
	require.NoError(t, err)
	require.NotNil(t, m.Compose)
	assert.Equal(t, "docker-compose.yml", m.Compose.File)
	assert.ElementsMatch(t, []string{web, db}, m.Compose.Images)
	assert.Equal(t, "rootfs-image.docker-shop.version", func() string {
		for k := range info.TypeInfo.ArtifactProvides {
			return k
		}
		return ""
	}())

	files := payloadFiles(t, out)
	project, ok := files[compose.ProjectFile]
	require.True(t, ok)
	shipped := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(project))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, _ := io.ReadAll(tr)
		shipped[h.Name] = string(b)
	}
	assert.Contains(t, shipped, "config/web.conf")
	assert.Contains(t, shipped, ".env")
	assert.NotContains(t, shipped, "secrets/key.pem")
	assert.NotContains(t, shipped, "debug.log")
	assert.NotContains(t, shipped, ".composeappignore")
	assert.Contains(t, shipped["docker-compose.yml"], web, "images pinned in the shipped file")
	assert.Contains(t, shipped["docker-compose.yml"], "# pinned by the generator", "comments kept")
	assert.Contains(t, shipped["docker-compose.yml"], "${SITE}", "placeholders left for the device")

	// Bad projects fail with one line and no file.
	for name, content := range map[string]string{
		"invalid":  "services:\n  web:\n    image: " + reg.Addr + "/shop/web:7\n    restart: sometimes-maybe\n    network_mode: none\n    ports: {bad: 1}\n",
		"no image": "services:\n  web:\n    build: .\n    network_mode: none\n",
		"unknown":  "services:\n  web:\n    image: " + reg.Addr + "/shop/web:404\n    network_mode: none\n",
	} {
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, "docker-compose.yml"), []byte(content), 0o644))
		o := filepath.Join(t.TempDir(), "x.mender")
		code, _, stderr := run("-n", "x", "-t", "rpi4", "-o", o, "--compose", d)
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

// .composeappignore follows .dockerignore: ** reaches any depth, ! ships
// again what an earlier pattern left out (also below a left-out
// directory), and a leading / or ./ changes nothing.
func TestComposeAppIgnore(t *testing.T) {
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "shop/web", "7", fixture.Image{Version: "7"})
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("compose.yaml", "services:\n  web:\n    image: "+reg.Addr+"/shop/web:7\n    network_mode: none\n")
	for _, f := range []string{"a.log", "logs/deep/b.log", "logs/deep/keep.log", "cache/x", "cache/y", "conf/app.conf", "tmp/z"} {
		write(f, f)
	}
	write(".composeappignore", "# dockerignore rules\n**/*.log\n!logs/deep/keep.log\ncache\n!cache/y\n/tmp\n")
	out := filepath.Join(t.TempDir(), "a.mender")
	code, _, stderr := run("-n", "x", "-t", "rpi4", "-o", out, "--compose", dir)
	require.Equal(t, 0, code, stderr)
	var shipped []string
	tr := tar.NewReader(bytes.NewReader(payloadFiles(t, out)[compose.ProjectFile]))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		shipped = append(shipped, h.Name)
	}
	assert.ElementsMatch(t, []string{"compose.yaml", "logs/", "logs/deep/", "logs/deep/keep.log", "cache/", "cache/y", "conf/", "conf/app.conf"}, shipped)
}
