package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/cli"
	"github.com/mender-docker/mender-docker/module/spec"
	"github.com/mender-docker/mender-docker/test/fixture"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	return p
}

// TestArgv runs the command line with a table of argument lists, as
// regctl's tests do: each either writes an artifact or fails with one line
// on stderr and no output file.
func TestArgv(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials from the machine
	reg := fixture.NewRegistry(t)
	web := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	db := fixture.MustPush(t, reg, "acme/db", "2", fixture.Image{Version: "2"})
	deny := fixture.NewRegistry(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
		})
	})
	down := fixture.NewRegistry(t)
	down.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	require.NoError(t, err)
	defer silent.Close()

	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	ecKey := writePEM(t, dir, "ec.pem", "EC PRIVATE KEY", ecDER)
	pubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPub := writePEM(t, dir, "ec.pub", "PUBLIC KEY", pubDER)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(ed)
	edKey := writePEM(t, dir, "ed.pem", "PRIVATE KEY", edDER)

	webTag, dbTag := reg.Addr+"/acme/web:1.0", reg.Addr+"/acme/db:2"
	attrs := filepath.Join(dir, "attributes.yml")
	require.NoError(t, os.WriteFile(attrs, []byte("site: lab\ndb: {port: 5432}\n"), 0o644))
	badAttrs := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(badAttrs, []byte("db:\n  bad-key: 1\n"), 0o644))
	tmpl := filepath.Join(dir, "app.conf.tmpl")
	require.NoError(t, os.WriteFile(tmpl, []byte("site={{ .site }}\n"), 0o644))
	badTmpl := filepath.Join(dir, "bad.conf.tmpl")
	require.NoError(t, os.WriteFile(badTmpl, []byte("ok\n{{ env \"HOME\" }}\n"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout when code is 0, in stderr otherwise
		meta string // expected meta-data (JSON) when code is 0
	}{
		{"shell tool usage", []string{"-n", "web-1", "-t", "rpi4", "--run-args", "-p 80:80", webTag}, 0, web,
			`{"containers":["` + web + `"],"run_args":"-p 80:80"}`},
		{"two images", []string{"-n", "two", "-t", "rpi4", webTag, dbTag}, 0, db,
			`{"containers":["` + web + `","` + db + `"],"run_args":""}`},
		{"services signed", []string{"-n", "shop-7", "-t", "rpi4", "--app", "shop", "--health-window", "5s", "-k", ecKey,
			"--service", "web=" + webTag + ",--network host --restart always", "--service", "db=" + dbTag}, 0, "web: " + web,
			`{"app":"shop","health":{"window":"5s"},"services":{"web":{"image":"` + web + `","run_args":"--network host --restart always"},"db":{"image":"` + db + `"}}}`},
		{"already pinned", []string{"-n", "pinned", "-t", "rpi4", web}, 0, web, `{"containers":["` + web + `"],"run_args":""}`},
		{"params", []string{"-n", "p", "-t", "rpi4", "--param", "PORT=8080", "--run-args", "-p ${PORT}:80 -e URL=${SERVER_URL}", webTag}, 0, web,
			`{"containers":["` + web + `"],"run_args":"-p ${PORT}:80 -e URL=${SERVER_URL}","params":{"PORT":"8080"}}`},
		{"bad param default", []string{"-n", "x", "-t", "rpi4", "--param", "PORT=http", "--run-args", "-p ${PORT}:80", webTag}, 1, "bad port", ""},
		{"bad param syntax", []string{"-n", "x", "-t", "rpi4", "--param", "PORT", webTag}, 1, "want NAME=DEFAULT", ""},
		{"unknown image", []string{"-n", "x", "-t", "rpi4", reg.Addr + "/acme/web:9.9"}, 1, "unknown image (HTTP 404)", ""},
		{"registry down", []string{"-n", "x", "-t", "rpi4", down.Addr + "/acme/web:1.0"}, 1, "connection refused", ""},
		{"registry never answers", []string{"-n", "x", "-t", "rpi4", "--registry-timeout", "200ms", silent.Addr().String() + "/acme/web:1.0"}, 1,
			"registry " + silent.Addr().String() + " did not answer within 200ms (--registry-timeout)", ""},
		{"bad registry timeout", []string{"-n", "x", "-t", "rpi4", "--registry-timeout", "0s", webTag}, 1, "--registry-timeout 0s", ""},
		{"missing output directory", []string{"-n", "x", "-t", "rpi4", "-o", filepath.Join(dir, "missing", "a.mender"), webTag}, 1,
			"--output-path " + filepath.Join(dir, "missing", "a.mender") + ": directory " + filepath.Join(dir, "missing") + " does not exist", ""},
		{"401", []string{"-n", "x", "-t", "rpi4", deny.Addr + "/acme/web:1.0"}, 1, "unauthorized (HTTP 401)", ""},
		{"malformed reference", []string{"-n", "x", "-t", "rpi4", reg.Addr + "/acme/Web!:1"}, 1, "malformed reference", ""},
		{"duplicate service", []string{"-n", "x", "-t", "rpi4", "--service", "a=" + webTag, "--service", "a=" + dbTag}, 1, "--service a: the name is used twice", ""},
		{"bad service syntax", []string{"-n", "x", "-t", "rpi4", "--service", webTag}, 1, `--service "` + webTag + `": want NAME=IMAGE[,RUN-ARGS]`, ""},
		{"unreadable key", []string{"-n", "x", "-t", "rpi4", "-k", filepath.Join(dir, "missing.pem"), webTag}, 1, "--key: open", ""},
		{"wrong key type", []string{"-n", "x", "-t", "rpi4", "-k", edKey, webTag}, 1, "ed25519", ""},
		{"public key to sign", []string{"-n", "x", "-t", "rpi4", "-k", ecPub, webTag}, 1, "not a private key", ""},
		{"unsupported flag", []string{"-n", "x", "-t", "rpi4", "--run-args", "--rm", webTag}, 1, "run_args: --rm: not supported", ""},
		{"no name", []string{"-t", "rpi4", webTag}, 1, `"artifact-name" not set`, ""},
		{"no device type", []string{"-n", "x", webTag}, 1, `"device-type" not set`, ""},
		{"no image", []string{"-n", "x", "-t", "rpi4"}, 1, "no image", ""},
		{"passthrough", []string{"-n", "x", "-t", "rpi4", webTag, "--", "--provides", "a:b"}, 0, web,
			`{"containers":["` + web + `"],"run_args":""}`},
		{"passthrough refused", []string{"-n", "x", "-t", "rpi4", webTag, "--", "--meta-data", "m.json"}, 1, "after --: unknown flag: --meta-data", ""},
		{"bad compression", []string{"-n", "x", "-t", "rpi4", "--compression", "lz4", webTag}, 1, `compression "lz4"`, ""},
		{"attributes", []string{"-n", "x", "-t", "rpi4", "--attributes", attrs, "--secret-attribute", "db.password", webTag}, 0, web,
			`{"containers":["` + web + `"],"run_args":"","attributes":{"site":"lab","db":{"port":5432}},"secret_attributes":["db.password"]}`},
		{"bad attributes key", []string{"-n", "x", "-t", "rpi4", "--attributes", badAttrs, webTag}, 1, `--attributes: bad.yml.db: "bad-key" is not an attribute name`, ""},
		{"missing attributes", []string{"-n", "x", "-t", "rpi4", "--attributes", filepath.Join(dir, "none.yml"), webTag}, 1, "--attributes: open", ""},
		{"bad secret attribute", []string{"-n", "x", "-t", "rpi4", "--secret-attribute", "db..x", webTag}, 1, `--secret-attribute[0]: "db..x"`, ""},
		{"template syntax", []string{"-n", "x", "-t", "rpi4", "--template", "nocolon", "--service", "web=" + webTag}, 1, `--template "nocolon": want [SERVICE=]SRC:DEST`, ""},
		{"template function", []string{"-n", "x", "-t", "rpi4", "--template", badTmpl + ":/etc/app.conf", "--service", "web=" + webTag}, 1, `bad.conf.tmpl:2: function "env" not defined`, ""},
		{"template target", []string{"-n", "x", "-t", "rpi4", "--template", tmpl + ":etc/app.conf", "--service", "web=" + webTag}, 1, "must be a clean absolute path", ""},
		{"template without service", []string{"-n", "x", "-t", "rpi4", "--template", tmpl + ":/etc/app.conf", webTag}, 1, "--template: goes with --service", ""},
		{"template missing file", []string{"-n", "x", "-t", "rpi4", "--template", filepath.Join(dir, "none.tmpl") + ":/etc/a", "--service", "web=" + webTag}, 1, "none.tmpl", ""},
		{"bad platform", []string{"-n", "x", "-t", "rpi4", "--platform", "linux/arm64/v8/x", webTag}, 1, "--platform", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "a.mender")
			code, stdout, stderr := run(append([]string{"-o", out}, tc.args...)...)
			assert.Equal(t, tc.code, code, "stderr: %s", stderr)
			if tc.code != 0 {
				assert.Contains(t, stderr, tc.want)
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				entries, _ := os.ReadDir(filepath.Dir(out))
				assert.Empty(t, entries, "no output file, partial or not")
				return
			}
			assert.Contains(t, stdout, tc.want)
			f, err := os.Open(out)
			require.NoError(t, err)
			defer f.Close()
			info, err := artifact.Read(f, nil)
			require.NoError(t, err)
			assert.JSONEq(t, tc.meta, string(info.MetaData))
		})
	}
}

