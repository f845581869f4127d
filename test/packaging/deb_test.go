package packaging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/module"
	"github.com/mender-docker/mender-docker/module/engine/enginetest"
	"github.com/mender-docker/mender-docker/test/fixture"
)

const (
	modulePath  = "/usr/share/mender/modules/v3/docker"
	divertedTo  = "/usr/share/mender-docker/shell-module/docker"
	unitDir     = "/lib/systemd/system"
	wantsDir    = "/etc/systemd/system/multi-user.target.wants"
	packageName = "mender-docker"
	genPackage  = "mender-docker-artifact-gen"
)

var units = []string{"mender-docker-recover.service", "mender-docker-preload.service"}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", name, args, out)
	return string(out)
}

func installed(pkg string) bool {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", pkg).Output()
	return err == nil && strings.Contains(string(out), "ok installed")
}

// menderUpdate is the C++ client, found as test/e2e finds it.
func menderUpdate() string {
	if p := os.Getenv("MENDER_UPDATE"); p != "" {
		return p
	}
	abs, _ := filepath.Abs(filepath.Join(repoRoot, "..", "shared", "mender-client-5", "mender-update"))
	return abs
}

// The amd64 packages on this machine: dpkg -i takes the module's path over
// from mender-client's shell module (a diversion), enables the units,
// installs the generator; a real deployment and rollback run through both
// Mender clients with what was installed; dpkg --purge gives the shell
// module back byte for byte. This changes the machine's
// /usr/share/mender/modules/v3/docker while it runs (the end-to-end tests
// use their own module paths); a cleanup always purges and restores it.
func TestDebInstallPurge(t *testing.T) {
	fixture.Need(t, os.Geteuid() == 0, "root (dpkg -i)")
	for _, cmd := range []string{"dpkg", "dpkg-divert", "dpkg-query", "mender", "unshare"} {
		_, err := exec.LookPath(cmd)
		fixture.Need(t, err == nil, cmd)
	}
	owner, err := exec.Command("dpkg", "-S", modulePath).Output()
	fixture.Need(t, err == nil && strings.HasPrefix(string(owner), "mender-client:"), "mender-client's shell module at "+modulePath)
	require.False(t, installed(packageName), "%s is installed on this machine: this test would remove it", packageName)
	require.False(t, installed(genPackage), "%s is installed on this machine: this test would remove it", genPackage)
	shell, err := os.ReadFile(modulePath)
	require.NoError(t, err)
	shellInfo, err := os.Stat(modulePath)
	require.NoError(t, err)

	dist := t.TempDir()
	runMake(t, "deb", "DIST="+dist, "DEB_ARCHES=amd64")
	debs, err := filepath.Glob(filepath.Join(dist, "deb", "*_amd64.deb"))
	require.NoError(t, err)
	require.Len(t, debs, 2, "one device and one generator package")

	t.Cleanup(func() {
		out, err := exec.Command("dpkg", "--purge", packageName, genPackage).CombinedOutput()
		assert.NoError(t, err, "dpkg --purge: %s", out)
		if b, err := os.ReadFile(modulePath); err != nil || !bytes.Equal(b, shell) {
			// Never leave the machine without its shell module.
			exec.Command("dpkg-divert", "--package", packageName, "--remove", "--rename", "--divert", divertedTo, modulePath).Run()
			if b, err := os.ReadFile(modulePath); err != nil || !bytes.Equal(b, shell) {
				os.WriteFile(modulePath, shell, shellInfo.Mode().Perm())
			}
			t.Errorf("the shell module was not restored by dpkg --purge")
		}
		os.Remove(filepath.Dir(divertedTo)) // only if empty
		os.Remove(filepath.Dir(filepath.Dir(divertedTo)))
	})
	run(t, "dpkg", append([]string{"-i"}, debs...)...)
	// Again, as an upgrade does: the diversion and the kept shell module
	// stay as they are.
	run(t, "dpkg", append([]string{"-i"}, debs...)...)

	// The path is ours, the shell module kept aside.
	assert.Equal(t, packageName, strings.TrimSpace(run(t, "dpkg-divert", "--listpackage", modulePath)))
	assert.Equal(t, divertedTo, strings.TrimSpace(run(t, "dpkg-divert", "--truename", modulePath)))
	aside, err := os.ReadFile(divertedTo)
	require.NoError(t, err)
	assert.Equal(t, shell, aside, "the shell module is kept whole")
	assert.Equal(t, "Yes\n", run(t, modulePath, "SupportsRollback", t.TempDir()))
	assert.Contains(t, run(t, "dpkg", "-S", modulePath), packageName)

	for _, u := range units {
		_, err := os.Stat(filepath.Join(unitDir, u))
		assert.NoError(t, err, u)
		link, err := os.Readlink(filepath.Join(wantsDir, u))
		assert.NoError(t, err, "%s is enabled", u)
		assert.Equal(t, filepath.Join(unitDir, u), link)
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		out, err := exec.Command("systemd-analyze", "verify", filepath.Join(unitDir, units[0]), filepath.Join(unitDir, units[1])).CombinedOutput()
		assert.NoError(t, err, "systemd-analyze verify: %s", out)
		assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify")
	} else {
		fixture.Need(t, !fixture.InCI(), "systemd-analyze")
	}
	assert.Contains(t, run(t, "dpkg-query", "-W", "-f=${Conffiles}", packageName), "/etc/mender/mender-docker.conf.example")
	for _, f := range []string{"/usr/share/man/man8/mender-docker.8.gz", "/usr/share/man/man1/docker-artifact-gen.1.gz",
		"/usr/share/bash-completion/completions/docker-artifact-gen", "/usr/share/mender/inventory/mender-inventory-docker"} {
		_, err := os.Stat(f)
		assert.NoError(t, err, f)
	}
	assert.Contains(t, run(t, "/usr/bin/docker-artifact-gen", "--help"), "Mender Artifact")
	// The operator's command is the module.
	assert.Contains(t, run(t, "/usr/bin/mender-docker", "--help"), "\n  status ")
	assert.Equal(t, "Yes\n", run(t, "/usr/bin/mender-docker", "SupportsRollback", t.TempDir()))

	for _, client := range []string{"mender-3.4", "mender-update-5.1"} {
		t.Run(client, func(t *testing.T) { deployWithPackages(t, client) })
	}

	run(t, "dpkg", "--purge", packageName, genPackage)
	got, err := os.ReadFile(modulePath)
	require.NoError(t, err)
	assert.Equal(t, shell, got, "purge gives the shell module back byte for byte")
	assert.Contains(t, run(t, "dpkg", "-S", modulePath), "mender-client")
	out, _ := exec.Command("dpkg-divert", "--listpackage", modulePath).Output()
	assert.Empty(t, strings.TrimSpace(string(out)), "no diversion is left")
	for _, gone := range []string{divertedTo, "/usr/share/mender-docker", "/usr/bin/docker-artifact-gen", "/usr/bin/mender-docker",
		"/etc/mender/mender-docker.conf.example", filepath.Join(unitDir, units[0]), filepath.Join(wantsDir, units[0]), filepath.Join(wantsDir, units[1])} {
		_, err := os.Lstat(gone)
		assert.ErrorIs(t, err, os.ErrNotExist, "%s is left after purge", gone)
	}
}

