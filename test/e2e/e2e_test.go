// Package e2e installs artifacts through the real Mender client (Debian's
// mender 3.4, standalone mode) with the module under test, against the real
// Docker engine. Mender always runs modules from
// /usr/share/mender/modules/v3 and reads /etc/mender/artifact_info, so each
// call runs inside a private mount namespace where temporary directories
// are bound over those two paths: the machine's own files are never
// touched. Artifacts use the payload type docker-test, so that a docker
// module installed on the machine is left alone. They are written by
// Debian's mender-artifact in the shell docker-artifact-gen's meta-data
// format, and by our own generator, signed.
package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/cli"
	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

const payloadType = "docker-test"

type sandbox struct {
	t   *testing.T
	dir string
	app string
	env []string
}

func have(cmd string) bool { _, err := exec.LookPath(cmd); return err == nil }

// newSandbox prepares a device; verifyKey, when set, is the public key
// the client demands signatures from (ArtifactVerifyKey).
func newSandbox(t *testing.T, verifyKey string) *sandbox {
	fixture.Need(t, os.Geteuid() == 0, "root (for the private mount namespace)")
	for _, c := range []string{"mender", "mender-artifact", "unshare"} {
		fixture.Need(t, have(c), c)
	}
	_, err := os.Stat("/usr/share/mender/modules/v3")
	fixture.Need(t, err == nil, "/usr/share/mender/modules/v3 (mender-client)")
	s := &sandbox{t: t, dir: t.TempDir(), app: "e2e-" + fixture.RandHex()}
	for _, d := range []string{"modules", "etc", "data", "state"} {
		require.NoError(t, os.MkdirAll(filepath.Join(s.dir, d), 0o755))
	}
	s.write("device_type", "device_type=test-device\n")
	s.write("etc/artifact_info", "artifact_name=factory\n")
	conf := map[string]any{"DeviceTypeFile": s.path("device_type"), "ModuleTimeoutSeconds": 600, "ServerURL": "https://127.0.0.1:1"}
	if verifyKey != "" {
		conf["ArtifactVerifyKey"] = verifyKey
	}
	menderConf, _ := json.Marshal(conf)
	s.write("mender.conf", string(menderConf))
	modConf, _ := json.Marshal(map[string]any{"state_dir": s.path("state"), "default_app": s.app, "health_window": "1s", "min_free_mb": 0, "stop_timeout": "5s"})
	s.write("mender-docker.conf", string(modConf))
	s.env = append(os.Environ(), "MENDER_DOCKER_CONF="+s.path("mender-docker.conf"))

	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", s.path("modules/"+payloadType), "./cmd/docker")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return s
}

func (s *sandbox) path(p string) string { return filepath.Join(s.dir, p) }

func (s *sandbox) write(p, content string) {
	require.NoError(s.t, os.WriteFile(s.path(p), []byte(content), 0o644))
}