func TestReadCommand(t *testing.T) {
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	key := writePEM(t, dir, "ec.pem", "EC PRIVATE KEY", ecDER)
	pubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	pub := writePEM(t, dir, "ec.pub", "PUBLIC KEY", pubDER)
	out := filepath.Join(dir, "a.mender")
	code, _, stderr := run("-n", "web-1", "-t", "rpi4", "-k", key, "-o", out, reg.Addr+"/acme/web:1.0")
	require.Equal(t, 0, code, stderr)

	code, stdout, stderr := run("read", "-k", pub, out)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{"Name: web-1", "Signature: signed and verified correctly", "Compatible devices: [rpi4]", "rootfs-image.docker.version: web-1", `"containers": [`} {
		assert.Contains(t, stdout, want)
	}
	code, stdout, _ = run("inspect", out)
	require.Equal(t, 0, code)
	assert.Contains(t, stdout, "signed but no key")

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	code, _, stderr = run("read", "-k", writePEM(t, dir, "other.pub", "PUBLIC KEY", otherDER), out)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "signature does not verify")
}

func TestReproducible(t *testing.T) {
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	var outs [][]byte
	for _, name := range []string{"a.mender", "b.mender"} {
		code, _, stderr := run("-n", "web-1", "-t", "rpi4", "-o", filepath.Join(dir, name), reg.Addr+"/acme/web:1.0")
		require.Equal(t, 0, code, stderr)
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		outs = append(outs, b)
	}
	assert.Equal(t, outs[0], outs[1])
}