// deployWithPackages installs v1 of an app with the installed generator
// and module through a real Mender client, commits it, installs v2 and
// rolls it back. The client's and the module's state are in temporary
// directories; the module is the one dpkg installed, under its real path.
func deployWithPackages(t *testing.T, client string) {
	dir := t.TempDir()
	app := "pkg-" + fixture.RandHex()
	e := fixture.Docker(t)
	reg := fixture.NewRegistry(t)
	ctx := context.Background()
	var pushed []string
	t.Cleanup(func() {
		enginetest.RemoveLabelled(t, e, module.LabelApp, app)
		for _, ref := range pushed {
			e.RemoveImage(ctx, ref)
		}
	})
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	write("device_type", "device_type=pkg-device\n")
	write("etc/artifact_info", "artifact_name=factory\n")
	conf, _ := json.Marshal(map[string]any{"DeviceTypeFile": filepath.Join(dir, "device_type"), "ModuleTimeoutSeconds": 600, "ServerURL": "https://127.0.0.1:1"})
	write("mender.conf", string(conf))
	modConf, _ := json.Marshal(map[string]any{"state_dir": filepath.Join(dir, "state"), "health_window": "1s", "min_free_mb": 0, "stop_timeout": "5s"})
	env := append(os.Environ(), "MENDER_DOCKER_CONF="+write("mender-docker.conf", string(modConf)))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))

	mender := func(args ...string) (string, error) {
		var cmd *exec.Cmd
		if client == "mender-3.4" {
			// mender 3.4 reads /etc/mender/artifact_info whatever its
			// config says: a private mount namespace gives it the
			// test's. Modules come from the real, packaged path.
			script := `mount --bind "$1" /etc/mender && shift && exec mender -c "$CONF" -d "$DATA" --no-syslog "$@"`
			cmd = exec.Command("unshare", append([]string{"-m", "--propagation", "private", "sh", "-c", script, "sh", filepath.Join(dir, "etc")}, args...)...)
			cmd.Env = append(env, "CONF="+filepath.Join(dir, "mender.conf"), "DATA="+filepath.Join(dir, "data"))
		} else {
			out, err := exec.Command(menderUpdate(), "--version").CombinedOutput()
			fixture.Need(t, err == nil, fmt.Sprintf("a working mender-update 5 at %s (%v %s)", menderUpdate(), err, out))
			cmd = exec.Command(menderUpdate(), append([]string{"-c", filepath.Join(dir, "mender.conf"), "-d", filepath.Join(dir, "data")}, args...)...)
			// No MENDER_DATA_DIR: modules from /usr/share/mender, where
			// the package put this one.
			cmd.Env = append(env, "MENDER_CONF_DIR="+filepath.Join(dir, "etc"), "MENDER_DATASTORE_DIR="+filepath.Join(dir, "data"))
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	generate := func(name, tag string) string {
		out := filepath.Join(dir, name+".mender")
		run(t, "/usr/bin/docker-artifact-gen", "-n", name, "-t", "pkg-device", "--app", app, "--run-args", "--network none --restart always", "-o", out, reg.Addr+"/pkg/web:"+tag)
		return out
	}
	images := func() []string {
		l, err := e.ListContainers(ctx, map[string]string{module.LabelApp: app})
		require.NoError(t, err)
		var out []string
		for _, c := range l {
			full, err := e.InspectContainer(ctx, c.ID)
			require.NoError(t, err)
			out = append(out, fmt.Sprintf("%s running=%v", c.Image, full.State.Running))
		}
		return out
	}
	v1 := fixture.MustPush(t, reg, "pkg/web", "v1", fixture.Image{Version: "v1"})
	v2 := fixture.MustPush(t, reg, "pkg/web", "v2", fixture.Image{Version: "v2"})
	pushed = append(pushed, v1, v2)

	out, err := mender("install", generate("web-1", "v1"))
	require.NoError(t, err, out)
	out, err = mender("commit")
	require.NoError(t, err, out)
	assert.Equal(t, []string{v1 + " running=true"}, images())

	out, err = mender("install", generate("web-2", "v2"))
	require.NoError(t, err, out)
	assert.Contains(t, images(), v2+" running=true")
	out, err = mender("rollback")
	require.NoError(t, err, out)
	assert.Equal(t, []string{v1 + " running=true"}, images(), "rollback brings v1 back")
	_, err = os.Stat(filepath.Join(dir, "state", app, "installed.json"))
	assert.NoError(t, err, "the module's state is where its config says")
}

// Every package of `make deb` is well formed for dpkg and clean for
// Debian's lintian: no error and no warning (the few overrides, each with
// its reason, are in packaging/files/lintian-overrides-*).
func TestDebLintian(t *testing.T) {
	for _, cmd := range []string{"dpkg-deb", "lintian"} {
		_, err := exec.LookPath(cmd)
		fixture.Need(t, err == nil, cmd+" (scripts/deps.sh installs it)")
	}
	dist := t.TempDir()
	runMake(t, "deb", "DIST="+dist)
	debs, err := filepath.Glob(filepath.Join(dist, "deb", "*.deb"))
	require.NoError(t, err)
	var names []string
	for _, d := range debs {
		names = append(names, filepath.Base(d))
		info := run(t, "dpkg-deb", "--info", d)
		contents := run(t, "dpkg-deb", "--contents", d)
		if strings.HasPrefix(filepath.Base(d), packageName+"_") {
			assert.Contains(t, contents, "./usr/share/mender/modules/v3/docker")
			assert.Contains(t, contents, "./usr/bin/mender-docker -> ../share/mender/modules/v3/docker")
			assert.Contains(t, contents, "./lib/systemd/system/mender-docker-recover.service")
			assert.Regexp(t, `(?m)^-rwxr-xr-x .* \./usr/lib/mender-configure/apply-device-config\.d/mender-docker$`, contents)
			assert.Contains(t, contents, "./usr/share/man/man8/mender-docker.8.gz")
			for _, s := range []string{"preinst", "postinst", "postrm", "conffiles"} {
				assert.Contains(t, info, " "+s, d)
			}
		} else {
			assert.Contains(t, contents, "./usr/bin/docker-artifact-gen")
			assert.Contains(t, contents, "./usr/share/zsh/vendor-completions/_docker-artifact-gen")
			assert.Contains(t, contents, "./usr/share/fish/vendor_completions.d/docker-artifact-gen.fish")
		}
	}
	for _, want := range []string{"mender-docker_*_amd64.deb", "mender-docker_*_arm64.deb", "mender-docker_*_armhf.deb",
		"mender-docker-artifact-gen_*_amd64.deb", "mender-docker-artifact-gen_*_arm64.deb", "mender-docker-artifact-gen_*_armhf.deb"} {
		m, _ := filepath.Glob(filepath.Join(dist, "deb", want))
		assert.Len(t, m, 1, "%s among %v", want, names)
	}
	cmd := exec.Command("lintian", append([]string{"--fail-on", "error,warning", "--tag-display-limit", "0"}, debs...)...)
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "lintian:\n%s", out)
	for _, l := range strings.Split(string(out), "\n") {
		assert.False(t, strings.HasPrefix(l, "E:") || strings.HasPrefix(l, "W:"), "lintian: %s", l)
	}
}