// mender runs the real client with args inside the private namespace.
func (s *sandbox) mender(args ...string) (string, error) {
	script := `mount --bind "$1" /usr/share/mender/modules/v3 && mount --bind "$2" /etc/mender && shift 2 && exec mender -c "$CONF" -d "$DATA" --no-syslog ${MENDER_LOG_LEVEL:+-l $MENDER_LOG_LEVEL} "$@"`
	cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", s.path("modules"), s.path("etc")}, args...)...)
	cmd.Env = append(s.env, "CONF="+s.path("mender.conf"), "DATA="+s.path("data"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// generate writes an artifact for this device with docker-artifact-gen.
func (s *sandbox) generate(name string, args ...string) string {
	out := s.path(name + ".mender")
	var stdout, stderr strings.Builder
	code := cli.Main(append([]string{"-n", name, "-t", "test-device", "-T", payloadType, "-o", out}, args...), &stdout, &stderr)
	require.Equal(s.t, 0, code, stderr.String())
	return out
}

// artifact writes a module-image artifact with Debian's mender-artifact.
func (s *sandbox) artifact(name, meta string) string {
	metaFile := s.path(name + ".json")
	s.write(name+".json", meta)
	out := s.path(name + ".mender")
	cmd := exec.Command("mender-artifact", "write", "module-image", "-T", payloadType, "-n", name, "-t", "test-device", "-m", metaFile, "-o", out)
	b, err := cmd.CombinedOutput()
	require.NoError(s.t, err, "%s", b)
	return out
}

func (s *sandbox) showArtifact() string {
	out, err := s.mender("show-artifact")
	require.NoError(s.t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

func TestMenderInstallCommitRollback(t *testing.T) {
	s := newSandbox(t, "")
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	version := func(v string, args ...string) string {
		ref := fixture.MustPush(t, reg, "e2e/web", v, fixture.Image{Version: v, Args: args})
		pushed = append(pushed, ref)
		return ref
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	// The shell docker-artifact-gen's format: containers and run_args.
	legacy := func(ref string) string {
		return fmt.Sprintf(`{"containers":[%q],"run_args":"--network none --restart always"}`, ref)
	}
	mine := func() []fixture.Snap {
		d := &fixture.Device{T: t, Eng: e}
		return d.Snapshot(map[string]string{module.LabelApp: s.app})
	}
	v1, v2, v3 := version("v1"), version("v2"), version("v3")
	bad := version("bad", "-exit-after", "1s")

	out, err := s.mender("install", s.artifact("app-v1", legacy(v1)))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	assert.Equal(t, "app-v1", s.showArtifact())
	c := mine()
	require.Len(t, c, 1)
	assert.Equal(t, fixture.Snap{ID: c[0].ID, Name: s.app + "-web", Image: v1, RestartPolicy: "always", Running: true}, c[0])

	out, err = s.mender("install", s.artifact("app-v2", legacy(v2)))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	assert.Equal(t, "app-v2", s.showArtifact())
	atV2 := mine()
	require.Len(t, atV2, 1)
	assert.Equal(t, v2, atV2[0].Image)
	assert.True(t, atV2[0].Running)

	// Installed but rolled back by the operator.
	out, err = s.mender("install", s.artifact("app-v3", legacy(v3)))
	require.NoError(t, err, out)
	c = mine()
	require.Len(t, c, 2)
	assert.Equal(t, v3, c[0].Image)
	out, err = s.mender("rollback")
	require.NoError(t, err, out)
	assert.Equal(t, atV2, mine(), "rollback restores v2 exactly")
	assert.Equal(t, "app-v2", s.showArtifact())

	// An image that exits fails the install; the client rolls back.
	out, err = s.mender("install", s.artifact("app-bad", legacy(bad)))
	require.Error(t, err, "mender install of a crashing image must fail:\n%s", out)
	assert.Contains(t, out, "Rolling back Artifact")
	assert.Equal(t, atV2, mine(), "failed install leaves v2 exactly")
	assert.Equal(t, "app-v2", s.showArtifact())

	provides, err := s.mender("show-provides")
	require.NoError(t, err)
	assert.Contains(t, provides, "rootfs-image."+payloadType+".version=app-v2")
}

// Artifacts from our own generator, signed, through the real client that
// demands signatures.
func TestGeneratorArtifactsInstall(t *testing.T) {
	keyDir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, _ := x509.MarshalECPrivateKey(ec)
	priv := filepath.Join(keyDir, "sign.pem")
	require.NoError(t, os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	pubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	pub := filepath.Join(keyDir, "sign.pub")
	require.NoError(t, os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644))

	s := newSandbox(t, pub)
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	for _, v := range []string{"v1", "v2"} {
		pushed = append(pushed, fixture.MustPush(t, reg, "e2e/gen", v, fixture.Image{Version: v}))
	}
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, s.app)
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	gen := func(name, tag string, sign bool) string {
		args := []string{"--app", s.app, "--health-window", "1s",
			"--service", "web=" + reg.Addr + "/e2e/gen:" + tag + ",--network none --restart always"}
		if sign {
			args = append(args, "-k", priv)
		}
		return s.generate(name, args...)
	}
	mine := func() []fixture.Snap {
		return (&fixture.Device{T: t, Eng: e}).Snapshot(map[string]string{module.LabelApp: s.app})
	}

	out, err := s.mender("install", gen("gen-v1", "v1", true))
	require.NoError(t, err, out)
	out, err = s.mender("commit")
	require.NoError(t, err, out)
	atV1 := mine()
	require.Len(t, atV1, 1)
	assert.Equal(t, pushed[0], atV1[0].Image)
	assert.Equal(t, s.app+"-web", atV1[0].Name)

	out, err = s.mender("install", gen("gen-v2-unsigned", "v2", false))
	require.Error(t, err, "the client must refuse an unsigned artifact: %s", out)
	assert.Equal(t, atV1, mine())

	out, err = s.mender("install", gen("gen-v2", "v2", true))
	require.NoError(t, err, out)
	assert.Equal(t, pushed[1], mine()[0].Image)
	out, err = s.mender("rollback")
	require.NoError(t, err, out)
	assert.Equal(t, atV1, mine())
	assert.Equal(t, "gen-v1", s.showArtifact())
}
