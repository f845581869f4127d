package cli_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/artifact"
	"github.com/mender-docker/mender-docker/artifactgen/cli"
	"github.com/mender-docker/mender-docker/test/fixture"
)

// mainWithPipe runs the command line with stdout a real pipe, which
// cannot seek, and collects what went through it.
func mainWithPipe(t *testing.T, args []string, stdout, stderr *bytes.Buffer) int {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { io.Copy(stdout, r); close(done) }()
	code := cli.Main(args, w, stderr)
	w.Close()
	<-done
	r.Close()
	return code
}

// TestArgvOperator runs the command line with a table of argument lists,
// as regctl's tests do, for what an operator meets: a mistyped command, a
// flag under mender-artifact's name, a key of the wrong half, an output
// that cannot be written (refused before any registry is asked), output
// to stdout, and what a removal writes. OUT in args is the test's output
// path; stdout and stderr hold the wanted strings, and none of notStderr.
func TestArgvOperator(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	var requests atomic.Int64
	reg := fixture.NewRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			h.ServeHTTP(w, r)
		})
	})
	web := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	webTag := reg.Addr + "/acme/web:1.0"
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	ecKey := writePEM(t, dir, "ec.pem", "EC PRIVATE KEY", ecDER)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(ec)
	p8Key := writePEM(t, dir, "p8.pem", "PRIVATE KEY", pkcs8)
	signed := filepath.Join(dir, "signed.mender")
	code, _, stderr := run("-n", "web-1", "-t", "rpi4", "-k", ecKey, "-o", signed, webTag)
	require.Equal(t, 0, code, stderr)
	outDir := t.TempDir()
	platform := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(platform, "compose.yaml"), []byte("services:\n  web:\n    image: "+webTag+"\n    platform: linux/arm64\n"), 0o644))

	for _, tc := range []struct {
		name              string
		args              []string
		code              int
		stdout, stderr    string
		notStderr         string
		meta, payloadType string // of the artifact written at OUT
		asked             bool   // the registry was asked
	}{
		{name: "mistyped read", args: []string{"rea", signed}, code: 1,
			stderr: `unknown command "rea": did you mean read?`, notStderr: "required flag"},
		{name: "mistyped preload", args: []string{"prelod", "-o", dir}, code: 1,
			stderr: `unknown command "prelod": did you mean preload?`, notStderr: "required flag"},
		{name: "an image is no command", args: []string{"-n", "x", "-t", "rpi4", "-o", "OUT", webTag}, stdout: web, asked: true,
			meta: `{"containers":["` + web + `"],"run_args":""}`, payloadType: "docker"},
		{name: "--type as mender-artifact names -T", args: []string{"-n", "x", "-t", "rpi4", "--type", "docker-test", "-o", "OUT", webTag},
			stdout: web, asked: true, meta: `{"containers":["` + web + `"],"run_args":""}`, payloadType: "docker-test"},
		{name: "read -k with the private key", args: []string{"read", "-k", ecKey, signed}, code: 1,
			stderr: `is a private key; verifying takes the public key`, notStderr: "asn1"},
		{name: "read -k with a PKCS#8 private key", args: []string{"read", "-k", p8Key, signed}, code: 1,
			stderr: `is a private key; verifying takes the public key`, notStderr: "asn1"},
		{name: "-o a directory", args: []string{"-n", "x", "-t", "rpi4", "-o", outDir, webTag}, code: 1,
			stderr: "--output-path " + outDir + ": is a directory"},
		{name: "-o a directory, with --embed", args: []string{"-n", "x", "-t", "rpi4", "--embed", "-o", outDir, webTag}, code: 1,
			stderr: "--output-path " + outDir + ": is a directory"},
		{name: "preload -o a file", args: []string{"preload", "-o", signed, webTag}, code: 1,
			stderr: "--output-path " + signed + ": is a file; preload writes a directory"},
		{name: "preload -o -", args: []string{"preload", "-o", "-", webTag}, code: 1,
			stderr: "--output-path -: preload writes a directory"},
		{name: "--remove-app says what it wrote", args: []string{"-n", "gone", "-t", "rpi4", "--app", "shop", "--remove-app", "-o", "OUT"},
			stdout: "Artifact OUT written: removes app shop from the device (its containers, then its images)\n",
			meta:   `{"app":"shop","remove":true}`, payloadType: "docker"},
		{name: "--remove-volumes", args: []string{"-n", "gone", "-t", "rpi4", "--app", "shop", "--remove-app", "--remove-volumes", "-o", "OUT"},
			stdout: "Artifact OUT written: removes app shop from the device (its containers, its named volumes, then its images)\n",
			meta:   `{"app":"shop","remove":true,"remove_volumes":true}`, payloadType: "docker"},
		{name: "--remove-volumes alone", args: []string{"-n", "x", "-t", "rpi4", "--remove-volumes", webTag}, code: 1,
			stderr: "--remove-volumes goes with --remove-app"},
		// The library names fields; the command says them as flags.
		{name: "--remove-app with an image", args: []string{"-n", "x", "-t", "rpi4", "--app", "shop", "--remove-app", webTag}, code: 1,
			stderr: "docker-artifact-gen: --remove-app: give --app and no image, --service or --run-args\n"},
		{name: "images and --service", args: []string{"-n", "x", "-t", "rpi4", "--service", "a=" + webTag, webTag}, code: 1,
			stderr: "docker-artifact-gen: images and --service: give one or the other\n"},
		{name: "--run-args with --service", args: []string{"-n", "x", "-t", "rpi4", "--run-args", "--init", "--service", "a=" + webTag}, code: 1,
			stderr: "docker-artifact-gen: --run-args: with --service, give each service its own arguments\n"},
		{name: "--provides artifact_name", args: []string{"-n", "x", "-t", "rpi4", "--provides", "artifact_name:y", webTag}, code: 1, asked: true,
			stderr: "docker-artifact-gen: --provides artifact_name: set it with --artifact-name or --provides-group\n"},
		{name: "a file source without --embed", args: []string{"-n", "x", "-t", "rpi4", "docker-archive:" + filepath.Join(dir, "web.tar")}, code: 1,
			stderr: "docker-artifact-gen: image docker-archive:" + filepath.Join(dir, "web.tar") + ": a file source goes with --embed\n"},
		{name: "--delta-from without --embed", args: []string{"-n", "x", "-t", "rpi4", "--delta-from", signed, webTag}, code: 1,
			stderr: "docker-artifact-gen: --delta-from: goes with --embed\n"},
		{name: "--compose with an image", args: []string{"-n", "x", "-t", "rpi4", "--compose", dir, webTag}, code: 1,
			stderr: "docker-artifact-gen: --compose: give no image or --service with it\n"},
		{name: "a compose key refused for --platform", args: []string{"-n", "x", "-t", "rpi4", "--compose", platform}, code: 1,
			stderr:    "docker-artifact-gen: --compose " + platform + ": service web: platform: not supported: pin the platform's image with --platform\n",
			notStderr: "Resolver"},
		{name: "no image", args: []string{"-n", "x", "-t", "rpi4"}, code: 1,
			stderr: "docker-artifact-gen: no image: give at least one IMAGE or --service\n"},
		{name: "no image for preload", args: []string{"preload", "-o", outDir}, code: 1,
			stderr: "docker-artifact-gen: no image: give at least one IMAGE or --service\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "a.mender")
			args := append([]string(nil), tc.args...)
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "OUT", out)
			}
			requests.Store(0)
			code, stdout, stderr := run(args...)
			assert.Equal(t, tc.code, code, "stderr: %s", stderr)
			assert.Contains(t, stdout, strings.ReplaceAll(tc.stdout, "OUT", out))
			assert.Contains(t, stderr, tc.stderr)
			if tc.notStderr != "" {
				assert.NotContains(t, stderr, tc.notStderr)
			}
			assert.Equal(t, tc.asked, requests.Load() > 0, "the registry was asked (%d requests)", requests.Load())
			if tc.code != 0 {
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
				entries, _ := os.ReadDir(outDir)
				assert.Empty(t, entries, "nothing written in the directory given as output")
				return
			}
			f, err := os.Open(out)
			require.NoError(t, err)
			defer f.Close()
			info, err := artifact.Read(f, nil)
			require.NoError(t, err)
			assert.JSONEq(t, tc.meta, string(info.MetaData))
			assert.Equal(t, tc.payloadType, info.TypeInfo.Type)
		})
	}
}