// The device package carries Mender Configure's apply script for the
// module: an executable shell script in the directory Mender Configure
// runs after each configuration change, calling reconfigure.
func TestDebApplyDeviceConfig(t *testing.T) {
	for _, cmd := range []string{"make", "dpkg-deb"} {
		_, err := exec.LookPath(cmd)
		fixture.Need(t, err == nil, cmd)
	}
	dist := t.TempDir()
	runMake(t, "deb", "DIST="+dist, "DEB_ARCHES=amd64", "MODULE_PLATFORMS=linux/amd64", "GEN_PLATFORMS=linux/amd64")
	debs, err := filepath.Glob(filepath.Join(dist, "deb", packageName+"_*_amd64.deb"))
	require.NoError(t, err)
	require.Len(t, debs, 1)
	root := t.TempDir()
	out, err := exec.Command("dpkg-deb", "-x", debs[0], root).CombinedOutput()
	require.NoError(t, err, "%s", out)
	script := filepath.Join(root, "usr/lib/mender-configure/apply-device-config.d/mender-docker")
	fi, err := os.Stat(script)
	require.NoError(t, err, "the package installs the apply script")
	assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	b, err := os.ReadFile(script)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "#!/bin/sh\n"), "a POSIX shell script")
	assert.Regexp(t, `(?m)^exec /usr/bin/mender-docker reconfigure$`, string(b))
	out, err = exec.Command("sh", "-n", script).CombinedOutput()
	assert.NoError(t, err, "sh -n: %s", out)
}