func TestHelpHasExamples(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"read", "--help"}} {
		code, stdout, _ := run(args...)
		assert.Equal(t, 0, code)
		assert.Contains(t, stdout, "Examples:")
	}
	code, stdout, _ := run("completion", "bash")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, "bash completion")
}

func TestZstdWarns(t *testing.T) {
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	code, _, stderr := run("-n", "w", "-t", "rpi4", "--compression", "zstd", "-o", filepath.Join(t.TempDir(), "a.mender"), reg.Addr+"/acme/web:1.0")
	assert.Equal(t, 0, code)
	assert.Contains(t, stderr, "warning: --compression zstd")
}

// --embed with services: every service's image is in the payload and in
// the meta-data's embedded map, and the module's parser maps it to its ID.
func TestEmbedServices(t *testing.T) {
	reg := fixture.NewRegistry(t)
	web := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	db := fixture.MustPush(t, reg, "acme/db", "2", fixture.Image{Version: "2"})
	out := filepath.Join(t.TempDir(), "a.mender")
	code, _, stderr := run("-n", "x", "-t", "rpi4", "-o", out, "--embed",
		"--service", "web="+reg.Addr+"/acme/web:1.0", "--service", "db="+reg.Addr+"/acme/db:2")
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	info, err := artifact.Read(f, nil)
	require.NoError(t, err)
	assert.Len(t, info.Files, 2)
	assert.Equal(t, artifact.Gzip, info.Compression, "layers uncompressed, the payload gzipped")
	m, err := spec.Parse(info.MetaData)
	require.NoError(t, err)
	require.Len(t, m.Embedded, 2)
	for _, ref := range []string{web, db} {
		e, ok := m.Embedded[ref]
		require.True(t, ok, ref)
		assert.NotEqual(t, ref, e.ID)
	}
	for _, s := range m.Services {
		assert.Equal(t, m.Embedded[s.Image].ID, s.Config.Image)
	}
}

