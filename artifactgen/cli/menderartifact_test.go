package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mender-docker/mender-docker/test/fixture"
)

// menderArtifact runs the real mender-artifact and returns its output.
func menderArtifact(t *testing.T, args ...string) (string, error) {
	t.Helper()
	_, err := exec.LookPath("mender-artifact")
	fixture.Need(t, err == nil, "mender-artifact")
	out, err := exec.Command("mender-artifact", args...).CombinedOutput()
	return string(out), err
}

// The flags taken from mender-artifact write module-image, judged by the
// real mender-artifact: read lists what they set, validate accepts it.
func TestMenderArtifactFlags(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	webTag := reg.Addr + "/acme/web:1.0"
	dir := t.TempDir()
	script := filepath.Join(dir, "ArtifactInstall_Enter_05_hello")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o755))
	commit := filepath.Join(dir, "ArtifactCommit_Leave_10")
	require.NoError(t, os.WriteFile(commit, []byte("#!/bin/sh\ntrue\n"), 0o755))
	// Nested objects in the meta-data are fine for Mender; objects in
	// lists are not (the attribute check refuses them).
	attrs := filepath.Join(dir, "attributes.yml")
	require.NoError(t, os.WriteFile(attrs, []byte("site: lab\ndb: {host: db, port: 5432, tls: {on: true}}\ntags: [a, 1, true]\n"), 0o644))

	for _, tc := range []struct {
		name string
		args []string
		want []string // in mender-artifact read's output
		not  []string
	}{
		{"short flags", []string{"-N", "web-0", "-N", "web-00", "-p", "acme.flavour:blue", "-d", "acme.board:rev2", "-g", "prod", "-G", "staging", "-G", "lab",
			"-s", script, "-s", commit},
			[]string{"Depends on one of artifact(s): [web-0, web-00]", "Provides group: prod", "Depends on one of group(s): [staging, lab]",
				"State scripts:", "ArtifactInstall_Enter_05_hello", "ArtifactCommit_Leave_10", "acme.flavour: blue", "acme.board: rev2",
				"rootfs-image.docker.version: web-1", `Clears Provides: ["rootfs-image.docker.*"]`}, nil},
		{"long flags", []string{"--artifact-name-depends", "web-0", "--provides", "a.b:c", "--depends", "d.e:f", "--provides-group", "prod", "--depends-groups", "lab", "--script", script},
			[]string{"Depends on one of artifact(s): [web-0]", "a.b: c", "d.e: f", "ArtifactInstall_Enter_05_hello"}, nil},
		{"attributes", []string{"--attributes", attrs, "--secret-attribute", "db.password"}, []string{"rootfs-image.docker.version: web-1"}, nil},
		{"lzma", []string{"--compression", "lzma"}, []string{"rootfs-image.docker.version: web-1"}, nil},
		{"no default clears", []string{"--no-default-clears-provides"}, []string{"rootfs-image.docker.version: web-1"}, []string{"Clears Provides"}},
		{"no default software version", []string{"--no-default-software-version", "--clears-provides", "x.*"}, []string{`Clears Provides: ["x.*"]`},
			[]string{"rootfs-image.docker.version", "rootfs-image.docker.*"}},
		{"after --", []string{"--", "-N", "web-0", "-p", "a.b:c", "-v", "3", "--no-default-clears-provides", "-s", script},
			[]string{"Depends on one of artifact(s): [web-0]", "a.b: c", "ArtifactInstall_Enter_05_hello"}, []string{"Clears Provides"}},
		{"before and after --", []string{"-p", "a.b:c", "--", "-p", "x.y:z"}, []string{"a.b: c", "x.y: z"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "a.mender")
			args := append([]string{"-n", "web-1", "-t", "rpi4", "-o", out, webTag}, tc.args...)
			code, _, stderr := run(args...)
			require.Equal(t, 0, code, stderr)
			read, err := menderArtifact(t, "read", out)
			require.NoError(t, err, read)
			for _, w := range tc.want {
				assert.Contains(t, read, w)
			}
			for _, w := range tc.not {
				assert.NotContains(t, read, w)
			}
			v, err := menderArtifact(t, "validate", out)
			assert.NoError(t, err, v)
		})
	}
}

func TestMenderArtifactFlagErrors(t *testing.T) {
	reg := fixture.NewRegistry(t)
	fixture.MustPush(t, reg, "acme/web", "1.0", fixture.Image{Version: "1.0"})
	webTag := reg.Addr + "/acme/web:1.0"
	dir := t.TempDir()
	bad := filepath.Join(dir, "Download_Enter_05")
	require.NoError(t, os.WriteFile(bad, []byte("#!/bin/sh\n"), 0o755))
	noName := filepath.Join(dir, "backup.sh")
	require.NoError(t, os.WriteFile(noName, []byte("#!/bin/sh\n"), 0o755))
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"download script", []string{"-s", bad}, "--script " + bad + ": bad state script name"},
		{"unnamed script", []string{"-s", noName}, `"backup.sh": want STATE_(Enter|Leave|Error)_NN`},
		{"missing script", []string{"-s", filepath.Join(dir, "ArtifactInstall_Enter_01")}, "--script: open"},
		{"meta-data after --", []string{"--", "-m", "meta.json"}, "after --: unknown shorthand flag: 'm' in -m"},
		{"file after --", []string{"--", "--file", "x"}, "after --: unknown flag: --file"},
		{"format version 2", []string{"--", "-v", "2"}, "docker-artifact-gen writes format version 3 only"},
		{"word after --", []string{"--", "extra"}, `after --: "extra"`},
		{"bad provides after --", []string{"--", "-p", "nocolon"}, `--provides "nocolon": want KEY:VALUE`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "a.mender")
			code, _, stderr := run(append([]string{"-n", "x", "-t", "rpi4", "-o", out, webTag}, tc.args...)...)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, tc.want)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
			_, err := os.Stat(out)
			assert.True(t, os.IsNotExist(err))
		})
	}
}

func TestVersionAndCompletion(t *testing.T) {
	code, stdout, _ := run("--version")
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(stdout, "docker-artifact-gen "), stdout)

	code, stdout, _ = run("__complete", "--compression", "")
	assert.Equal(t, 0, code)
	for _, c := range []string{"gzip", "none", "lzma", "zstd"} {
		assert.Contains(t, stdout, c+"\n")
	}
	code, stdout, _ = run("__complete", "--compose", "")
	assert.Equal(t, 0, code)
	assert.Contains(t, stdout, ":16", "directories only") // cobra.ShellCompDirectiveFilterDirs
}
