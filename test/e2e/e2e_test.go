// Package e2e installs artifacts through the real Mender clients with the
// module under test, against the real Docker engine. Every test runs under
// both generations of client in the field: Debian's Go client mender 3.4
// and the C++ client mender-update 5.x that devices have shipped since 2023
// (../shared/mender-client-5/mender-update beside the repository, or
// $MENDER_UPDATE), both in standalone mode. mender 3.4 always runs modules
// from /usr/share/mender/modules/v3 and reads /etc/mender/artifact_info,
// so each of its calls runs inside a private mount namespace where
// temporary directories are bound over those two paths; mender-update finds
// its modules under $MENDER_DATA_DIR, which points at the sandbox. The
// machine's own files are never touched. Artifacts use the payload type
// docker-test, so that a docker module installed on the machine is left
// alone. They are written by Debian's mender-artifact in the shell
// docker-artifact-gen's meta-data format, and by our own generator, signed.
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
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/artifactgen/cli"
	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

const payloadType = "docker-test"

// client is one of the Mender clients every test runs under. Both take the
// same commands: install, commit, rollback, show-artifact, show-provides.
type client int

const (
	mender3       client = iota // Debian's Go client, mender 3.4
	menderUpdate5               // the C++ client, mender-update 5.1
)

var clients = []client{mender3, menderUpdate5}

func (c client) String() string {
	if c == mender3 {
		return "mender-3.4"
	}
	return "mender-update-5.1"
}

// rolledBack is what the client prints when it rolled a failed install back.
func (c client) rolledBack() string {
	if c == mender3 {
		return "Rolling back Artifact"
	}
	return "Rolled back."
}

// eachClient runs f once per client, as subtests named after the client.
func eachClient(t *testing.T, f func(t *testing.T, c client)) {
	for _, c := range clients {
		t.Run(c.String(), func(t *testing.T) { f(t, c) })
	}
}

// repoRoot is the repository's top directory.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// menderUpdate is the path of the mender-update binary.
func menderUpdate() string {
	if p := os.Getenv("MENDER_UPDATE"); p != "" {
		return p
	}
	return filepath.Join(repoRoot(), "..", "shared", "mender-client-5", "mender-update")
}

var (
	moduleOnce sync.Once
	moduleBin  string
	moduleErr  error
)

// TestMain removes the module binary built once for all sandboxes.
func TestMain(m *testing.M) {
	code := m.Run()
	if moduleBin != "" {
		os.RemoveAll(filepath.Dir(moduleBin))
	}
	os.Exit(code)
}

// buildModule builds cmd/docker once per run, static and stripped.
func buildModule() (string, error) {
	moduleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-module")
		if err != nil {
			moduleErr = err
			return
		}
		moduleBin = filepath.Join(dir, "docker")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", moduleBin, "./cmd/docker")
		build.Dir = repoRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			moduleErr = fmt.Errorf("building the module: %v: %s", err, out)
		}
	})
	return moduleBin, moduleErr
}

type sandbox struct {
	t      *testing.T
	client client
	dir    string
	app    string
	env    []string
}

func have(cmd string) bool { _, err := exec.LookPath(cmd); return err == nil }

// needClient skips the test when c cannot run here (fails under CI=true).
func needClient(t *testing.T, c client) {
	fixture.Need(t, have("mender-artifact"), "mender-artifact")
	switch c {
	case mender3:
		fixture.Need(t, os.Geteuid() == 0, "root (for the private mount namespace)")
		for _, cmd := range []string{"mender", "unshare"} {
			fixture.Need(t, have(cmd), cmd)
		}
		_, err := os.Stat("/usr/share/mender/modules/v3")
		fixture.Need(t, err == nil, "/usr/share/mender/modules/v3 (mender-client)")
	case menderUpdate5:
		fixture.Need(t, os.Geteuid() == 0, "root (the module drives the Docker engine)")
		out, err := exec.Command(menderUpdate(), "--version").CombinedOutput()
		fixture.Need(t, err == nil, fmt.Sprintf("a working mender-update 5 at %s (%v %s; set MENDER_UPDATE, and scripts/deps.sh installs its libraries)",
			menderUpdate(), err, strings.TrimSpace(string(out))))
	}
}