// -o - writes the artifact to stdout, as scripts expect (a pipe: nothing
// is sought), and all it says to stderr; with -q stderr stays empty.
func TestOutputToStdout(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := fixture.NewRegistry(t)
	web := fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0", PadBytes: 64 << 10, PadSeed: 3})
	for _, quiet := range []bool{false, true} {
		args := []string{"-n", "web-1", "-t", "rpi4", "--embed", "-o", "-", reg.Addr + "/acme/web:1.0"}
		if quiet {
			args = append([]string{"-q"}, args...)
		}
		var stdout, stderr bytes.Buffer
		code := mainWithPipe(t, args, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		info, err := artifact.Read(bytes.NewReader(stdout.Bytes()), nil)
		require.NoError(t, err, "stdout is the artifact")
		assert.Equal(t, "web-1", info.Header.ArtifactProvides.ArtifactName)
		assert.Len(t, info.Files, 1)
		assert.Contains(t, string(info.MetaData), web)
		if quiet {
			assert.Empty(t, stderr.String())
			continue
		}
		assert.Contains(t, stderr.String(), "Artifact written to stdout:\n  "+web+"\n")
		assert.Regexp(t, `(?m)^wrote the artifact to stdout: \d+\.\d MB in `, stderr.String())
	}
}

// compose-go's warnings (it logs through logrus) reach the user as our
// own "warning: ..." lines, not logrus text.
func TestComposeWarningsArePlainLines(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`version: "3.8"
services:
  web:
    image: `+reg.Addr+`/acme/web:1.0
    network_mode: none
`), 0o644))
	code, _, stderr := run("-n", "shop-1", "-t", "rpi4", "--app", "shop", "--compose", dir, "-o", filepath.Join(t.TempDir(), "a.mender"))
	require.Equal(t, 0, code, stderr)
	t.Log(stderr)
	assert.Regexp(t, regexp.MustCompile("(?m)^warning: .*compose.yaml: the attribute `version` is obsolete"), stderr)
	assert.NotContains(t, stderr, "level=")
	assert.NotContains(t, stderr, "msg=")
}