// An artifact whose run arguments hold a placeholder the devices fill in
// (no default) is still a base for a delta: only its embedded images are
// read.
func TestDeltaFromArtifactWithPlaceholders(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := fixture.NewRegistry(t)
	base := fixture.Image{Version: "1", PadBytes: 256 << 10, PadSeed: 7}
	next := base
	next.Version = "2"
	fixture.MustPush(t, reg, "acme/web", "1", base)
	fixture.MustPush(t, reg, "acme/web", "2", next)
	dir := t.TempDir()
	full, delta := filepath.Join(dir, "full.mender"), filepath.Join(dir, "delta.mender")
	code, _, stderr := run("-n", "web-1", "-t", "rpi4", "--embed", "--run-args", "--network none -e SITE=${SITE}", "-o", full, reg.Addr+"/acme/web:1")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = run("-n", "web-2", "-t", "rpi4", "--embed", "--delta-from", full, "--run-args", "--network none -e SITE=${SITE}", "-o", delta, reg.Addr+"/acme/web:2")
	require.Equal(t, 0, code, stderr)
	fi, err := os.Stat(delta)
	require.NoError(t, err)
	fullInfo, err := os.Stat(full)
	require.NoError(t, err)
	assert.Less(t, fi.Size(), fullInfo.Size()/2, "the delta leaves the shared layer out")
}

// --template mounts a local file as a template in one service (SERVICE=)
// or every service, shipped in the files archive.
func TestTemplateFlag(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "app.conf.tmpl")
	require.NoError(t, os.WriteFile(tmpl, []byte("site={{ .site }}\n"), 0o644))
	out := filepath.Join(dir, "a.mender")
	img := reg.Addr + "/acme/web:1.0"
	code, _, stderr := run("-o", out, "-n", "x", "-t", "rpi4", "--service", "web="+img, "--service", "db="+img,
		"--template", tmpl+":/etc/all.conf", "--template", "web="+tmpl+":/etc/web.conf")
	require.Equal(t, 0, code, stderr)
	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	info, err := artifact.Read(f, nil)
	require.NoError(t, err)
	doc, err := spec.Decode(info.MetaData)
	require.NoError(t, err)
	require.NotNil(t, doc.Files)
	assert.Equal(t, "files.tar", doc.Files.Archive)
	for _, s := range doc.Services {
		want := map[string]string{"/etc/all.conf": "templates/app.conf.tmpl"}
		if s.Name == "web" {
			want["/etc/web.conf"] = "templates/app.conf.tmpl"
		}
		assert.Equal(t, want, s.Templates, s.Name)
	}
	_, err = spec.Parse(info.MetaData)
	require.NoError(t, err)
}