// newSandbox prepares a device run by client c; verifyKey, when set, is
// the public key the client demands signatures from (ArtifactVerifyKey).
// moduleConf, if any, changes keys of the module's device config.
func newSandbox(t *testing.T, c client, verifyKey string, moduleConf ...map[string]any) *sandbox {
	needClient(t, c)
	s := &sandbox{t: t, client: c, dir: t.TempDir(), app: "e2e-" + fixture.RandHex()}
	for _, d := range []string{"share/modules/v3", "etc", "data", "state"} {
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
	mc := map[string]any{"state_dir": s.path("state"), "default_app": s.app, "health_window": "1s", "min_free_mb": 0, "stop_timeout": "5s"}
	for _, m := range moduleConf {
		for k, v := range m {
			mc[k] = v
		}
	}
	modConf, _ := json.Marshal(mc)
	s.write("mender-docker.conf", string(modConf))
	s.env = append(os.Environ(), "MENDER_DOCKER_CONF="+s.path("mender-docker.conf"))

	bin, err := buildModule()
	require.NoError(t, err)
	data, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.modulePath(), data, 0o755))
	return s
}

func (s *sandbox) path(p string) string { return filepath.Join(s.dir, p) }

// modulePath is where the module lies for this sandbox's client.
func (s *sandbox) modulePath() string { return s.path("share/modules/v3/" + payloadType) }

func (s *sandbox) write(p, content string) {
	require.NoError(s.t, os.WriteFile(s.path(p), []byte(content), 0o644))
}

// command is the real client about to run with args on this device.
func (s *sandbox) command(args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	switch s.client {
	case mender3:
		script := `mount --bind "$1" /usr/share/mender/modules/v3 && mount --bind "$2" /etc/mender && shift 2 && exec mender -c "$CONF" -d "$DATA" --no-syslog ${MENDER_LOG_LEVEL:+-l $MENDER_LOG_LEVEL} "$@"`
		cmd = exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", s.path("share/modules/v3"), s.path("etc")}, args...)...)
		cmd.Env = append(s.env, "CONF="+s.path("mender.conf"), "DATA="+s.path("data"))
	default:
		flags := []string{"-c", s.path("mender.conf"), "-d", s.path("data")}
		if l := os.Getenv("MENDER_LOG_LEVEL"); l != "" {
			flags = append(flags, "-l", l)
		}
		cmd = exec.Command(menderUpdate(), append(flags, args...)...)
		cmd.Env = append(s.env, "MENDER_DATA_DIR="+s.path("share"), "MENDER_CONF_DIR="+s.path("etc"), "MENDER_DATASTORE_DIR="+s.path("data"))
	}
	return cmd
}

// mender runs the real client with args and returns all it printed.
func (s *sandbox) mender(args ...string) (string, error) {
	out, err := s.command(args...).CombinedOutput()
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

func TestMenderInstallCommitRollback(t *testing.T) { eachClient(t, testMenderInstallCommitRollback) }

func testMenderInstallCommitRollback(t *testing.T, cl client) {
	s := newSandbox(t, cl, "")
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
	bad := version("bad", "-exit-after", "200ms")

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

	// An image that exits fails the install; the client rolls back. Its
	// health window (the meta-data's, over the device's 1s) is far longer
	// than the image lives, so the crash lands inside it however slow the
	// machine, and the install ends at the crash, not at the window's end.
	crashing := strings.Replace(legacy(bad), "{", `{"health":{"window":"5m"},`, 1)
	out, err = s.mender("install", s.artifact("app-bad", crashing))
	require.Error(t, err, "mender install of a crashing image must fail:\n%s", out)
	assert.Contains(t, out, cl.rolledBack())
	assert.Equal(t, atV2, mine(), "failed install leaves v2 exactly")
	assert.Equal(t, "app-v2", s.showArtifact())

	provides, err := s.mender("show-provides")
	require.NoError(t, err)
	assert.Contains(t, provides, "rootfs-image."+payloadType+".version=app-v2")
}

// Artifacts from our own generator, signed, through the real client that
// demands signatures.
func TestGeneratorArtifactsInstall(t *testing.T) { eachClient(t, testGeneratorArtifactsInstall) }

func testGeneratorArtifactsInstall(t *testing.T, cl client) {
	keyDir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, _ := x509.MarshalECPrivateKey(ec)
	priv := filepath.Join(keyDir, "sign.pem")
	require.NoError(t, os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	pubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	pub := filepath.Join(keyDir, "sign.pub")
	require.NoError(t, os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644))

	s := newSandbox(t, cl, pub)
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