// --delta-from says how many layers it left out and what that saved, and
// warns when it left out none (the base shares no layer: most likely the
// wrong base), even with -q.
func TestDeltaSaysWhatItLeftOut(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := fixture.NewRegistry(t)
	base := fixture.Image{Version: "1", PadBytes: 512 << 10, PadSeed: 11}
	next := base
	next.Version = "2"
	fixture.MustPush(t, reg, "acme/web", "1", base)
	v2 := fixture.MustPush(t, reg, "acme/web", "2", next)
	other := fixture.MustPush(t, reg, "acme/other", "1", fixture.Image{Version: "o", PadBytes: 512 << 10, PadSeed: 12})
	dir := t.TempDir()
	full := filepath.Join(dir, "full.mender")
	code, _, stderr := run("-n", "web-1", "-t", "rpi4", "--embed", "-o", full, reg.Addr+"/acme/web:1")
	require.Equal(t, 0, code, stderr)

	code, _, stderr = run("-n", "web-2", "-t", "rpi4", "--embed", "--delta-from", full, "-o", filepath.Join(dir, "d.mender"), reg.Addr+"/acme/web:2")
	require.Equal(t, 0, code, stderr)
	saved := regexp.MustCompile(`(?m)^delta ` + regexp.QuoteMeta(v2) + `: left out 2 of 2 layers \((\d+\.\d) MB\) that the device has from the delta base$`).FindStringSubmatch(stderr)
	require.NotNil(t, saved, stderr)
	mb, err := strconv.ParseFloat(saved[1], 64)
	require.NoError(t, err)
	assert.Greater(t, mb, 0.5, "the padding (incompressible) and the program")
	assert.NotContains(t, stderr, "warning")

	for _, quiet := range []bool{false, true} {
		args := []string{"-n", "o-1", "-t", "rpi4", "--embed", "--delta-from", full, "-o", filepath.Join(dir, "o.mender"), reg.Addr + "/acme/other:1"}
		if quiet {
			args = append([]string{"-q"}, args...)
		}
		code, _, stderr = run(args...)
		require.Equal(t, 0, code, stderr)
		assert.Regexp(t, `(?m)^warning: --delta-from: `+regexp.QuoteMeta(other)+` shares no layer with the delta bases: all 2 layers are embedded$`, stderr)
	}
}

// A large payload that takes a while to compress shows progress while it
// is compressed and written, not only while it is fetched: periodic plain
// lines when stderr is not a terminal (the interval made tiny, so that a
// compression of several MB surely spans ticks), then each step's line.
func TestProgressCoversCompressAndWrite(t *testing.T) {
	dir := t.TempDir()
	data, _, err := fixture.Archive(fixture.Image{Version: "big", PadBytes: 6 << 20, PadSeed: 5}, []string{"127.0.0.1:1/acme/big:1"}, nil)
	require.NoError(t, err)
	archive := filepath.Join(dir, "big.tar")
	require.NoError(t, os.WriteFile(archive, data, 0o644))
	out := filepath.Join(dir, "big.mender")
	code, _, stderr := run("-n", "big-1", "-t", "rpi4", "--embed", "-o", out, "--progress-interval", "1ms", "docker-archive:"+archive)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^compressing the payload \(gzip\): \d+\.\d of \d+\.\d MB after \d+s \(\d+\.\d MB/s\)$`, stderr)
	assert.Regexp(t, `(?m)^compressed the payload \(gzip\): \d+\.\d MB in \S+ \(\d+\.\d MB/s\)$`, stderr)
	assert.Regexp(t, `(?m)^wrote `+regexp.QuoteMeta(out)+`: \d+\.\d MB in \S+ \(\d+\.\d MB/s\)$`, stderr)
	assert.NotContains(t, stderr, "\r")
	i, j := strings.Index(stderr, "embedded "), strings.Index(stderr, "compressed the payload")
	assert.True(t, i >= 0 && j > i, "the payload is compressed after the image is embedded")

	// A preload directory: its images are copied in, and that is told too.
	pre := filepath.Join(dir, "preload")
	code, _, stderr = run("preload", "-o", pre, "--progress-interval", "1ms", "docker-archive:"+archive)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `(?m)^wrote `+regexp.QuoteMeta(pre)+`: \d+\.\d MB in \S+ \(\d+\.\d MB/s\)$`, stderr)
}
